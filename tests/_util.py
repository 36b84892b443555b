"""Image makers shared by tests (import as `from _util import ...`)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def photo_like(h: int = 192, w: int = 256, seed: int = 0) -> np.ndarray:
    """A smooth scene with shapes, texture and sensor-like noise (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            120 + 60 * np.sin(xx / (17 + seed % 5)) * np.cos(yy / 23),
            110 + 50 * np.cos(xx / 31 + yy / 29),
            100 + 40 * np.sin((xx + yy) / 41),
        ],
        axis=-1,
    )
    for _ in range(6):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(8, max(9, min(h, w) // 4))
        col = rng.integers(20, 235, size=3)
        m = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        base[m] = 0.4 * base[m] + 0.6 * col
    base += rng.normal(0, 3.0, size=base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def encode(rgb: np.ndarray, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **kw)
    return buf.getvalue()


def wrap_rgb(rgb: np.ndarray, fmt: str = "PNG"):
    """An ImageData around raw pixels, for detector tests that need no file (no metadata, no JPEG data)."""
    from pixelsleuth.io.image import ImageData

    return ImageData(
        rgb=np.ascontiguousarray(rgb),
        format=fmt,
        mode="RGB",
        bit_depth=8,
        sha256="",
        source="<bytes>",
        file_size=0,
    )
