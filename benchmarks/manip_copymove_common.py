"""Shared helpers for the copy-move / resampling / CFA benchmarks: image wrapping, pixel metrics, AUC,
and a seeded synthetic copy-move generator.

Everything is deterministic given the seed; data lists are written next to the results."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pixelsleuth.io.image import ImageData

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")


def wrap(rgb: np.ndarray, fmt: str = "PNG") -> ImageData:
    rgb = np.ascontiguousarray(rgb.astype(np.uint8))
    return ImageData(rgb=rgb, format=fmt, mode="RGB", bit_depth=8, sha256="", source="<bytes>", file_size=0)


def load_rgb(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def f1_at(pred: np.ndarray, gt: np.ndarray) -> float:
    tp = float((pred & gt).sum())
    fp = float((pred & ~gt).sum())
    fn = float((~pred & gt).sum())
    if tp == 0:
        return 0.0
    return 2 * tp / (2 * tp + fp + fn)


def f1_best(score_map: np.ndarray, gt: np.ndarray, n: int = 20) -> float:
    """Best F1 over positive thresholds (per image, as in the literature's 'F1-best'). Thresholds are 20 even
    steps plus the map's own top values; an all-zero map scores 0 (marking everything is not one of the options:
    that is the separate all-ones baseline)."""
    vals = np.unique(np.concatenate([np.linspace(0.0, 1.0, n + 1)[1:], np.unique(score_map)[-50:]]))
    best = 0.0
    for t in vals[vals > 0]:
        best = max(best, f1_at(score_map >= t, gt))
    return best


def auc(pos: list[float], neg: list[float]) -> float:
    pos_a, neg_a = np.asarray(pos, float), np.asarray(neg, float)
    if len(pos_a) == 0 or len(neg_a) == 0:
        return float("nan")
    gt = (pos_a[:, None] > neg_a[None, :]).mean()
    eq = (pos_a[:, None] == neg_a[None, :]).mean()
    return float(gt + 0.5 * eq)


def synth_copymove(
    rgb: np.ndarray, rng: np.random.Generator, kind: str
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Copy a random textured patch (ellipse/rectangle/free-form, 3-8% of the image) to another place.

    kind: 'translate' | 'rotate' | 'scale' | 'rotscale' | 'flip'. Returns (forged rgb, source+target mask, params).
    """
    h, w = rgb.shape[:2]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    sd = np.sqrt(np.maximum(cv2.blur(gray**2, (15, 15)) - cv2.blur(gray, (15, 15)) ** 2, 0))
    frac = rng.uniform(0.03, 0.08)
    r = int(math.sqrt(frac * h * w / math.pi))
    r = max(12, min(r, min(h, w) // 5))
    for _ in range(50):
        cx, cy = int(rng.integers(r + 2, w - r - 2)), int(rng.integers(r + 2, h - r - 2))
        if sd[cy, cx] > 6:
            break
    mask = np.zeros((h, w), np.uint8)
    shape = rng.integers(0, 3)
    if shape == 0:
        cv2.ellipse(
            mask, (cx, cy), (r, int(r * rng.uniform(0.6, 1.0))), float(rng.uniform(0, 180)), 0, 360, 1, -1
        )
    elif shape == 1:
        a, b = int(r * rng.uniform(0.7, 1.0)), int(r * rng.uniform(0.6, 1.0))
        mask[cy - b : cy + b, cx - a : cx + a] = 1
    else:
        n = 9
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = r * rng.uniform(0.55, 1.0, n)
        poly = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).astype(np.int32)
        cv2.fillPoly(mask, [poly], 1)
    angle, scale, flip = 0.0, 1.0, False
    if kind in ("rotate", "rotscale"):
        angle = float(rng.choice([-1, 1]) * rng.uniform(10, 60))
    if kind in ("scale", "rotscale"):
        scale = float(rng.choice([rng.uniform(0.8, 0.93), rng.uniform(1.07, 1.2)]))
    if kind == "flip":
        flip = True
    for _ in range(200):
        tx_c = float(rng.uniform(r * scale + 2, w - r * scale - 2))
        ty_c = float(rng.uniform(r * scale + 2, h - r * scale - 2))
        if math.hypot(tx_c - cx, ty_c - cy) > 2.3 * r * max(scale, 1):
            break
    else:
        raise ValueError("no room for the copy")
    M = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    if flip:
        F = np.array([[-1, 0, 2 * cx], [0, 1, 0], [0, 0, 1]], np.float64)
        M = (np.vstack([M, [0, 0, 1]]) @ F)[:2]
    M[0, 2] += tx_c - cx
    M[1, 2] += ty_c - cy
    warped = cv2.warpAffine(rgb, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    tmask = cv2.warpAffine(mask, M, (w, h), flags=cv2.INTER_NEAREST) > 0
    out = rgb.copy()
    out[tmask] = warped[tmask]
    gt = tmask | (mask > 0)
    return out, gt, {"angle": angle, "scale": scale, "flip": float(flip), "tx": tx_c - cx, "ty": ty_c - cy}
