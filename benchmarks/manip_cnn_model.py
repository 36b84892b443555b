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

import torch
from torch import nn

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
