"""Experiment: a tiny residual CNN trained from scratch (no third-party weights) as the artifact detector, under the
same leave-one-generator-out protocol as benchmarks/ai_train.py (prompt-disjoint halves, benchmarks/ai_splits.json,
the same training and evaluation views from benchmarks/ai_data.py).

    python benchmarks/ai_cnn_logo.py --steps 300 --out /tmp/ai_cnn_logo.json

For each held-out generator G and half h: train on the other generators' half-h images plus real half h (2 random
training views each, random 96 x 96 sub-crops), test on G's half 1-h plus real half 1-h (224 x 224 evaluation crops,
conditions clean and jpeg75). Reports the pooled AUC per held-out generator next to a constant score (0.5), for
the CNN, for the handcrafted artifact features with a logistic regression trained on the same views and folds
(the shipped detector's recipe), and for two fixed fusions declared before looking at results: "fused", the mean
of the two logits, each standardised by its mean and standard deviation on its own training views; and
"fused_max", an OR-style rule, the larger of the two logits, each standardised by its mean and standard deviation
on the real training views only (so either cue alone can raise the score).
Not shipped: it is here to decide whether a learned low-level model beats the handcrafted features (AUC 0.59 /
0.65 / 0.86 clean in docs/bench/ai_generated.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import ai_data as A  # noqa: E402

from pixelsleuth.bench.metrics import roc_auc  # noqa: E402
from pixelsleuth.models.ai_common import normalise_size  # noqa: E402

SEED = 20261201


class TinyResidualNet(nn.Module):
    """``rgb=False``: the network sees only the fixed Laplacian residual, not the colours themselves (an experiment:
    content is what differs most between generators and photos, the residual is where up-sampling traces live).

    ``residual="npr"`` (an experiment, docs/bench/ai_generated.md): the fixed residual is the neighbouring-pixel
    relationship of each 2 x 2 block instead of the Laplacian, x - nearest_upsample(x[::2, ::2]): up-sampling layers
    tie the pixels of a block together, which this residual exposes (the idea of NPR, Tan et al., CVPR 2024).
    Inputs need even height and width."""

    def __init__(self, rgb: bool = True, residual: str = "laplacian") -> None:
        super().__init__()
        if residual not in ("laplacian", "npr"):
            raise ValueError(f"unknown residual {residual!r}")
        self.rgb = rgb
        self.residual = residual
        lap = torch.tensor([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=torch.float32) / 4.0
        self.register_buffer("hp", lap.expand(3, 1, 3, 3).clone())

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
            )

        self.body = nn.Sequential(
            block(6 if rgb else 3, 16, 1),
            block(16, 32, 2),
            block(32, 48, 2),
            block(48, 64, 2),
            block(64, 64, 1),
        )
        self.head = nn.Linear(128, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / 255.0
        if self.residual == "npr":
            sub = x[:, :, ::2, ::2]
            r = (x - sub.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)) * 4.0
        else:
            r = nn.functional.conv2d(x, self.hp, padding=1, groups=3) * 8.0
        f = self.body(torch.cat([x - 0.5, r], dim=1) if self.rgb else r)
        return self.head(torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1))[:, 0]


def views(items: list[dict], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tr = np.zeros((len(items), A.TRAIN_VIEWS, 224, 224, 3), np.uint8)
    ev = np.zeros((len(items), 2, 224, 224, 3), np.uint8)
    t0 = time.time()
    for i, it in enumerate(items):
        rgb, _ = normalise_size(A.load_rgb(it["path"]))
        for v in range(A.TRAIN_VIEWS):
            tr[i, v] = A.train_view(rgb, it["label"], rng)
        e = A.eval_views(rgb, it["label"], rng)
        ev[i, 0], ev[i, 1] = e["clean"], e["jpeg75"]
        if (i + 1) % 200 == 0:
            print(f"  views {i + 1}/{len(items)} ({time.time() - t0:.0f} s)", flush=True)
    return tr, ev, np.array([it["label"] for it in items])


def train(
    x: np.ndarray, y: np.ndarray, steps: int, rng: np.random.Generator, rgb: bool = True, residual: str = "laplacian"
) -> TinyResidualNet:
    net = TinyResidualNet(rgb=rgb, residual=residual)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    net.train()
    balanced_crop_steps(net, opt, sched, x, y, steps, rng, 32, 96)
    net.eval()
    return net


def balanced_crop_steps(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    rng: np.random.Generator,
    per_class: int,
    crop: int,
    to_tensor: Callable[[np.ndarray], torch.Tensor] | None = None,
) -> None:
    """``steps`` optimiser steps on class-balanced batches (``per_class`` of each label) of one random ``crop`` x
    ``crop`` window of a random view (x: n x V x 224 x 224 x 3 uint8), half of them mirrored; binary cross-entropy
    on the network's one logit per image. The network's train/eval modes are the caller's. ``to_tensor`` turns the
    uint8 NHWC batch into the float NCHW tensor (default: a transposed float32 copy, strides as numpy makes them)."""
    pos, neg = np.nonzero(y == 1)[0], np.nonzero(y == 0)[0]
    for _ in range(steps):
        idx = np.concatenate([rng.choice(pos, per_class), rng.choice(neg, per_class)])
        v = rng.integers(0, x.shape[1], idx.size)
        oy, ox = rng.integers(0, 224 - crop + 1, 2)
        c = x[idx, v, oy : oy + crop, ox : ox + crop]
        b = to_tensor(c) if to_tensor else torch.from_numpy(c.transpose(0, 3, 1, 2).astype(np.float32))
        flip = torch.from_numpy(rng.random(idx.size) < 0.5)
        b[flip] = b[flip].flip(3)
        loss = nn.functional.binary_cross_entropy_with_logits(net(b), torch.from_numpy(y[idx]).float())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()


@torch.no_grad()
def score(net: TinyResidualNet, x: np.ndarray) -> np.ndarray:
    out = [
        net(torch.from_numpy(x[s : s + 64].transpose(0, 3, 1, 2).astype(np.float32)))
        for s in range(0, len(x), 64)
    ]
    return torch.cat(out).numpy()


def art_features(x: np.ndarray) -> np.ndarray:
    from pixelsleuth.detectors.ai_artifact import artifact_features

    flat = x.reshape(-1, 224, 224, 3)
    return np.stack([artifact_features(t) for t in flat]).reshape(*x.shape[:-3], -1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", type=Path, default=Path("/tmp/ai_cnn_logo.json"))
    a = ap.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    rng = np.random.default_rng(SEED)
    items = json.loads(A.SPLITS.read_text())["items"]
    tr, ev, y = views(items, rng)
    t0 = time.time()
    f_tr, f_ev = art_features(tr), art_features(ev)
    print(f"artifact features ({time.time() - t0:.0f} s)", flush=True)
    group = np.array([it["group"] for it in items])
    half = np.array([it["half"] for it in items])
    real = y == 0
    res: dict = {"steps": a.steps, "by_generator": {}}
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    for g in A.GENERATORS:
        scores: dict[str, dict[str, list]] = {
            k: {"clean": [], "jpeg75": []} for k in ("cnn", "artifact", "fused", "fused_max")
        }
        labels: list[np.ndarray] = []
        for h in (0, 1):
            tr_mask = (half == h) & (real | ((y == 1) & (group != g)))
            te_mask = (half == 1 - h) & (real | (group == g))
            t0 = time.time()
            net = train(tr[tr_mask], y[tr_mask], a.steps, rng)
            s_tr_cnn = score(net, tr[tr_mask].reshape(-1, 224, 224, 3))
            xa = f_tr[tr_mask].reshape(-1, f_tr.shape[-1])
            ya = np.repeat(y[tr_mask], tr.shape[1])
            sc = StandardScaler().fit(xa)
            lr = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(sc.transform(xa), ya)
            s_tr_art = lr.decision_function(sc.transform(xa))
            # real-anchored standardisation for the OR-style fusion: each score's mean / sd on real training views
            ra = ya == 0
            for ci, cond in enumerate(("clean", "jpeg75")):
                c = score(net, ev[te_mask, ci])
                r = lr.decision_function(sc.transform(f_ev[te_mask, ci]))
                zc = (c - s_tr_cnn.mean()) / (s_tr_cnn.std() + 1e-9)
                zr = (r - s_tr_art.mean()) / (s_tr_art.std() + 1e-9)
                scores["cnn"][cond].append(c)
                scores["artifact"][cond].append(r)
                scores["fused"][cond].append(0.5 * (zc + zr))
                qc = (c - s_tr_cnn[ra].mean()) / (s_tr_cnn[ra].std() + 1e-9)
                qr = (r - s_tr_art[ra].mean()) / (s_tr_art[ra].std() + 1e-9)
                scores["fused_max"][cond].append(np.maximum(qc, qr))
            labels.append(y[te_mask])
            print(f"  {g} half {h}: trained in {time.time() - t0:.0f} s", flush=True)
        yy = np.concatenate(labels)
        res["by_generator"][g] = {
            k: {c: roc_auc(np.concatenate(v), yy) for c, v in d.items()} for k, d in scores.items()
        }
        res.setdefault("scores", {})[g] = {
            "label": yy.tolist(),
            **{k: {c: np.concatenate(v).round(4).tolist() for c, v in d.items()} for k, d in scores.items()},
        }
        print(g, res["by_generator"][g], flush=True)
    a.out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
