"""Probe: does the chroma-to-luma noise ratio localise local colour and contrast edits? (not a detector)

A saturation change scales the chroma planes' noise, and a hue rotation mixes Cb and Cr noise of different levels,
while the luma noise stays as it was. So the per-tile ratio of a high-pass (Haar HH) magnitude in Cb or Cr to the
one in luma, compared with the image's median ratio, might mark the edited region, also in a JPEG re-save where the
JPEG-compatibility test of ``jpeg`` has nothing to test.

Colour and contrast forgeries of ``train``-split camera photos (never the test split), saved as JPEG q90 and as
PNG, are scored with robust z-maps of that ratio; the table gives mean pixel F1-best per type, format, statistic
and tile size, beside the all-ones map and a random map on the same tile grid::

    python benchmarks/chroma_noise_probe.py --photos ../shared/data/photos/camera --n 40 --tiles 4,8,16
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from pixelsleuth.bench.metrics import pixel_f1_best
from pixelsleuth.bench.perturbations import decode, encode
from pixelsleuth.bench.synth import list_photos, load_rgb, make_forgery


def _ycc(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return y, -0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b


def _hh(p: np.ndarray) -> np.ndarray:
    h, w = p.shape[0] // 2 * 2, p.shape[1] // 2 * 2
    p = p[:h, :w]
    return (p[0::2, 0::2] - p[0::2, 1::2] - p[1::2, 0::2] + p[1::2, 1::2]) / 2


def _blocks(r: np.ndarray, t: int) -> np.ndarray:
    h, w = r.shape[0] // t * t, r.shape[1] // t * t
    return np.abs(r[:h, :w]).reshape(h // t, t, w // t, t).transpose(0, 2, 1, 3).reshape(h // t, w // t, -1)


def _robust_z(r: np.ndarray) -> np.ndarray:
    med = np.median(r)
    return np.abs(r - med) / (1.4826 * np.median(np.abs(r - med)) + 1e-6)


def ratio_maps(rgb: np.ndarray, t: int) -> dict[str, np.ndarray]:
    """Tile maps (t x t tiles of the half-resolution planes, where 4:2:0 chroma lives)."""
    half = [cv2.resize(p, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) for p in _ycc(rgb)]
    hy, hb, hr = (_hh(p) for p in half)
    out: dict[str, np.ndarray] = {}
    for stat, fn in (("mad", lambda a: np.median(a, axis=2) / 0.6745), ("mean", lambda a: a.mean(axis=2))):
        sy = fn(_blocks(hy, t)) + 0.05
        zs = [_robust_z(np.log(fn(_blocks(hc, t)) + 0.05) - np.log(sy)) for hc in (hb, hr)]
        out[f"ratio_{stat}"] = np.maximum(*zs)
    lvl = np.log(np.median(_blocks(hb, t), axis=2) + 0.05) + np.log(np.median(_blocks(hr, t), axis=2) + 0.05)
    out["chroma_level"] = np.abs(lvl - np.median(lvl))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=Path("../shared/data/photos/camera"))
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--tiles", default="4,8,16")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    tiles = [int(t) for t in a.tiles.split(",")]
    rng = np.random.default_rng(a.seed)
    acc: dict[tuple[str, str, str], list[float]] = {}
    for p in list_photos(a.photos, split="train")[: a.n]:
        img = load_rgb(p)
        for kind in ("color", "contrast"):
            s = make_forgery(kind, img, rng)
            gt = s.mask.astype(bool)
            for fmt in ("JPEG", "PNG"):
                dec = decode(encode(s.image, fmt, 90))
                acc.setdefault((kind, fmt, "all-ones"), []).append(pixel_f1_best(np.ones(gt.shape, np.float32), gt)[0])
                for t in tiles:
                    maps = ratio_maps(dec, t)
                    # control: a map of the same tile grid with random values (F1-best of any tile map beats all-ones)
                    maps["random tiles"] = rng.random(maps["chroma_level"].shape)
                    for name, m in maps.items():
                        m = cv2.resize((m / (m.max() + 1e-9)).astype(np.float32), gt.shape[::-1])
                        acc.setdefault((kind, fmt, f"{name}, tile {2 * t} px"), []).append(pixel_f1_best(m, gt)[0])
    print("| type | format | map | mean F1-best | n |\n|---|---|---|---|---|")
    for k in sorted(acc):
        print(f"| {k[0]} | {k[1]} | {k[2]} | {np.mean(acc[k]):.3f} | {len(acc[k])} |")


if __name__ == "__main__":
    main()
