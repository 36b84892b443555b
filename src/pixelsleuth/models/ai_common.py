"""Shared pieces of the AI-generation detectors: size normalisation, tiling, tiny linear models in numpy.

Both learned AI detectors (ai_artifact, ai_clip_probe) look at native-resolution square tiles of TILE pixels, the
same crops they were trained on (benchmarks/ai_train.py). Large images are first reduced so that their shorter
side is at most NORMALISE_TO (training applied the same rule and random 0.5-1.0 downscales to both classes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

TILE = 224
NORMALISE_ABOVE = 640  # shorter side above this -> downscale
NORMALISE_TO = 512


def normalise_size(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """Downscale (area) so the shorter side is NORMALISE_TO when it exceeds NORMALISE_ABOVE. Returns (img, scale)."""
    h, w = rgb.shape[:2]
    m = min(h, w)
    if m <= NORMALISE_ABOVE:
        return rgb, 1.0
    s = NORMALISE_TO / m
    out = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return out, s


def pad_to_tile(rgb: np.ndarray) -> np.ndarray:
    """Reflect-pad images smaller than a tile (tiny inputs still get an answer, flagged as less reliable)."""
    h, w = rgb.shape[:2]
    ph, pw = max(0, TILE - h), max(0, TILE - w)
    if ph or pw:
        rgb = cv2.copyMakeBorder(rgb, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)
    return rgb


def tile_grid(h: int, w: int, max_per_axis: int = 3) -> list[tuple[int, int]]:
    """Top-left corners of up to max_per_axis**2 evenly spread TILE x TILE tiles covering the image."""

    def axis(n: int) -> list[int]:
        if n <= TILE:
            return [0]
        k = min(max_per_axis, int(np.ceil(n / TILE)))
        return sorted({int(round(v)) for v in np.linspace(0, n - TILE, k)})

    return [(y, x) for y in axis(h) for x in axis(w)]


@dataclass
class LinearModel:
    """Standardise -> (optional hidden ReLU layer) -> logit -> Platt calibration. Stored as JSON."""

    mean: np.ndarray
    scale: np.ndarray
    weights: list[np.ndarray]  # [W1, W2, ...] matrices (in x out)
    biases: list[np.ndarray]
    platt_a: float = 1.0
    platt_b: float = 0.0
    meta: dict | None = None

    def logit(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(np.asarray(x, np.float64)) - self.mean) / self.scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = z @ w + b
            if i < len(self.weights) - 1:
                z = np.maximum(z, 0.0)
        return z[:, 0]

    def proba(self, x: np.ndarray) -> np.ndarray:
        return calibrated(self.logit(x), self.platt_a, self.platt_b)

    def to_json(self) -> dict:
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": [w.tolist() for w in self.weights],
            "biases": [b.tolist() for b in self.biases],
            "platt_a": self.platt_a,
            "platt_b": self.platt_b,
            "meta": self.meta or {},
        }

    @classmethod
    def from_json(cls, d: dict) -> LinearModel:
        return cls(
            mean=np.asarray(d["mean"], np.float64),
            scale=np.asarray(d["scale"], np.float64),
            weights=[np.asarray(w, np.float64) for w in d["weights"]],
            biases=[np.asarray(b, np.float64) for b in d["biases"]],
            platt_a=float(d.get("platt_a", 1.0)),
            platt_b=float(d.get("platt_b", 0.0)),
            meta=d.get("meta") or {},
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()))

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        return cls.from_json(json.loads(Path(path).read_text()))


def calibrated(logit: np.ndarray, a: float, b: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(a * np.asarray(logit, np.float64) + b)))


def tiles_to_map(
    shape: tuple[int, int], scale: float, corners: list[tuple[int, int]], values: list[float]
) -> np.ndarray:
    """Paint per-tile scores (computed on the normalised image) back at display size; overlaps take the mean."""
    h, w = shape
    boxes = []
    for (y, x), v in zip(corners, values, strict=True):
        y0, x0 = int(y / scale), int(x / scale)
        y1, x1 = min(h, int(np.ceil((y + TILE) / scale))), min(w, int(np.ceil((x + TILE) / scale)))
        boxes.append((y0, y1, x0, x1, float(v)))
    # paint on the coarse grid cut by the tile edges, then expand: a few passes over the full-size map
    ys = np.unique(np.clip([0, h, *[b[0] for b in boxes], *[b[1] for b in boxes]], 0, h))
    xs = np.unique(np.clip([0, w, *[b[2] for b in boxes], *[b[3] for b in boxes]], 0, w))
    acc = np.zeros((len(ys) - 1, len(xs) - 1), np.float32)  # float32 sums, as the map always had
    cnt = np.zeros_like(acc)
    for y0, y1, x0, x1, v in boxes:
        i0, i1 = np.searchsorted(ys, y0), np.searchsorted(ys, y1)
        j0, j1 = np.searchsorted(xs, x0), np.searchsorted(xs, x1)
        acc[i0:i1, j0:j1] += v
        cnt[i0:i1, j0:j1] += 1
    coarse = np.where(cnt > 0, acc / np.maximum(cnt, 1), 0.0).astype(np.float32)
    return np.repeat(np.repeat(coarse, np.diff(ys), axis=0), np.diff(xs), axis=1)
