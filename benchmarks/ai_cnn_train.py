"""Train the shipped low-level CNN of the ``ai_cnn`` detector, and its leave-one-generator-out out-of-fold logits.

    pip install '.[train]'                                   # torch (CPU) and onnx
    pixelsleuth models fetch mobilenet_v2_imagenet           # the initialisation of the shipped network
    python benchmarks/ai_data.py                             # feature cache + split list (if not there yet)
    python benchmarks/ai_cnn_train.py --network mnv2 --steps 200 --crop 128   # about 40 min on 2 cores; seeded
    python benchmarks/ai_train.py                            # refits the fusion, incl. the art+cnn variant

Two networks (``--network``), both fully convolutional, so they score the same 224x224 tiles as ``ai_artifact``:

* ``mnv2`` (shipped since 2026-12-03): ``MNV2Detector`` of benchmarks/ai_mnv2_net.py, MobileNetV2 blocks 0-16
  initialised from the ImageNet weights of the model registry and fine-tuned by us (LP-FT), 1.3M parameters.
* ``tiny`` (shipped before, and the network that needs no third-party weights even at training time):
  ``TinyResidualNet`` of benchmarks/ai_cnn_logo.py (about 85k parameters, trained from scratch): RGB plus a fixed
  Laplacian residual, five 3x3 conv/BN/ReLU blocks, global mean+max pooling, one logit (``--steps 600``).

1. Views: exactly the seeded views of benchmarks/ai_data.py for every item of benchmarks/ai_splits.json
   (``train0``, ``train1``, ``clean`` for training; ``clean``, ``jpeg75``, ``social``, ``swap`` for evaluation).
2. LOGO, the folds of benchmarks/ai_train.py: for each held-out generator G and half h, train on the training
   part's ``train0`` / ``train1`` / ``clean`` views (random sub-crops, class-balanced batches, flips), score
   the test part under every condition, and record the fold model's logit mean / sd on its real training views.
   Written to ``$AI_CACHE/cnn_oof.npz`` (read by ai_train.py).
3. Final model on every item: ``src/pixelsleuth/models/trained/ai_cnn.onnx`` and ``ai_cnn.json`` (its training
   record and the logit mean / sd on the real training views, which the fusion uses to standardise it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import ai_data as A  # noqa: E402
import ai_mnv2_net  # noqa: E402
from ai_cnn_logo import TinyResidualNet, score  # noqa: E402
from ai_cnn_logo import train as train_logo  # noqa: E402

from pixelsleuth.models.ai_common import normalise_size  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TRAINED = ROOT / "src/pixelsleuth/models/trained"
TRAIN_KEYS: tuple[str, ...] = ("train0", "train1", "clean")  # --extra-views adds extra0 ...
SEED = 20261201  # tiny; mnv2 uses ai_mnv2_net.SEED


def build_views(items: list[dict], extra: int = 0) -> dict[str, np.ndarray]:
    """The exact views of ai_data.extract (same per-item seed and call order).

    ``extra`` more training views per item (``extra0`` ...) come from a second seeded stream per item, so the cached
    views stay exactly as they were."""
    keys = [f"train{j}" for j in range(A.TRAIN_VIEWS)] + list(A.EVAL_CONDITIONS) + [f"extra{j}" for j in range(extra)]
    out = {k: np.zeros((len(items), 224, 224, 3), np.uint8) for k in keys}
    t0 = time.time()
    for i, r in enumerate(items):
        rng = np.random.default_rng([A.SEED, A._h(r["path"])])
        rgb, _ = normalise_size(A.load_rgb(r["path"]))
        for j in range(A.TRAIN_VIEWS):
            out[f"train{j}"][i] = A.train_view(rgb, r["label"], rng)
        for k, v in A.eval_views(rgb, r["label"], rng).items():
            out[k][i] = v
        rng2 = np.random.default_rng([A.SEED, A._h(r["path"]), 1])
        for j in range(extra):
            out[f"extra{j}"][i] = A.train_view(rgb, r["label"], rng2)
        if (i + 1) % 250 == 0:
            print(f"  views {i + 1}/{len(items)} ({time.time() - t0:.0f} s)", flush=True)
    return out


RGB_INPUT = True  # --residual-only sets False
RESIDUAL = "laplacian"  # --residual npr: the neighbouring-pixel-relationship residual (experiment)
TTA = False  # --tta sets True
NETWORK = "tiny"  # --network
LR, CROP = 1e-4, 128  # --lr, --crop (mnv2 only)


def score_views(net: TinyResidualNet, x: np.ndarray) -> np.ndarray:
    """Logits of uint8 views (n x 224 x 224 x 3); with --tta the mean of each view's and its mirror's logit."""
    s = ai_mnv2_net.score(net, x) if NETWORK == "mnv2" else score(net, x)
    if TTA:
        s = 0.5 * (s + score(net, np.ascontiguousarray(x[:, :, ::-1])))
    return s


def train(
    views: dict[str, np.ndarray], idx: np.ndarray, y: np.ndarray, steps: int, seed: int
) -> TinyResidualNet:
    """ai_cnn_logo's training loop on the TRAIN_KEYS views of ``idx``, seeded by ``seed``."""
    torch.manual_seed(seed)
    x = np.stack([views[k][idx] for k in TRAIN_KEYS], axis=1)  # n x V x 224 x 224 x 3
    if NETWORK == "mnv2":
        return ai_mnv2_net.train(x, y[idx], steps, seed, LR, CROP)
    return train_logo(x, y[idx], steps, np.random.default_rng(seed), rgb=RGB_INPUT, residual=RESIDUAL)


def real_stats(
    net: TinyResidualNet, views: dict[str, np.ndarray], idx: np.ndarray, y: np.ndarray
) -> list[float]:
    real = idx[y[idx] == 0]
    s = np.concatenate([score_views(net, views[k][real]) for k in TRAIN_KEYS])
    return [float(s.mean()), float(s.std() + 1e-6)]


def export(net: TinyResidualNet, path: Path) -> None:
    tmp = path.with_suffix(".onnx.tmp")
    torch.onnx.export(
        net,
        (torch.zeros(1, 3, 224, 224),),
        str(tmp),
        input_names=["image"],
        output_names=["logit"],
        dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "logit": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--network", choices=("mnv2", "tiny"), default="mnv2", help="see above (default: mnv2)")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: 200 for mnv2, 600 for tiny)")
    ap.add_argument("--lr", type=float, default=1e-4, help="mnv2 fine-tuning learning rate")
    ap.add_argument("--crop", type=int, default=128, help="mnv2 training sub-crop size")
    ap.add_argument(
        "--final-out",
        default=None,
        help="write the final model (.onnx and .json) here instead of src/pixelsleuth/models/trained/ai_cnn.*",
    )
    ap.add_argument("--no-final", action="store_true", help="only the LOGO out-of-fold logits")
    ap.add_argument("--no-logo", action="store_true", help="only the final model")
    ap.add_argument(
        "--inner-out",
        default=None,
        help="also score, with each fold's network, the items it neither trained on nor is tested on (the other "
        "generators' other-half prompts and the other-half real photos), and write everything to this .npz instead "
        "of cnn_oof.npz: the inputs of a nested stack (see ai_train.py --nested)",
    )
    ap.add_argument(
        "--extra-views",
        type=int,
        default=0,
        help="more seeded training views per item (train_view of ai_data.py on a second per-item stream); the "
        "cached evaluation views are unchanged (experiment, docs/bench/ai_generated.md)",
    )
    ap.add_argument("--seed-offset", type=int, default=0, help="added to every fold's training seed (seed spread)")
    ap.add_argument("--generators", default=None, help="comma-separated held-out generators (default: all)")
    ap.add_argument(
        "--out",
        default=None,
        help="write the out-of-fold logits here instead of $AI_CACHE/cnn_oof.npz",
    )
    ap.add_argument(
        "--residual-only",
        action="store_true",
        help="the network sees the Laplacian residual only, not the RGB values (experiment, docs/bench/ai_generated.md)",
    )
    ap.add_argument(
        "--tta",
        action="store_true",
        help="score each view and its horizontal mirror and average the two logits (test-time augmentation; the "
        "training flips mirrors too)",
    )
    ap.add_argument(
        "--residual",
        choices=("laplacian", "npr"),
        default="laplacian",
        help="the fixed residual beside the RGB input: the shipped Laplacian, or the neighbouring-pixel relationship "
        "of 2 x 2 blocks (experiment, docs/bench/ai_generated.md)",
    )
    a = ap.parse_args()
    global RGB_INPUT, TRAIN_KEYS, TTA, RESIDUAL, NETWORK, LR, CROP, SEED
    NETWORK, LR, CROP = a.network, a.lr, a.crop
    if a.steps is None:
        a.steps = 200 if NETWORK == "mnv2" else 600
    if NETWORK == "mnv2":
        SEED = ai_mnv2_net.SEED
        if a.residual_only or a.residual != "laplacian":
            ap.error("--residual-only / --residual apply to --network tiny only")
    RGB_INPUT = not a.residual_only
    RESIDUAL = a.residual
    TTA = a.tta
    TRAIN_KEYS = TRAIN_KEYS + tuple(f"extra{j}" for j in range(a.extra_views))
    torch.set_num_threads(2)
    t_all = time.time()
    items = json.loads(A.SPLITS.read_text())["items"]
    views = build_views(items, a.extra_views)
    y = np.array([it["label"] for it in items])
    group = np.array([it["group"] for it in items])
    half = np.array([it["half"] for it in items])
    paths = np.array([it["path"] for it in items])
    if not a.no_logo:
        arrays: dict[str, np.ndarray] = {}
        for gi, g in enumerate(A.GENERATORS):
            if a.generators and g not in a.generators.split(","):
                continue
            for h in (0, 1):
                t0 = time.time()
                tr = np.where(((y == 1) & (group != g) & (half == h)) | ((y == 0) & (half == h)))[0]
                te = np.where(((y == 1) & (group == g) & (half != h)) | ((y == 0) & (half != h)))[0]
                net = train(views, tr, y, a.steps, SEED + 10 * gi + h + a.seed_offset)
                arrays[f"stats_{g}_{h}"] = np.array(real_stats(net, views, tr, y))
                arrays[f"test_{g}_{h}"] = te
                for c in A.EVAL_CONDITIONS:
                    arrays[f"oof_{g}_{h}_{c}"] = score_views(net, views[c][te])
                if a.inner_out:
                    inn = np.where(((y == 1) & (group != g) & (half != h)) | ((y == 0) & (half != h)))[0]
                    arrays[f"inner_{g}_{h}"] = inn
                    for c in A.EVAL_CONDITIONS:
                        arrays[f"inner_{g}_{h}_{c}"] = score_views(net, views[c][inn])
                from pixelsleuth.bench.metrics import roc_auc

                auc = roc_auc(arrays[f"oof_{g}_{h}_clean"], y[te])
                print(f"  {g} half {h}: trained in {time.time() - t0:.0f} s, clean AUC {auc:.3f}", flush=True)
        A.CACHE.mkdir(parents=True, exist_ok=True)
        out = Path(a.inner_out or a.out or A.CACHE / "cnn_oof.npz")
        np.savez_compressed(out.with_suffix(".tmp.npz"), paths=paths, steps=a.steps, seed=SEED, **arrays)
        out.with_suffix(".tmp.npz").replace(out)
        print(f"wrote {out}")
    if not a.no_final:
        t0 = time.time()
        allidx = np.arange(len(items))
        net = train(views, allidx, y, a.steps, SEED + a.seed_offset)
        stats = real_stats(net, views, allidx, y)
        onnx_path = Path(a.final_out).with_suffix(".onnx") if a.final_out else TRAINED / "ai_cnn.onnx"
        export(net, onnx_path)
        sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
        common = "by benchmarks/ai_cnn_train.py on every item of benchmarks/ai_splits.json; input RGB 0-255 NCHW "
        common += "float32, any size (224x224 tiles at run time), output one logit (generated > 0)."
        meta: dict = {"network": NETWORK, "steps": a.steps}
        if NETWORK == "mnv2":
            meta["about"] = (
                "MobileNetV2 blocks 0-16 + mean pooling + linear logit (benchmarks/ai_mnv2_net.py MNV2Detector), "
                "initialised from the ImageNet weights of the registry model mobilenet_v2_imagenet (torchvision, "
                "BSD-3-Clause) and fine-tuned (linear probe, then every layer) " + common
            )
            meta.update({"init": "mobilenet_v2_imagenet (BSD-3-Clause)", "lr": LR, "crop": CROP})
        else:
            meta["about"] = "Tiny residual CNN (benchmarks/ai_cnn_logo.py TinyResidualNet), trained from scratch "
            meta["about"] += common
            meta["residual"] = RESIDUAL
        meta.update({
            "seed": SEED + a.seed_offset,
            "train_views": list(TRAIN_KEYS),
            "real_logit_mean_sd": stats,
            "sha256": sha,
            "n_params": int(sum(p.numel() for p in net.parameters())),
        })  # fmt: skip
        onnx_path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
        print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e3:.0f} kB) in {time.time() - t0:.0f} s")
    print(f"total {time.time() - t_all:.0f} s")


if __name__ == "__main__":
    main()
