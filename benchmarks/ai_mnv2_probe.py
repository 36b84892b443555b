"""Probe (not shipped): do frozen ImageNet MobileNetV2 features carry a generator trace that transfers to unseen
generators? Leave-one-generator-out, the folds and views of benchmarks/ai_cnn_train.py / ai_train.py.

    pixelsleuth models fetch mobilenet_v2_imagenet
    python benchmarks/ai_mnv2_probe.py --out /tmp/ai_mnv2_probe.json

For every view (train0, train1 and the four evaluation conditions) the 224x224 crop goes through the ImageNet
MobileNetV2 (benchmarks/descriptor_model.py, weights from the model registry); the outputs of several blocks are
globally mean-pooled. For each depth and each fold a class-balanced logistic regression on standardised features
(trained on the training part's train0 / train1 / clean views) scores the held-out generator's test items. Printed
next to the constant-score baseline (AUC 0.5). This only decides whether fine-tuning an ImageNet-initialised network
is worth its CPU time; shipping frozen third-party weights would not be allowed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import ai_data as A  # noqa: E402
from ai_cnn_train import build_views  # noqa: E402
from descriptor_model import mobilenet_v2_features  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from pixelsleuth.bench.metrics import roc_auc  # noqa: E402
from pixelsleuth.models.registry import model_files  # noqa: E402

DEPTHS = (4, 7, 11, 14, 17, 19)  # after features[:d]
MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


def load_net() -> torch.nn.Sequential:
    net = mobilenet_v2_features()
    path = model_files("mobilenet_v2_imagenet")["mobilenet_v2-b0353104.pth"]
    sd = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict({k[len("features.") :]: v for k, v in sd.items() if k.startswith("features.")})
    return net.eval()


@torch.no_grad()
def feats(net: torch.nn.Sequential, x: np.ndarray) -> dict[int, np.ndarray]:
    out: dict[int, list[np.ndarray]] = {d: [] for d in DEPTHS}
    for s in range(0, len(x), 32):
        b = torch.from_numpy(((x[s : s + 32].astype(np.float32) - MEAN) / STD).transpose(0, 3, 1, 2).copy())
        for i, layer in enumerate(net):
            b = layer(b)
            if i + 1 in out:
                out[i + 1].append(b.mean(dim=(2, 3)).numpy())
    return {d: np.concatenate(v) for d, v in out.items()}


def fold_lr(
    F: dict, d: int, c: float, tr: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LogisticRegression]:
    """A class-balanced logistic regression on the standardised depth-``d`` features of the training views of
    ``tr``; returns the training features, their labels, and the standardisation mean / sd with the model."""
    xt = np.concatenate([F[(k, d)][tr] for k in ("train0", "train1", "clean")])
    yt = np.concatenate([y[tr]] * 3)
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit((xt - mu) / sd, yt)
    return xt[yt == 0], mu, sd, lr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/ai_mnv2_probe.json")
    ap.add_argument("--cache", default=str(A.CACHE / "feats_mnv2.npz"))
    ap.add_argument("--c", default="0.01,0.1,1")
    ap.add_argument(
        "--oof-out",
        default=None,
        help="write the out-of-fold logits of --oof-depth / --oof-c in the format of ai_cnn_train.py's cnn_oof.npz "
        "(for ai_train.py --cnn-file)",
    )
    ap.add_argument("--oof-depth", type=int, default=17)
    ap.add_argument("--oof-c", type=float, default=0.01)
    a = ap.parse_args()
    torch.set_num_threads(2)
    items = json.loads(A.SPLITS.read_text())["items"]
    y = np.array([it["label"] for it in items])
    group = np.array([it["group"] for it in items])
    half = np.array([it["half"] for it in items])
    keys = ("train0", "train1", *A.EVAL_CONDITIONS)
    cache = Path(a.cache)
    if cache.exists():
        z = np.load(cache)
        F = {(k, d): z[f"{k}_{d}"] for k in keys for d in DEPTHS}
    else:
        views = build_views(items)
        net = load_net()
        F = {}
        t0 = time.time()
        for k in keys:
            for d, v in feats(net, views[k]).items():
                F[(k, d)] = v
            print(f"  {k}: {time.time() - t0:.0f} s", flush=True)
        np.savez_compressed(cache, **{f"{k}_{d}": v for (k, d), v in F.items()})
    if a.oof_out:
        d, arrays = a.oof_depth, {}
        for g in A.GENERATORS:
            for h in (0, 1):
                tr = np.where(((y == 1) & (group != g) & (half == h)) | ((y == 0) & (half == h)))[0]
                te = np.where(((y == 1) & (group == g) & (half != h)) | ((y == 0) & (half != h)))[0]
                xr, mu, sd, lr = fold_lr(F, d, a.oof_c, tr, y)
                real = lr.decision_function((xr - mu) / sd)
                arrays[f"stats_{g}_{h}"] = np.array([real.mean(), real.std() + 1e-6])
                arrays[f"test_{g}_{h}"] = te
                for cond in A.EVAL_CONDITIONS:
                    arrays[f"oof_{g}_{h}_{cond}"] = lr.decision_function((F[(cond, d)][te] - mu) / sd)
        paths = np.array([it["path"] for it in items])
        np.savez_compressed(a.oof_out, paths=paths, steps=0, seed=0, **arrays)
        print(f"wrote {a.oof_out}")
        return
    res: dict[str, dict] = {}
    for c in [float(s) for s in a.c.split(",")]:
        for d in DEPTHS:
            row = {}
            for g in A.GENERATORS:
                sc = {cond: np.zeros(0) for cond in A.EVAL_CONDITIONS}
                ys = np.zeros(0)
                for h in (0, 1):
                    tr = np.where(((y == 1) & (group != g) & (half == h)) | ((y == 0) & (half == h)))[0]
                    te = np.where(((y == 1) & (group == g) & (half != h)) | ((y == 0) & (half != h)))[0]
                    _, mu, sd, lr = fold_lr(F, d, c, tr, y)
                    for cond in A.EVAL_CONDITIONS:
                        sc[cond] = np.concatenate([sc[cond], lr.decision_function((F[(cond, d)][te] - mu) / sd)])
                    ys = np.concatenate([ys, y[te]])
                row[g] = {cond: round(float(roc_auc(sc[cond], ys)), 3) for cond in A.EVAL_CONDITIONS}
            res[f"C={c} depth={d}"] = row
            print(
                f"C={c:<5} depth {d:2d}: "
                + "  ".join(f"{g} {row[g]['clean']:.3f}/{row[g]['jpeg75']:.3f}" for g in A.GENERATORS),
                flush=True,
            )
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {a.out} (clean/jpeg75 AUC; constant score 0.5)")


if __name__ == "__main__":
    main()
