"""Synthetic photo-like test images for the watermark tests (no data files needed)."""

from __future__ import annotations

import cv2
import numpy as np


def photo(h: int = 384, w: int = 512, seed: int = 0) -> np.ndarray:
    """A textured, photo-like RGB image: smooth colour fields, edges, fine texture and mild noise."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, 3), np.float32)
    for scale, amp in ((64, 70.0), (16, 30.0), (4, 12.0)):
        small = rng.normal(0, 1, (h // scale + 2, w // scale + 2, 3)).astype(np.float32)
        out += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out += 40 * np.sin(xx / 23.0)[..., None] * (yy > h / 2)[..., None]
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        out[y0 : y0 + 60, x0 : x0 + 90] += rng.uniform(-60, 60, 3).astype(np.float32)
    out += rng.normal(0, 2.0, out.shape).astype(np.float32)
    return np.clip(out + 128, 0, 255).astype(np.uint8)
