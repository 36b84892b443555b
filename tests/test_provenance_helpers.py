"""Shared synthetic-image helpers for the provenance tests (no external data)."""

from __future__ import annotations

import cv2
import numpy as np


def textured(seed: int, h: int = 360, w: int = 480) -> np.ndarray:
    """A random scene with corners and texture: smooth colour noise, shapes, lines and text."""
    rng = np.random.default_rng(seed)
    base = np.zeros((h, w, 3), np.float32)
    for s in (4, 16, 48):
        n = rng.random((h // s + 2, w // s + 2, 3)).astype(np.float32)
        base += cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC) * (60.0 if s > 4 else 25.0)
    img = np.clip(base, 0, 255).astype(np.uint8)
    for _ in range(25):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 4)
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if kind == 0:
            cv2.rectangle(
                img, (x, y), (x + int(rng.integers(10, 90)), y + int(rng.integers(10, 90))), color, -1
            )
        elif kind == 1:
            cv2.circle(img, (x, y), int(rng.integers(5, 40)), color, -1)
        elif kind == 2:
            cv2.line(
                img,
                (x, y),
                (int(rng.integers(0, w)), int(rng.integers(0, h))),
                color,
                int(rng.integers(1, 5)),
            )
        else:
            cv2.putText(img, str(rng.integers(0, 99999)), (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0, color, 2)
    return img


def jpeg(img: np.ndarray, q: int) -> np.ndarray:
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def rotate(img: np.ndarray, deg: float, scale: float = 1.0) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, scale)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
