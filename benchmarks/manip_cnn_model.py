"""The network of the ``manip_cnn`` detector: a small encoder-decoder that maps pixels to a tampering map.

Trained from scratch by benchmarks/manip_cnn_train.py (no third-party weights) and shipped as ONNX
(``src/pixelsleuth/models/trained/manip_cnn.onnx``). Input: RGB 0-255, NCHW float32, any size (multiples of 16 are
cheapest). Output: one logit per pixel at 1/4 resolution (N x 1 x H/4 x W/4); the detector upsamples it.

Layout: the RGB pixels and a fixed per-channel Laplacian residual (the noise/resampling/filtering traces) go through
four stride-2 stages (12, 24, 40, 64 channels; dilated convolutions at 1/8) and a 1/16 context stage (96 channels,
with a global-mean term so the network can weigh the whole image), then two decoder convolutions with skip connections
back to 1/4 resolution.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from descriptor_model import load_imagenet_features, mobilenet_v2_features  # noqa: E402

WIDTHS = (12, 24, 40, 64, 96)


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ManipNet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        c0, c1, c2, c3, c4 = widths
        lap = torch.tensor([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=torch.float32) / 4.0
        self.register_buffer("hp", lap.expand(3, 1, 3, 3).clone())
        self.e0 = _conv(6, c0)
        self.e1 = nn.Sequential(_conv(c0, c1, 2), _conv(c1, c1))
        self.e2 = nn.Sequential(_conv(c1, c2, 2), _conv(c2, c2))
        self.e3 = nn.Sequential(_conv(c2, c3, 2), _conv(c3, c3, dilation=2), _conv(c3, c3, dilation=4))
        self.e4 = nn.Sequential(_conv(c3, c4, 2), _conv(c4, c4))
        self.glob = nn.Conv2d(c4, c4, 1)
        self.d3 = _conv(c4 + c3, c3)
        self.d2 = _conv(c3 + c2, c2)
        self.out = nn.Conv2d(c2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / 255.0
        r = nn.functional.conv2d(x, self.hp, padding=1, groups=3) * 8.0
        f0 = self.e0(torch.cat([x - 0.5, r], dim=1))
        f1 = self.e1(f0)
        f2 = self.e2(f1)
        f3 = self.e3(f2)
        f4 = self.e4(f3)
        f4 = f4 + self.glob(f4.mean(dim=(2, 3), keepdim=True))
        up4 = nn.functional.interpolate(f4, size=f3.shape[2:], mode="bilinear", align_corners=False)
        g3 = self.d3(torch.cat([up4, f3], dim=1))
        up3 = nn.functional.interpolate(g3, size=f2.shape[2:], mode="bilinear", align_corners=False)
        g2 = self.d2(torch.cat([up3, f2], dim=1))
        return self.out(g2)


class ManipMNV2(nn.Module):
    """An ImageNet-initialised MobileNetV2 encoder (experiment, docs/bench/fusion.md) with the same input and output
    as :class:`ManipNet`: RGB 0-255 in, one tampering logit per 4x4 block out.

    Encoder: MobileNetV2 blocks 0-13 (stride 4 / 8 / 16 taps: 24 / 32 / 96 channels), ImageNet normalisation inside,
    initialised from the registry's ImageNet weights by the training script (:func:`load_imagenet_encoder`); its
    batch-norm statistics stay frozen. Beside it a small residual stem trained from scratch (the fixed Laplacian
    residual of ManipNet, two stride-2 convolutions to 1/4 resolution) carries the low-level traces that ImageNet
    features discard. Decoder: a global-mean context term at 1/16, then two upsample-concatenate-convolve steps to 1/4.
    """

    def __init__(self) -> None:
        super().__init__()
        feats = list(mobilenet_v2_features().children())
        self.enc4 = nn.Sequential(*feats[0:4])  # stride 4, 24 ch
        self.enc8 = nn.Sequential(*feats[4:7])  # stride 8, 32 ch
        self.enc16 = nn.Sequential(*feats[7:14])  # stride 16, 96 ch
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255.0)
        lap = torch.tensor([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=torch.float32) / 4.0
        self.register_buffer("hp", lap.expand(3, 1, 3, 3).clone())
        self.res = nn.Sequential(_conv(6, 16, 2), _conv(16, 24, 2), _conv(24, 24))
        self.glob = nn.Conv2d(96, 96, 1)
        self.d8 = _conv(96 + 32, 64)
        self.d4 = nn.Sequential(_conv(64 + 24 + 24, 48), _conv(48, 48))
        self.out = nn.Conv2d(48, 1, 1)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return [p for m in (self.enc4, self.enc8, self.enc16) for p in m.parameters()]

    def train(self, mode: bool = True) -> ManipMNV2:
        super().train(mode)
        for enc in (self.enc4, self.enc8, self.enc16):
            for m in enc.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        f4 = self.enc4(z)
        f8 = self.enc8(f4)
        f16 = self.enc16(f8)
        f16 = f16 + self.glob(f16.mean(dim=(2, 3), keepdim=True))
        u = x / 255.0
        r4 = self.res(torch.cat([u - 0.5, nn.functional.conv2d(u, self.hp, padding=1, groups=3) * 8.0], dim=1))
        up8 = nn.functional.interpolate(f16, size=f8.shape[2:], mode="bilinear", align_corners=False)
        g8 = self.d8(torch.cat([up8, f8], dim=1))
        up4 = nn.functional.interpolate(g8, size=f4.shape[2:], mode="bilinear", align_corners=False)
        return self.out(self.d4(torch.cat([up4, f4, r4], dim=1)))


def load_imagenet_encoder(net: ManipMNV2) -> None:
    """Copy the registry's ImageNet MobileNetV2 weights (``mobilenet_v2_imagenet``) into the encoder."""
    for part, first in ((net.enc4, 0), (net.enc8, 4), (net.enc16, 7)):
        load_imagenet_features(part, first=first)
