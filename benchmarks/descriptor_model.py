"""The copy-detection descriptor network (training side): MobileNetV2 feature layers, GeM pooling, a linear
projection to 128-D. Written from the MobileNetV2 paper (Sandler et al., 2018); the layer and parameter names follow
the common state-dict layout so that the ImageNet weights from the model registry (mobilenet_v2_imagenet) load.
Inference runs on the ONNX export (src/pixelsleuth/provenance/trained/descriptor.onnx), not on this module.
"""

from __future__ import annotations

import torch
from torch import nn

# (expansion t, output channels c, repeats n, first stride s), as in the paper's Table 2
SETTINGS = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU(cin, hidden, k=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


def mobilenet_v2_features() -> nn.Sequential:
    layers: list[nn.Module] = [ConvBNReLU(3, 32, stride=2)]
    cin = 32
    for t, c, n, s in SETTINGS:
        for i in range(n):
            layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
            cin = c
    layers.append(ConvBNReLU(cin, 1280, k=1))
    return nn.Sequential(*layers)


class GeM(nn.Module):
    """Generalised-mean pooling (Radenovic et al.), learnable exponent."""

    def __init__(self, p: float = 3.0) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.tensor(p))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=1e-6).pow(self.p).mean(dim=(2, 3)).pow(1.0 / self.p)


class Descriptor(nn.Module):
    """features[:depth] -> GeM -> Linear -> 128-D (unnormalised; callers L2-normalise)."""

    def __init__(self, depth: int = 18, dim: int = 128) -> None:
        super().__init__()
        feats = mobilenet_v2_features()
        self.features = nn.Sequential(*list(feats.children())[:depth])
        width = (
            1280
            if depth >= 19
            else [m for m in self.features.modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features
        )
        self.pool = GeM()
        self.proj = nn.Linear(width, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.pool(self.features(x)))


def load_imagenet_features(seq: nn.Sequential, path: str | None = None, first: int = 0) -> int:
    """Load the ImageNet MobileNetV2 weights of feature blocks ``first``, ``first + 1``, ... into the blocks of ``seq``
    (a slice of :func:`mobilenet_v2_features`); ``path`` defaults to the registry model ``mobilenet_v2_imagenet``.
    Returns the number of tensors loaded; every tensor of ``seq`` must be found."""
    if path is None:
        from pixelsleuth.models.registry import model_files

        path = str(model_files("mobilenet_v2_imagenet")["mobilenet_v2-b0353104.pth"])
    sd = torch.load(path, map_location="cpu", weights_only=True)
    take = {}
    for k in seq.state_dict():
        block, rest = k.split(".", 1)
        src = f"features.{int(block) + first}.{rest}"
        if src in sd:
            take[k] = sd[src]
    missing = [k for k in seq.state_dict() if k not in take]
    if missing:
        raise RuntimeError(f"ImageNet weights lack {len(missing)} tensors, e.g. {missing[:3]}")
    seq.load_state_dict(take)
    return len(take)


def load_imagenet(model: Descriptor, path: str) -> int:
    """Load ImageNet MobileNetV2 feature weights into ``model.features``; returns the number of tensors loaded."""
    return load_imagenet_features(model.features, path)
