"""Experiment: an ImageNet-initialised MobileNetV2 trunk, fine-tuned by us, as the ``ai_cnn`` network.

    pixelsleuth models fetch mobilenet_v2_imagenet          # the initialisation (BSD-3-Clause, model registry)
    pip install '.[train]'
    python benchmarks/ai_mnv2_train.py --out /tmp/pixelsleuth-ai-cache/mnv2ft_oof.npz     # LOGO out-of-fold logits
    python benchmarks/ai_train.py --no-write --cnn-file mnv2ft_oof.npz                    # evaluated like ai_cnn

Why: frozen ImageNet MobileNetV2 features with a logistic head generalise to held-out generators far better than
our from-scratch CNN (benchmarks/ai_mnv2_probe.py: LOGO AUC 0.905 / 0.861 / 0.675 at block 17, against 0.823 /
0.815 / 0.681), but frozen third-party weights may not be committed. This script trains our own network from that
initialisation, as the copy descriptor ``mnv2-v1`` is trained (benchmarks/descriptor_train.py):

* ``MNV2Detector``: ImageNet normalisation inside the network, MobileNetV2 blocks 0-16 (160 channels, stride 16),
  global mean pooling, one linear logit. Input RGB 0-255 NCHW float32 of any size, like ``ai_cnn.onnx``.
* Linear probe, then fine-tuning (LP-FT): the head starts from a class-balanced logistic regression (C 0.01 on
  standardised pooled features, folded into the linear layer) fitted on the frozen features of the training views;
  then every layer is trained for ``--steps`` steps (AdamW, lr ``--lr``, cosine decay, batch norm statistics frozen,
  class-balanced batches of 32 random ``--crop`` x ``--crop`` sub-crops of the training views, random flips).
* The folds, views and output file format are those of benchmarks/ai_cnn_train.py (``cnn_oof.npz``): the fusion
  in ai_train.py reads them unchanged. ``--final`` also trains on every item and writes ``--final-onnx``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import ai_data as A  # noqa: E402
from ai_cnn_train import build_views, export  # noqa: E402
from descriptor_model import mobilenet_v2_features  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from pixelsleuth.bench.metrics import roc_auc  # noqa: E402

SEED = 20261203
DEPTH = 17
TRAIN_KEYS = ("train0", "train1", "clean")


class MNV2Detector(nn.Module):
    def __init__(self, depth: int = DEPTH) -> None:
        super().__init__()
        self.features = nn.Sequential(*list(mobilenet_v2_features().children())[:depth])
        width = [m for m in self.features.modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255.0)
        self.head = nn.Linear(width, 1)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self.features((x - self.mean) / self.std).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(x))[:, 0]


def load_imagenet(net: MNV2Detector) -> None:
    from pixelsleuth.models.registry import model_files

    path = model_files("mobilenet_v2_imagenet")["mobilenet_v2-b0353104.pth"]
    sd = torch.load(path, map_location="cpu", weights_only=True)
    own = net.features.state_dict()
    take = {k[len("features.") :]: v for k, v in sd.items() if k[len("features.") :] in own}
    if len(take) != len(own):
        raise RuntimeError(f"ImageNet weights cover {len(take)} of {len(own)} tensors")
    net.features.load_state_dict(take)


def _nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32))


@torch.no_grad()
def pooled(net: MNV2Detector, x: np.ndarray) -> np.ndarray:
    net.eval()
    return torch.cat([net.pooled(_nchw(x[s : s + 32])) for s in range(0, len(x), 32)]).numpy()


@torch.no_grad()
def score(net: MNV2Detector, x: np.ndarray) -> np.ndarray:
    net.eval()
    return torch.cat([net(_nchw(x[s : s + 32])) for s in range(0, len(x), 32)]).numpy()


def train(
    views: dict[str, np.ndarray], idx: np.ndarray, y: np.ndarray, steps: int, seed: int, lr: float, crop: int
) -> MNV2Detector:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = MNV2Detector()
    load_imagenet(net)
    # 1. linear probe on the frozen features of the training views, folded into the head
    f = np.concatenate([pooled(net, views[k][idx]) for k in TRAIN_KEYS])
    yt = np.concatenate([y[idx]] * len(TRAIN_KEYS))
    mu, sd = f.mean(0), f.std(0) + 1e-6
    lrm = LogisticRegression(C=0.01, class_weight="balanced", max_iter=3000).fit((f - mu) / sd, yt)
    w = lrm.coef_[0] / sd
    with torch.no_grad():
        net.head.weight.copy_(torch.from_numpy(w[None]).float())
        net.head.bias.copy_(torch.tensor([float(lrm.intercept_[0] - (w * mu).sum())]))
    if steps <= 0:
        return net.eval()
    # 2. fine-tune every layer, batch-norm statistics frozen
    x = np.stack([views[k][idx] for k in TRAIN_KEYS], axis=1)  # n x V x 224 x 224 x 3
    yy = y[idx]
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    pos, neg = np.nonzero(yy == 1)[0], np.nonzero(yy == 0)[0]
    net.train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    for _ in range(steps):
        b_idx = np.concatenate([rng.choice(pos, 16), rng.choice(neg, 16)])
        v = rng.integers(0, x.shape[1], b_idx.size)
        oy, ox = rng.integers(0, 224 - crop + 1, 2)
        b = _nchw(x[b_idx, v, oy : oy + crop, ox : ox + crop])
        flip = torch.from_numpy(rng.random(b_idx.size) < 0.5)
        b[flip] = b[flip].flip(3)
        loss = nn.functional.binary_cross_entropy_with_logits(net(b), torch.from_numpy(yy[b_idx]).float())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def real_stats(net: MNV2Detector, views: dict[str, np.ndarray], idx: np.ndarray, y: np.ndarray) -> list[float]:
    real = idx[y[idx] == 0]
    s = np.concatenate([score(net, views[k][real]) for k in TRAIN_KEYS])
    return [float(s.mean()), float(s.std() + 1e-6)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--crop", type=int, default=160)
    ap.add_argument("--seed-offset", type=int, default=0)
    ap.add_argument("--generators", default=None)
    ap.add_argument("--out", default=str(A.CACHE / "mnv2ft_oof.npz"))
    ap.add_argument("--no-logo", action="store_true")
    ap.add_argument("--final", action="store_true", help="also train on every item and write --final-onnx")
    ap.add_argument("--final-onnx", default="/tmp/ai_mnv2.onnx")
    a = ap.parse_args()
    torch.set_num_threads(2)
    t_all = time.time()
    items = json.loads(A.SPLITS.read_text())["items"]
    views = build_views(items)
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
                net = train(views, tr, y, a.steps, SEED + 10 * gi + h + a.seed_offset, a.lr, a.crop)
                arrays[f"stats_{g}_{h}"] = np.array(real_stats(net, views, tr, y))
                arrays[f"test_{g}_{h}"] = te
                for c in A.EVAL_CONDITIONS:
                    arrays[f"oof_{g}_{h}_{c}"] = score(net, views[c][te])
                auc = roc_auc(arrays[f"oof_{g}_{h}_clean"], y[te])
                print(f"  {g} half {h}: trained in {time.time() - t0:.0f} s, clean AUC {auc:.3f}", flush=True)
        out = Path(a.out)
        np.savez_compressed(out.with_suffix(".tmp.npz"), paths=paths, steps=a.steps, seed=SEED, **arrays)
        out.with_suffix(".tmp.npz").replace(out)
        print(f"wrote {out}")
    if a.final:
        t0 = time.time()
        allidx = np.arange(len(items))
        net = train(views, allidx, y, a.steps, SEED + a.seed_offset, a.lr, a.crop)
        stats = real_stats(net, views, allidx, y)
        export(net, Path(a.final_onnx))
        Path(a.final_onnx).with_suffix(".json").write_text(
            json.dumps({"steps": a.steps, "lr": a.lr, "crop": a.crop, "seed": SEED + a.seed_offset,
                        "real_logit_mean_sd": stats}, indent=1) + "\n"
        )
        print(f"wrote {a.final_onnx} in {time.time() - t0:.0f} s")
    print(f"total {time.time() - t_all:.0f} s")


if __name__ == "__main__":
    main()
