"""Train the shipped ``manip_cnn`` localization network on synthetic forgeries of held-apart training photos.

    pip install '.[train]'                                      # torch (CPU) and onnx
    pixelsleuth models fetch mobilenet_v2_imagenet              # the encoder's initialisation
    bash benchmarks/manip_cnn_data.sh /tmp/MC                   # seeded synthetic sets (train split only, ~8 min)
    python benchmarks/manip_cnn_train.py --data /tmp/MC --steps 4000 --type-weight color=2 --type-weight contrast=2 \
        --type-weight inpaint_patch=2 --type-weight resample=2 --type-weight sharpen=2   # shipped: ~20-35 min; seeded

Networks (``--network``, benchmarks/manip_cnn_model.py): ``mnv2`` (shipped since 2026-12-03), ``ManipMNV2``, an
ImageNet-initialised MobileNetV2 encoder (its learning rate ``--encoder-lr-scale`` x ``--lr``, batch-norm statistics
frozen) beside a residual stem and decoder trained from scratch; ``small`` (shipped before), ``ManipNet``, trained
from scratch (``--steps 3000 --val-every 500``).

Data: every set under ``--data`` (folders written by ``pixelsleuth synth --split train``: camera photos as PNG, as
JPEG q90 and q75, web and BSDS photos as PNG and JPEG q85). Only photos of the synthesizer's ``train`` split are
used, so the ``test`` split that docs/bench/fusion.md reports on is never seen. The training photos are further
split by source photo (``group``): 15% of groups (:func:`is_val`) are held out for validation and calibration.

Training (seeded numpy and torch generators, CPU, 2 threads): batches of 8 random 192x192 crops; a forged image is
drawn 4 times out of 5 (``--type-weight TYPE=W`` draws forgeries of TYPE W times as often; the shipped network
weights the five types weakest on validation by 2), its crop centred near a random tampered pixel 3 times out of 4
(else anywhere); random horizontal/vertical flips and 90-degree turns; 3 crops in 10 get a global gain/offset (exposure); 1 crop in 5 is
re-encoded as JPEG at a random quality 65-95 (robustness). Loss: binary
cross-entropy on the mask area-averaged to the network's 1/4 resolution, plus (1 - soft F1) over the forged crops.
AdamW, lr 2e-3 with cosine decay. Every ``--val-every`` steps (400 for mnv2) the network is scored on 200
validation images; the weights with the best mean F1-best are kept (a 7000-step run peaked near step 3000 and then over-fitted: docs/bench/fusion.md).

Calibration on the validation groups (full 512x512 images, never trained on):

* ``map_offset``: the logit shift that puts the pixel threshold maximising mean per-image F1 at 0.5, so the
  shipped map's 0.5 is a decision threshold;
* the image score is the mean of the top 1% of the calibrated map (``peak``), mapped by Platt scaling fitted on
  validation forgeries vs validation authentic controls.

Writes ``src/pixelsleuth/models/trained/manip_cnn.onnx`` and ``manip_cnn.json`` (training record, calibration,
validation metrics per forgery type).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from ai_train import platt_fit  # noqa: E402
from manip_cnn_model import WIDTHS, ManipMNV2, ManipNet, load_imagenet_encoder  # noqa: E402

from pixelsleuth.detectors.manip_cnn import peak, peak_logit  # noqa: E402
from pixelsleuth.models.ai_common import calibrated  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TRAINED = ROOT / "src/pixelsleuth/models/trained"
SEED = 20261202
CROP = 192
BATCH = 8
VAL_PERCENT = 15
TOP_FRACTION = 0.01


def is_val(group: str) -> bool:
    """15% of the training photos (by a hash of the source photo's stem) are held out for validation."""
    return int(hashlib.sha256(("val:" + group).encode()).hexdigest()[:8], 16) % 100 < VAL_PERCENT


def load_sets(root: Path) -> list[dict[str, Any]]:
    rows = []
    for man in sorted(root.glob("*/manifest.jsonl")):
        for line in man.read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("split") != "train":
                raise SystemExit(
                    f"{man}: row {r['id']} is from split {r.get('split')!r}; train only on 'train'"
                )
            r["dir"] = str(man.parent)
            rows.append(r)
    return rows


def read_item(r: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    img = cv2.imread(str(Path(r["dir"]) / r["image"]), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read {r['image']}")
    rgb = np.ascontiguousarray(img[:, :, ::-1])
    mk = cv2.imread(str(Path(r["dir"]) / r["mask"]), cv2.IMREAD_GRAYSCALE)
    mask = (mk > 127) if mk is not None else np.zeros(rgb.shape[:2], bool)
    return rgb, mask


def sample_crop(
    rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size: int = CROP
) -> tuple[np.ndarray, np.ndarray]:
    h, w = mask.shape
    if h < size or w < size:
        ph, pw = max(0, size - h), max(0, size - w)
        rgb = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect")
        mask = np.pad(mask, ((0, ph), (0, pw)))
        h, w = mask.shape
    if mask.any() and rng.random() < 0.75:
        ys, xs = np.nonzero(mask)
        k = int(rng.integers(len(ys)))
        cy = int(ys[k] + rng.integers(-size // 3, size // 3 + 1))
        cx = int(xs[k] + rng.integers(-size // 3, size // 3 + 1))
        y0 = min(max(0, cy - size // 2), h - size)
        x0 = min(max(0, cx - size // 2), w - size)
    else:
        y0, x0 = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    c, m = rgb[y0 : y0 + size, x0 : x0 + size], mask[y0 : y0 + size, x0 : x0 + size]
    if rng.random() < 0.5:
        c, m = c[:, ::-1], m[:, ::-1]
    if rng.random() < 0.5:
        c, m = c[::-1], m[::-1]
    if rng.random() < 0.5:
        c, m = np.rot90(c), np.rot90(m)
    c = np.ascontiguousarray(c)
    if rng.random() < 0.3:  # a global exposure change leaves local inconsistencies where they were
        g, o = float(rng.uniform(0.85, 1.15)), float(rng.uniform(-10, 10))
        c = np.clip(c.astype(np.float32) * g + o, 0, 255).round().astype(np.uint8)
    if rng.random() < 0.2:
        q = int(rng.integers(65, 96))
        ok, buf = cv2.imencode(".jpg", c[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        c = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])
    return c, np.ascontiguousarray(m)


def quarter(mask: np.ndarray) -> np.ndarray:
    h, w = mask.shape[-2:]
    return mask.reshape(*mask.shape[:-2], h // 4, 4, w // 4, 4).mean(axis=(-1, -3))


def loss_fn(logits: torch.Tensor, target: torch.Tensor, forged: torch.Tensor) -> torch.Tensor:
    bce = nn.functional.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    if forged.any():
        pf, tf = p[forged], target[forged]
        inter = (pf * tf).sum(dim=(1, 2, 3))
        f1 = 2 * inter / (pf.sum(dim=(1, 2, 3)) + tf.sum(dim=(1, 2, 3)) + 1e-3)
        return bce + (1 - f1).mean()
    return bce


def predict(net: nn.Module, rgb: np.ndarray) -> np.ndarray:
    """Per-pixel logits at 1/4 resolution of one uint8 RGB image (padded to a multiple of 16)."""
    h, w = rgb.shape[:2]
    ph, pw = (-h) % 16, (-w) % 16
    x = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else rgb
    with torch.no_grad():
        t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))[None].astype(np.float32))
        out = net(t)[0, 0].numpy()
    return out[: h // 4, : w // 4]


def f1_best_and_at(prob: np.ndarray, gt: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Pixel F1 of ``prob >= t`` for each threshold t (gt boolean, same shape)."""
    out = np.zeros(len(thresholds))
    g = gt.ravel()
    p = prob.ravel()
    for i, t in enumerate(thresholds):
        pr = p >= t
        tp = float((pr & g).sum())
        d = float(pr.sum() + g.sum())
        out[i] = 2 * tp / d if d > 0 else 0.0
    return out


def validate(net: nn.Module, val: list[dict[str, Any]]) -> dict[str, Any]:
    from pixelsleuth.bench.metrics import roc_auc

    net.eval()
    thr = np.linspace(0.02, 0.98, 49)
    logits_all = []
    for r in val:
        rgb, mask = read_item(r)
        lg = predict(net, rgb)
        gt = quarter(mask[: lg.shape[0] * 4, : lg.shape[1] * 4].astype(np.float32)) >= 0.5
        logits_all.append((r, lg, gt))
    net.train()
    # the threshold maximising mean F1 over the validation forgeries -> logit offset
    curves = [f1_best_and_at(1 / (1 + np.exp(-lg)), gt, thr) for r, lg, gt in logits_all if r["label"] == 1]
    mean_curve = np.mean(curves, axis=0)
    t_best = float(thr[int(np.argmax(mean_curve))])
    offset = -math.log(t_best / (1 - t_best))
    types: dict[str, list[tuple[float, float]]] = {}
    peaks, ys = [], []
    for r, lg, gt in logits_all:
        prob = 1 / (1 + np.exp(-(lg + offset)))
        peaks.append(peak(prob, TOP_FRACTION))
        ys.append(int(r["label"]))
        if r["label"] == 1:
            c = f1_best_and_at(prob, gt, np.concatenate([[0.5], thr]))
            types.setdefault(r["type"], []).append((float(c[1:].max()), float(c[0])))
    pk, yy = np.array(peaks), np.array(ys)
    zk = np.array([peak_logit(v) for v in pk])
    a, b = platt_fit(zk, yy)
    auc = float(roc_auc(pk, yy))
    by_type = {
        k: {
            "n": len(v),
            "f1_best": round(float(np.mean([x[0] for x in v])), 4),
            "f1_at_0.5": round(float(np.mean([x[1] for x in v])), 4),
        }
        for k, v in sorted(types.items())
    }
    fa = float(np.mean(calibrated(zk, a, b)[yy == 0] >= 0.5)) if (yy == 0).any() else float("nan")
    return {
        "map_offset": round(offset, 4),
        "best_threshold": t_best,
        "platt": [round(a, 5), round(b, 5)],
        "image_auc": round(auc, 4),
        "authentic_flagged_at_0.5": round(fa, 4),
        "n_forged": int((yy == 1).sum()),
        "n_authentic": int((yy == 0).sum()),
        "mean_f1_best": round(float(np.mean([v["f1_best"] for v in by_type.values()])), 4),
        "mean_f1_at_0.5": round(float(np.mean([v["f1_at_0.5"] for v in by_type.values()])), 4),
        "by_type": by_type,
    }


def parse_type_weights(specs: list[str]) -> dict[str, float]:
    """``["color=2", "sharpen=1.5"]`` -> ``{"color": 2.0, "sharpen": 1.5}``; a clear error on a malformed entry."""
    out: dict[str, float] = {}
    for s in specs:
        name, sep, val = s.partition("=")
        try:
            w = float(val)
        except ValueError:
            w = -1.0
        if not sep or not name or not w > 0:
            raise SystemExit(f"--type-weight expects TYPE=W with W > 0, got {s!r}")
        out[name] = w
    return out


def export(net: nn.Module, path: Path) -> None:
    net.eval()
    tmp = path.with_suffix(".onnx.tmp")
    torch.onnx.export(
        net,
        (torch.zeros(1, 3, 256, 256),),
        str(tmp),
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={
            "image": {0: "batch", 2: "height", 3: "width"},
            "logits": {0: "batch", 2: "h4", 3: "w4"},
        },
        opset_version=17,
        dynamo=False,
    )
    tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path)
    ap.add_argument(
        "--list-val",
        type=Path,
        nargs="+",
        metavar="PHOTOS",
        help="print the train-split photos under these folders whose group is held out for validation, and exit "
        "(the fusion is fitted on forgeries of these photos: docs/bench/fusion.md)",
    )
    ap.add_argument("--steps", type=int, default=None, help="default: 2400 for mnv2, 3000 for small")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--ckpt", type=Path, default=Path("/tmp/manip_cnn_ckpt.pt"))
    ap.add_argument("--val-every", type=int, default=None, help="default: 400 for mnv2, 500 for small")
    ap.add_argument("--max-val", type=int, default=600, help="validation images (a fixed, seeded choice)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument(
        "--network",
        choices=("small", "mnv2"),
        default="mnv2",
        help="mnv2 (shipped): ManipMNV2, an ImageNet-initialised MobileNetV2 encoder (needs `pixelsleuth models "
        "fetch mobilenet_v2_imagenet`); small: ManipNet from scratch (shipped before 2026-12-03)",
    )
    ap.add_argument("--encoder-lr-scale", type=float, default=0.1, help="mnv2: encoder lr = --lr x this")
    ap.add_argument(
        "--type-weight",
        action="append",
        default=[],
        metavar="TYPE=W",
        help="draw forgeries of TYPE W times as often as the others (repeatable; default: all types equally often "
        "per image)",
    )
    ap.add_argument(
        "--out", type=Path, default=None, help="write NAME.onnx / NAME.json here instead of the shipped manip_cnn.*"
    )
    a = ap.parse_args()
    if a.list_val:
        from pixelsleuth.bench.synth import list_photos

        for p in list_photos(a.list_val, "train"):
            if is_val(p.stem):
                print(p)
        return
    if a.data is None:
        ap.error("--data is required")
    if a.steps is None:
        a.steps = 2400 if a.network == "mnv2" else 3000
    if a.val_every is None:
        a.val_every = 400 if a.network == "mnv2" else 500
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    rows = load_sets(a.data)
    train_rows = [r for r in rows if not is_val(r["group"])]
    val_rows = [r for r in rows if is_val(r["group"])]
    vsel = np.random.default_rng(SEED + 1).permutation(len(val_rows))[: a.max_val]
    val_rows = [val_rows[i] for i in sorted(vsel)]
    print(f"{len(rows)} rows: {len(train_rows)} train, {len(val_rows)} validation (used)", flush=True)
    t0 = time.time()
    imgs, masks = [], []
    for i, r in enumerate(train_rows):
        rgb, m = read_item(r)
        imgs.append(rgb)
        masks.append(np.packbits(m, axis=None))
        if (i + 1) % 1000 == 0:
            print(f"  loaded {i + 1}/{len(train_rows)} ({time.time() - t0:.0f} s)", flush=True)
    shapes = [im.shape[:2] for im in imgs]
    forged = np.array([i for i, r in enumerate(train_rows) if r["label"] == 1])
    auth = np.array([i for i, r in enumerate(train_rows) if r["label"] == 0])
    print(f"  {len(forged)} forged, {len(auth)} authentic training images", flush=True)
    type_w = parse_type_weights(a.type_weight)
    p_forged = None
    if type_w:
        known = {train_rows[i]["type"] for i in forged}
        if set(type_w) - known:
            raise SystemExit(f"--type-weight: no forgeries of type {sorted(set(type_w) - known)}; types: {sorted(known)}")
        w = np.array([type_w.get(train_rows[i]["type"], 1.0) for i in forged])
        p_forged = w / w.sum()
        print(f"  forgery types weighted: {type_w}", flush=True)

    net: nn.Module
    if a.network == "mnv2":
        net = ManipMNV2()
        load_imagenet_encoder(net)
        enc = {id(q) for q in net.encoder_parameters()}
        groups = [
            {"params": net.encoder_parameters(), "lr": a.lr * a.encoder_lr_scale},
            {"params": [q for q in net.parameters() if id(q) not in enc], "lr": a.lr},
        ]
        opt = torch.optim.AdamW(groups, weight_decay=1e-4)
    else:
        net = ManipNet()
        opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, a.steps) / a.steps)) * min(1.0, (s + 1) / 100)
    )
    start = 0
    if a.resume and a.ckpt.exists():
        ck = torch.load(a.ckpt, weights_only=False)
        net.load_state_dict(ck["net"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        rng = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
        start = ck["step"]
        print(f"resumed at step {start}", flush=True)
    history = []
    best: tuple[float, int, dict[str, Any]] | None = None
    run = 0.0
    t0 = time.time()
    net.train()
    for step in range(start, a.steps):
        xs, ms, fl = [], [], []
        for _ in range(BATCH):
            if rng.random() < 0.8:
                i = int(rng.choice(forged)) if p_forged is None else int(rng.choice(forged, p=p_forged))
            else:
                i = int(rng.choice(auth))
            m = np.unpackbits(masks[i], count=shapes[i][0] * shapes[i][1]).reshape(shapes[i]).astype(bool)
            c, cm = sample_crop(imgs[i], m, rng)
            xs.append(c.transpose(2, 0, 1))
            ms.append(quarter(cm.astype(np.float32)))
            fl.append(bool(cm.any()))
        x = torch.from_numpy(np.stack(xs).astype(np.float32))
        y = torch.from_numpy(np.stack(ms)[:, None].astype(np.float32))
        loss = loss_fn(net(x), y, torch.tensor(fl))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        lv = float(loss.detach())
        run = 0.98 * run + 0.02 * lv if step > start else lv
        if (step + 1) % 50 == 0:
            print(f"step {step + 1}/{a.steps} loss {run:.4f} ({time.time() - t0:.0f} s)", flush=True)
        if (step + 1) % 250 == 0 or step + 1 == a.steps:
            torch.save(
                {
                    "net": net.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "rng": rng,
                    "torch_rng": torch.get_rng_state(),
                    "step": step + 1,
                },
                a.ckpt.with_suffix(".tmp"),
            )
            a.ckpt.with_suffix(".tmp").replace(a.ckpt)
        if (step + 1) % a.val_every == 0 or step + 1 == a.steps:
            v = validate(net, val_rows[:200])
            history.append({"step": step + 1, "mean_f1_best": v["mean_f1_best"], "image_auc": v["image_auc"]})
            print(f"  val@{step + 1} (200 images): {json.dumps(history[-1])}", flush=True)
            if best is None or v["mean_f1_best"] > best[0]:
                best = (v["mean_f1_best"], step + 1, copy.deepcopy(net.state_dict()))
    assert best is not None
    print(f"keeping the weights of step {best[1]} (validation mean F1-best {best[0]:.4f})", flush=True)
    net.load_state_dict(best[2])
    v = validate(net, val_rows)
    print(json.dumps(v, indent=1), flush=True)
    TRAINED.mkdir(parents=True, exist_ok=True)
    onnx_path = a.out.with_suffix(".onnx") if a.out else TRAINED / "manip_cnn.onnx"
    export(net, onnx_path)
    how = (
        "ManipMNV2, a MobileNetV2 encoder initialised from the ImageNet weights of the registry model "
        "mobilenet_v2_imagenet (torchvision, BSD-3-Clause) with a residual stem and decoder, fine-tuned"
        if a.network == "mnv2"
        else "ManipNet, trained from scratch"
    )
    meta = {
        "about": f"Manipulation localization network (benchmarks/manip_cnn_model.py {how}) by "
        "benchmarks/manip_cnn_train.py on synthetic forgeries of the synthesizer's train-split photos; input RGB "
        "0-255 NCHW float32 (pad to a multiple of 16), output per-pixel logits at 1/4 resolution.",
        "network": a.network,
        "lr": a.lr,
        **({"encoder_lr_scale": a.encoder_lr_scale} if a.network == "mnv2" else {"widths": list(WIDTHS)}),
        "steps": a.steps,
        **({"type_weights": type_w} if type_w else {}),
        "seed": SEED,
        "crop": CROP,
        "batch": BATCH,
        "sets": sorted({Path(r["dir"]).name for r in rows}),
        "n_train_images": len(train_rows),
        "top_fraction": TOP_FRACTION,
        "validation": v,
        "history": history,
        "kept_step": best[1],
        "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "n_params": int(sum(p.numel() for p in net.parameters())),
        "train_seconds": round(time.time() - t0),
    }
    onnx_path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
