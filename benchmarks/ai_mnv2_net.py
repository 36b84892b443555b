"""The ImageNet-initialised MobileNetV2 network of the ``ai_cnn`` detector and its training loop (LP-FT).

Trained by benchmarks/ai_cnn_train.py ``--network mnv2`` (the folds, views, out-of-fold file and export are that
script's):

    pixelsleuth models fetch mobilenet_v2_imagenet          # the initialisation (BSD-3-Clause, model registry)
    pip install '.[train]'
    python benchmarks/ai_cnn_train.py --network mnv2 --steps 200 --crop 128    # LOGO logits + shipped model

Why: frozen ImageNet MobileNetV2 features with a logistic head generalise to held-out generators far better than
our from-scratch CNN (benchmarks/ai_mnv2_probe.py: LOGO AUC 0.905 / 0.861 / 0.675 at block 17, against 0.823 /
0.815 / 0.681), but frozen third-party weights may not be committed. We train our own network from that
initialisation, as the copy descriptor ``mnv2-v1`` is trained (benchmarks/descriptor_train.py):

* ``MNV2Detector``: ImageNet normalisation inside the network, MobileNetV2 blocks 0-16 (160 channels, stride 16),
  global mean pooling, one linear logit. Input RGB 0-255 NCHW float32 of any size, like the from-scratch network.
* Linear probe, then fine-tuning (LP-FT): the head starts from a class-balanced logistic regression (C 0.01 on
  standardised pooled features, folded into the linear layer) fitted on the frozen features of the training views;
  then every layer is trained for ``steps`` steps (AdamW, lr ``lr``, cosine decay, batch norm statistics frozen,
  class-balanced batches of 32 random ``crop`` x ``crop`` sub-crops of the training views, random flips).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from ai_cnn_logo import balanced_crop_steps  # noqa: E402
from descriptor_model import load_imagenet_features, mobilenet_v2_features  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

SEED = 20261203  # the training seed base of this network (ai_cnn_train.py --network mnv2)
DEPTH = 17


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
    load_imagenet_features(net.features)


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


def train(x: np.ndarray, y: np.ndarray, steps: int, seed: int, lr: float = 1e-4, crop: int = 128) -> MNV2Detector:
    """LP-FT on uint8 training views ``x`` (n x V x 224 x 224 x 3) with labels ``y`` (n), seeded by ``seed``."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = MNV2Detector()
    load_imagenet(net)
    # 1. linear probe on the frozen features of the training views, folded into the head
    f = np.concatenate([pooled(net, np.ascontiguousarray(x[:, v])) for v in range(x.shape[1])])
    yt = np.concatenate([y] * x.shape[1])
    mu, sd = f.mean(0), f.std(0) + 1e-6
    lrm = LogisticRegression(C=0.01, class_weight="balanced", max_iter=3000).fit((f - mu) / sd, yt)
    w = lrm.coef_[0] / sd
    with torch.no_grad():
        net.head.weight.copy_(torch.from_numpy(w[None]).float())
        net.head.bias.copy_(torch.tensor([float(lrm.intercept_[0] - (w * mu).sum())]))
    if steps <= 0:
        return net.eval()
    # 2. fine-tune every layer, batch-norm statistics frozen
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    net.train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    balanced_crop_steps(net, opt, sched, x, y, steps, rng, 16, crop, _nchw)
    return net.eval()
