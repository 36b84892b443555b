"""Probe: does a dense nearest-neighbour field of small luma patches find exemplar-filled regions? (not a detector)

Exemplar (patch-based) inpainting copies pixels from elsewhere in the picture, so a filled pixel's patch should have
a near-exact twin at some offset, where natural patches rarely do. A PatchMatch-style search (random offsets, then
jump-flood propagation from neighbours at 8/4/2/1 px and random search; offsets under 8 px excluded) finds each 5 x 5
patch's best twin; the map is exp(-8 * SSD / (patch energy + 25 per pixel)), zero on flat patches, box-blurred.
``inpaint_patch`` forgeries of ``train``-split camera photos (never the test split), JPEG q90 and PNG, plus their
authentic photos; prints mean pixel F1-best beside the all-ones map, and the time per image::

    python benchmarks/exemplar_nnf_probe.py --photos ../shared/data/photos/camera --n 12
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from pixelsleuth.bench.metrics import pixel_f1_best
from pixelsleuth.bench.perturbations import decode, encode
from pixelsleuth.bench.synth import list_photos, load_rgb, make_forgery


def patch_stack(g: np.ndarray, r: int) -> np.ndarray:
    h, w = g.shape
    gp = np.pad(g, r, mode="reflect")
    return np.stack([gp[dy : dy + h, dx : dx + w] for dy in range(2 * r + 1) for dx in range(2 * r + 1)], axis=-1)


def nn_field(p: np.ndarray, iters: int = 4, min_d: int = 8, seed: int = 0) -> np.ndarray:
    """Best SSD of each pixel's patch to a patch at least ``min_d`` px away (approximate, PatchMatch-style)."""
    h, w, _ = p.shape
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]

    def cost(oy: np.ndarray, ox: np.ndarray) -> np.ndarray:
        ty, tx = np.clip(yy + oy, 0, h - 1), np.clip(xx + ox, 0, w - 1)
        c = ((p - p[ty, tx]) ** 2).sum(-1)
        c[((np.abs(oy) < min_d) & (np.abs(ox) < min_d)) | (ty != yy + oy) | (tx != xx + ox)] = np.inf
        return c

    oy, ox = rng.integers(-h // 2, h // 2, (h, w)), rng.integers(-w // 2, w // 2, (h, w))
    best = cost(oy, ox)
    for _ in range(iters):
        cands = [
            (np.roll(oy, s, axis), np.roll(ox, s, axis)) for k in (8, 4, 2, 1) for s in (k, -k) for axis in (0, 1)
        ]
        rad = max(h, w) // 2
        while rad >= 1:
            cands.append((oy + rng.integers(-rad, rad + 1, (h, w)), ox + rng.integers(-rad, rad + 1, (h, w))))
            rad //= 4
        for ny, nx in cands:
            c = cost(ny, nx)
            m = c < best
            oy, ox, best = np.where(m, ny, oy), np.where(m, nx, ox), np.where(m, c, best)
    return best


def copy_map(rgb: np.ndarray, r: int = 2) -> np.ndarray:
    p = patch_stack(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), r)
    d = p.shape[-1]
    energy = p.var(-1) * d
    s = np.exp(-8.0 * nn_field(p) / (energy + 25.0 * d))
    s[energy < 4 * d] = 0
    return cv2.blur(s.astype(np.float32), (9, 9))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=Path("../shared/data/photos/camera"))
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    acc: dict[tuple[str, str], list[float]] = {}
    for path in list_photos(a.photos, split="train")[: a.n]:
        img = load_rgb(path)
        s = make_forgery("inpaint_patch", img, rng)
        gt = s.mask.astype(bool)
        for fmt in ("JPEG", "PNG"):
            t0 = time.perf_counter()
            m = copy_map(decode(encode(s.image, fmt, 90)))
            acc.setdefault((fmt, "seconds per image"), []).append(time.perf_counter() - t0)
            acc.setdefault((fmt, "F1-best, copy map"), []).append(pixel_f1_best(m, gt)[0])
            acc.setdefault((fmt, "F1-best, all-ones"), []).append(pixel_f1_best(np.ones_like(m), gt)[0])
            ma = copy_map(decode(encode(img, fmt, 90)))
            acc.setdefault((fmt, "authentic: share of pixels > 0.5"), []).append(float((ma > 0.5).mean()))
    print("| format | quantity | mean | n |\n|---|---|---|---|")
    for k in sorted(acc):
        print(f"| {k[0]} | {k[1]} | {np.mean(acc[k]):.3f} | {len(acc[k])} |")


if __name__ == "__main__":
    main()
