"""Train the copy-detection global descriptor and export it to ONNX (seeded, CPU, about 30 minutes on 2 cores).

    pixelsleuth models fetch mobilenet_v2_imagenet          # ImageNet MobileNetV2 weights (training only)
    pip install '.[train]'                                   # torch (CPU) and onnx
    python benchmarks/descriptor_train.py --data ../shared/data --out src/pixelsleuth/provenance/trained

Model: MobileNetV2 layers (benchmarks/descriptor_model.py) up to the 320-channel stage, GeM pooling and a linear
projection to 128-D, input 160 x 160 RGB (ImageNet normalisation), L2-normalised output. The first 14 layers keep
their ImageNet weights (frozen); the last four inverted-residual blocks, GeM and the projection are trained with a
symmetric InfoNCE loss (temperature 0.05) between a clean view of each training image and a copy-style view of it
(benchmarks/copy_common.make_query: 1-3 of crop, resize, JPEG, rotation, flips, colour jitter, grayscale, text,
emoji, blur, padding, perspective, screenshot; then JPEG), the other images of the batch being the negatives.
Because the frozen part is fixed, its output for a fixed pool of views is computed once and cached, and training
runs on the cache.

Training images are disjoint from every image the copy benchmarks query, use as non-copy sources or as references
that have queries (the A and B splits of photos/, the COVERAGE originals): aigen/ (all generators), the CASIA
samples, and 300 procedural scenes drawn by pixelsleuth.samples.scene. The aigen images are distractor references
of the copy benchmarks (indexed, never queried); docs/bench/copy_detection.md says so beside the numbers. The file
list is written to benchmarks/descriptor_data.json.

The held-out check at the end measures descriptor-only retrieval (no hashes, no local features) on the copy
benchmark's split-A references with one copy query each (a different seed from the benchmark's), for the trained
descriptor and the hand-built dctgrid descriptor side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
import copy_common as C  # noqa: E402
from descriptor_model import Descriptor, load_imagenet  # noqa: E402

from pixelsleuth.provenance import descriptors as D  # noqa: E402

SEED = 20261201
SIZE = D.TRAINED_SIZE  # 160
FROZEN = 14  # layers 0..13 keep ImageNet weights
DEPTH = 18  # layers 0..17 (up to the 320-channel block); the 1280-channel head is dropped
LISTS = Path(__file__).with_name("descriptor_data.json")
N_PROCEDURAL = 300
PROC_SEED0 = 50_000


def training_files(data: Path) -> list[str]:
    files = []
    for g in sorted((data / "aigen").iterdir()):
        if g.is_dir():
            files += [str(p.relative_to(data)) for p in sorted(g.glob("*.png"))]
    casia = data / "forgery" / "casia2_samples"
    files += [
        str(p.relative_to(data))
        for p in sorted(casia.iterdir())
        if p.suffix.lower() in {".jpg", ".tif", ".png"} and not p.stem.endswith("_gt")
    ]
    # procedural scenes drawn by pixelsleuth itself (pixelsleuth.samples.scene), for variety beyond 41 prompts
    files += [f"procedural:{PROC_SEED0 + i}" for i in range(N_PROCEDURAL)]
    return files


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """The run-time preprocessing itself (pixelsleuth.provenance.descriptors.trained_input), as CHW float32."""
    return D.trained_input(rgb)[0]


def load_any(data: Path, rel: str) -> np.ndarray:
    from PIL import Image

    if rel.startswith("procedural:"):
        from pixelsleuth.samples import scene

        return (np.clip(scene(int(rel.split(":", 1)[1])), 0, 1) * 255 + 0.5).astype(np.uint8)

    im = Image.open(data / rel)
    a = np.asarray(im.convert("RGB"))
    h, w = a.shape[:2]
    s = C.MAX_SIDE / max(h, w)
    if s < 1:
        a = cv2.resize(a, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(a)


def make_views(data: Path, files: list[str], n_views: int, rng: np.random.Generator) -> np.ndarray:
    """(N, 1 + n_views, 3, SIZE, SIZE) float16: view 0 is the clean image, the others copy-style queries."""
    out = np.zeros((len(files), 1 + n_views, 3, SIZE, SIZE), np.float16)
    t0 = time.time()
    for i, rel in enumerate(files):
        img = load_any(data, rel)
        out[i, 0] = preprocess(img)
        for v in range(n_views):
            q, _ = C.make_query(img, rng)
            out[i, 1 + v] = preprocess(q)
        if (i + 1) % 100 == 0:
            print(f"  views {i + 1}/{len(files)} ({time.time() - t0:.0f} s)", flush=True)
    return out


@torch.no_grad()
def frozen_maps(model: Descriptor, views: np.ndarray, batch: int = 64) -> torch.Tensor:
    head = model.features[:FROZEN].eval()
    flat = views.reshape(-1, 3, SIZE, SIZE)
    maps = []
    for s in range(0, flat.shape[0], batch):
        maps.append(head(torch.from_numpy(flat[s : s + batch].astype(np.float32))).to(torch.float16))
    m = torch.cat(maps)
    return m.reshape(views.shape[0], views.shape[1], *m.shape[1:])


def tail_forward(model: Descriptor, maps: torch.Tensor) -> torch.Tensor:
    x = model.features[FROZEN:](maps.float())
    return F.normalize(model.proj(model.pool(x)), dim=1)


def train(
    model: Descriptor, maps: torch.Tensor, steps: int, batch: int, rng: np.random.Generator
) -> list[float]:
    params = (
        list(model.features[FROZEN:].parameters())
        + list(model.pool.parameters())
        + list(model.proj.parameters())
    )
    opt = torch.optim.AdamW(params, lr=3e-4, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-4, total_steps=steps, pct_start=0.1)
    n, nv = maps.shape[0], maps.shape[1] - 1
    losses = []
    model.features[FROZEN:].train()
    t0 = time.time()
    for step in range(steps):
        idx = rng.choice(n, size=min(batch, n), replace=False)
        vi = rng.integers(1, nv + 1, size=idx.size)
        a = tail_forward(model, maps[idx, 0])
        b = tail_forward(model, maps[idx, vi])
        logits = a @ b.T / 0.05
        target = torch.arange(idx.size)
        loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if (step + 1) % 25 == 0:
            print(
                f"  step {step + 1}/{steps} loss {np.mean(losses[-25:]):.3f} ({time.time() - t0:.0f} s)",
                flush=True,
            )
    model.eval()
    return losses


class Exportable(torch.nn.Module):
    def __init__(self, model: Descriptor) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def export(model: Descriptor, path: Path) -> None:
    model.eval()
    dummy = torch.zeros(1, 3, SIZE, SIZE)
    torch.onnx.export(
        Exportable(model),
        (dummy,),
        str(path),
        input_names=["image"],
        output_names=["descriptor"],
        dynamic_axes={"image": {0: "batch"}, "descriptor": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def store_weights_fp16(src: Path, dst: Path) -> None:
    """Store the float32 weight tensors as float16 followed by a Cast to float32: half the file size; onnxruntime
    folds the casts when it loads the model, so inference is float32 and as fast (descriptors agree with the
    float32 export to cosine > 0.9999)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(src))
    g = m.graph
    inits, casts = [], []
    for init in g.initializer:
        a = numpy_helper.to_array(init)
        if a.dtype == np.float32 and a.size > 16:
            inits.append(numpy_helper.from_array(a.astype(np.float16), init.name + "__fp16"))
            casts.append(helper.make_node("Cast", [init.name + "__fp16"], [init.name], to=TensorProto.FLOAT))
        else:
            inits.append(init)
    del g.initializer[:]
    g.initializer.extend(inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))


def heldout_check(data: Path, onnx_path: Path, n: int, seed: int) -> dict:
    """Descriptor-only retrieval on split-A references, one copy query each: recall@1 / @10, trained vs dctgrid."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    refs = C.data_lists()["A_references"][:n]
    rng = np.random.default_rng(seed)

    def trained(rgb: np.ndarray) -> np.ndarray:
        v = sess.run(None, {"image": preprocess(rgb)[None]})[0][0]
        return v / (np.linalg.norm(v) + 1e-8)

    R = {"trained": [], "dctgrid": []}
    Q = {"trained": [], "dctgrid": []}
    for rel in refs:
        img = C.load(rel)
        q, _ = C.make_query(img, rng)
        R["trained"].append(trained(img))
        Q["trained"].append(trained(q))
        R["dctgrid"].append(D._handmade(img))
        Q["dctgrid"].append(D._handmade(q))
    out = {"n_queries": len(refs)}
    for k in R:
        sims = np.stack(Q[k]) @ np.stack(R[k]).T
        rank = (sims > np.diag(sims)[:, None]).sum(axis=1)
        out[k] = {"recall@1": float((rank < 1).mean()), "recall@10": float((rank < 10).mean())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument(
        "--weights", type=Path, default=None, help="mobilenet_v2-b0353104.pth (default: the registry cache)"
    )
    ap.add_argument("--out", type=Path, default=Path("src/pixelsleuth/provenance/trained"))
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--check-n", type=int, default=530)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training images (smoke test)")
    ap.add_argument(
        "--check-only", type=Path, default=None, help="only run the held-out check on this ONNX file"
    )
    a = ap.parse_args()
    if a.check_only:
        C.DATA = a.data.resolve()
        print(json.dumps(heldout_check(a.data, a.check_only, a.check_n, SEED + 1), indent=1))
        return
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    rng = np.random.default_rng(SEED)
    C.DATA = a.data.resolve()
    weights = a.weights
    if weights is None:
        from pixelsleuth.models.registry import model_path

        weights = model_path("mobilenet_v2_imagenet")
    files = training_files(a.data)
    if a.limit:
        files = files[: a.limit]
    else:
        LISTS.write_text(json.dumps({"seed": SEED, "files": files}, indent=1) + "\n")
    print(f"training images: {len(files)}", flush=True)
    model = Descriptor(DEPTH)
    load_imagenet(model, str(weights))
    for p in model.features[:FROZEN].parameters():
        p.requires_grad = False
    t0 = time.time()
    views = make_views(a.data, files, a.views, rng)
    print(f"views ready ({time.time() - t0:.0f} s)", flush=True)
    t0 = time.time()
    maps = frozen_maps(model, views)
    del views
    print(f"frozen maps {tuple(maps.shape)} ({time.time() - t0:.0f} s)", flush=True)
    losses = train(model, maps, a.steps, a.batch, rng)
    a.out.mkdir(parents=True, exist_ok=True)
    onnx_path = a.out / "descriptor.onnx"
    tmp = onnx_path.with_suffix(".onnx.tmp")
    export(model, tmp)
    store_weights_fp16(tmp, tmp)
    tmp.replace(onnx_path)
    check = heldout_check(a.data, onnx_path, a.check_n, SEED + 1)
    info = {
        "seed": SEED,
        "size": SIZE,
        "frozen_layers": FROZEN,
        "depth": DEPTH,
        "views": a.views,
        "steps": a.steps,
        "batch": a.batch,
        "n_train_images": len(files),
        "final_loss": float(np.mean(losses[-25:])),
        "heldout_check": check,
    }
    if not a.limit:  # smoke tests leave the recorded results alone
        (Path(__file__).with_name("descriptor_train_results.json")).write_text(
            json.dumps(info, indent=1) + "\n"
        )
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
