"""JPEG compatibility of the chroma planes of a losslessly stored image.

Most JPEGs store their colour (Cb, Cr) at half resolution (4:2:0, or 4:2:2 horizontally only), and the decoder
up-samples it with a fixed triangular filter: each output pixel is 3/4 of its own chroma sample plus 1/4 of the
neighbouring one, along each sub-sampled axis. So the colour of a decoded JPEG saved as PNG still holds its
half-resolution chroma plane, recoverable by least squares from the full-resolution chroma recomputed from RGB, and
that plane's 8x8 DCT coefficients sit on the lattice of the chroma quantization steps. A colour, hue or saturation
change made after decompression moves them off it, even where the luma hardly changes (which the luma test of
``_jpeg_compat`` cannot see).

This module

1. recomputes Cb and Cr from RGB (the JPEG/JFIF conversion),
2. picks the sub-sampling (4:4:4, 4:2:2 or 4:2:0, and the phase of the 2x sampling) whose up-sampling model explains
   the chroma best,
3. inverts the up-sampling by least squares (a tridiagonal system per axis, separable), and
4. runs the block test of ``_jpeg_compat`` on each recovered plane.

Blocks whose footprint touches a clipped pixel (a channel at 0 or 255) are excluded: clipping in the decoder breaks
the linear relation between the stored RGB and the chroma. Everything is numpy/scipy on arrays; nothing reads
files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from pixelsleuth.detectors._jpeg_compat import CompatResult, jpeg_compatibility

# a 2x hypothesis is accepted when the least-squares fit of the up-sampling model leaves at most this robust residual
# (grey levels; the decoder's rounding alone leaves about 0.25-0.3 on camera JPEGs)
FIT_RESIDUAL_MAX = 0.45
RATIO_420 = 1.65  # 4:2:0 is listed first (wins ties) unless its fit residual exceeds 4:2:2's by this factor
TEST_SIDE = 512  # the block tests that choose the hypothesis run on a central crop of this size
SELECT_SIDE = 256  # hypothesis selection on a central crop of at most this many pixels a side
# least noise per DCT coefficient of a recovered plane: the decoder's rounding, amplified by the inversion (0.34-0.41
# measured against the true planes of camera JPEGs, where the luma test assumes 0.25)
SIGMA_FLOOR = 0.45
# and per DCT mode (raster order, row = vertical frequency), from the 99.5th percentile of the recovered planes'
# error on 86 (4:2:0) and 136 (4:2:2) train-split camera JPEGs (benchmarks/jpeg_chroma_noise.py). The DC term and the
# highest frequencies along a sub-sampled axis are the noisiest; 4:4:4 planes are not recovered and keep SIGMA_FLOOR.
_P995 = {
    "4:2:0": [
        [7.05, 1.36, 1.14, 1.00, 1.01, 1.14, 1.38, 1.61],
        [1.50, 1.08, 0.97, 0.84, 0.87, 0.93, 1.08, 1.21],
        [1.35, 0.99, 0.86, 0.85, 0.85, 0.93, 1.06, 1.20],
        [1.10, 0.85, 0.82, 0.80, 0.86, 0.92, 1.04, 1.16],
        [1.20, 0.88, 0.85, 0.85, 0.93, 1.04, 1.16, 1.30],
        [1.29, 0.91, 0.90, 0.90, 1.01, 1.09, 1.25, 1.39],
        [1.61, 1.08, 1.02, 1.02, 1.16, 1.25, 1.51, 1.77],
        [1.67, 1.16, 1.14, 1.12, 1.30, 1.36, 1.65, 1.87],
    ],
    "4:2:2": [
        [8.05, 1.40, 1.27, 1.18, 1.24, 1.50, 1.83, 2.31],
        [1.23, 1.01, 0.92, 0.87, 0.95, 1.09, 1.34, 1.59],
        [1.00, 0.82, 0.79, 0.78, 0.84, 0.97, 1.20, 1.49],
        [0.78, 0.69, 0.69, 0.71, 0.77, 0.90, 1.10, 1.31],
        [0.74, 0.64, 0.63, 0.65, 0.73, 0.86, 1.07, 1.30],
        [0.64, 0.61, 0.61, 0.65, 0.71, 0.82, 1.02, 1.20],
        [0.66, 0.60, 0.61, 0.63, 0.69, 0.82, 1.01, 1.23],
        [0.63, 0.58, 0.60, 0.61, 0.69, 0.80, 1.01, 1.17],
    ],
}
# a coefficient counts as off the lattice from 3 floors, i.e. from 1.5 times the 99.5th percentile of the decoder's own
# error: the factor 1.5 (against 1.0 and 2.0) was chosen on the fusion fit set, where it kept the detector's false
# alarms on authentic PNG controls at those of the luma test alone (3.7%) with the same fused F1 as 1.0
FLOOR_SCALE = 1.5
MODE_FLOOR = {k: np.asarray(v, dtype=np.float64).ravel() / 3.0 * FLOOR_SCALE for k, v in _P995.items()}
MIN_INFORMATIVE = 6  # modes with a step of 4 or more a plane needs to count as checkable (luma: 3)
# below this fit residual the chroma has no texture to tell the sub-samplings apart (a grey or flat-coloured picture
# fits every model): not checkable
MIN_FIT = 0.05


@dataclass(frozen=True)
class ChromaCompat:
    subsampling: str  # "4:4:4", "4:2:2" or "4:2:0"
    offset: tuple[int, int]  # (row, col) phase of the 2x sampling in pixels (0 or 1)
    fit_residual: float  # robust residual of the chosen up-sampling model
    results: tuple[CompatResult, ...]  # block tests of the recovered Cb and Cr planes (those that ran)
    factor: tuple[int, int]  # pixels per chroma sample (rows, cols)
    miss: np.ndarray  # (H, W) off-lattice points of each pixel's chroma block, Cb + Cr (0 where excluded)
    valid: bool  # at least one plane was checkable

    @property
    def checked(self) -> tuple[CompatResult, ...]:
        """The planes whose misses count (checkable, with enough informative modes)."""
        return tuple(r for r in self.results if r.valid and r.n_informative >= MIN_INFORMATIVE)


def rgb_to_chroma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """JFIF Cb and Cr (0-255 scale, float32) of an RGB uint8 picture."""
    m = np.array([[-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float32)
    out = cv2.transform(np.ascontiguousarray(rgb[..., :3]).astype(np.float32), m)  # (H, W, 2), float32
    out += 128.0
    return out[..., 0], out[..., 1]


OFF_DIAG = 2 * (3 / 16)  # A^T A: neighbouring samples share two outputs, 3/4 * 1/4 each


@lru_cache(maxsize=16)
def _thomas_factors(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Forward-elimination factors of A^T A for the 2x triangular up-sampling A (2n x n) with replicated edges:
    a symmetric tridiagonal matrix (diagonal 20/16, 26/16 at both ends; off-diagonal 6/16). Returns (1 / pivot,
    upper factor) per row."""
    d = np.full(n, 9 / 16 + 1 / 16 + 9 / 16 + 1 / 16)  # each sample: weight 3/4 twice, 1/4 twice
    if n == 1:
        d[0] = 2.0  # both outputs copy the only sample
    else:
        d[0] = d[-1] = 1.0 + 9 / 16 + 1 / 16  # output 0 copies sample 0 (its left neighbour is itself)
    inv = np.empty(n)
    up = np.zeros(n)
    prev = 0.0
    for i in range(n):
        piv = d[i] - OFF_DIAG * prev
        inv[i] = 1.0 / piv
        prev = OFF_DIAG / piv if i < n - 1 else 0.0
        up[i] = prev
    return inv.astype(np.float32), up.astype(np.float32)


def _solve(rhs: np.ndarray) -> np.ndarray:
    """(A^T A)^-1 rhs along axis 0, every column at once (Thomas algorithm; the matrix is diagonally dominant)."""
    n = rhs.shape[0]
    inv, up = _thomas_factors(n)
    y = np.empty_like(rhs)
    y[0] = rhs[0] * inv[0]
    for i in range(1, n):
        y[i] = (rhs[i] - OFF_DIAG * y[i - 1]) * inv[i]
    for i in range(n - 2, -1, -1):
        y[i] -= up[i] * y[i + 1]
    return y


def _up(c: np.ndarray) -> np.ndarray:
    """Triangular 2x up-sampling along axis 0 (the decoder's 'fancy' filter, without its rounding)."""
    left = np.concatenate([c[:1], c[:-1]], axis=0)
    right = np.concatenate([c[1:], c[-1:]], axis=0)
    out = np.empty((2 * c.shape[0],) + c.shape[1:], dtype=np.float32)
    out[0::2] = 0.75 * c + 0.25 * left
    out[1::2] = 0.75 * c + 0.25 * right
    return out


def _down_ls(x: np.ndarray, axis: int, phase: int) -> np.ndarray:
    """Least-squares chroma samples along ``axis`` from the up-sampled pixels starting at ``phase``."""
    x = np.moveaxis(x, axis, 0)
    n = (x.shape[0] - phase) // 2
    x = np.ascontiguousarray(x[phase : phase + 2 * n], dtype=np.float32)
    # A^T x: each sample collects 3/4 of its two outputs and 1/4 of the two outer neighbours' (edges replicate)
    even, odd = x[0::2], x[1::2]
    atx = 0.75 * (even + odd)
    atx[:-1] += 0.25 * even[1:]  # output 2(i+1) has 1/4 of sample i
    atx[1:] += 0.25 * odd[:-1]  # output 2(i-1)+1 has 1/4 of sample i
    atx[0] += 0.25 * even[0]  # output 0's left neighbour is sample 0 itself
    atx[-1] += 0.25 * odd[-1]
    return np.moveaxis(_solve(atx.astype(np.float32, copy=False)), 0, axis)


def _recover(plane: np.ndarray, sub: str, off: tuple[int, int]) -> np.ndarray:
    c = plane
    if sub in ("4:2:2", "4:2:0"):
        c = _down_ls(c, 1, off[1])
    if sub == "4:2:0":
        c = _down_ls(c, 0, off[0])
    return c


def _residual(plane: np.ndarray, sub: str, off: tuple[int, int]) -> float:
    c = _recover(plane, sub, off)
    u = c
    if sub == "4:2:0":
        u = _up(u)
    u = np.moveaxis(_up(np.moveaxis(u, 1, 0)), 0, 1)
    ref = plane[off[0] : off[0] + u.shape[0], off[1] : off[1] + u.shape[1]]
    r = (ref - u)[2:-2, 2:-2]
    return float(1.4826 * np.median(np.abs(r))) if r.size else float("inf")


Hypothesis = tuple[str, tuple[int, int], float, list[tuple[int, int]] | None]


def _candidates(cb: np.ndarray, grid: tuple[int, int] | None) -> list[Hypothesis]:
    """Sub-sampling hypotheses worth testing, in tie-break order: 4:2:0 and 4:2:2 where their up-sampling model fits the
    Cb of a central crop, then 4:4:4; each with its 2x offset, fit residual and the plane's candidate grid
    phases.

    With the luma grid phase ``grid`` known (pixels, 0-7), the offsets and phases follow from it: chroma blocks
    start on the 16-pixel (4:2:0) or 16 x 8 (4:2:2) MCU grid, which the luma grid fixes up to 8 pixels per
    sub-sampled axis. Without it, the best-fitting offset is taken and every phase searched."""
    h, w = cb.shape
    s = SELECT_SIDE
    y0, x0 = (
        max(0, (h - s) // 2) & ~1,
        max(0, (w - s) // 2) & ~1,
    )  # even start: offsets carry over to the picture
    pb = cb[y0 : y0 + s, x0 : x0 + s]
    out: list[Hypothesis] = []
    for sub in ("4:2:0", "4:2:2"):
        if grid is None:
            offs = [(a, b) for a in (0, 1) for b in (0, 1)] if sub == "4:2:0" else [(0, 0), (0, 1)]
        else:
            offs = [(grid[0] % 2 if sub == "4:2:0" else 0, grid[1] % 2)]
        fits = {off: _residual(pb, sub, off) for off in offs}
        off = min(fits, key=fits.__getitem__)
        if not MIN_FIT <= fits[off] <= FIT_RESIDUAL_MAX:
            continue
        phases = None
        if grid is not None:
            cols = [((grid[1] - off[1]) // 2 + 4 * k) % 8 for k in (0, 1)]
            rows = [((grid[0] - off[0]) // 2 + 4 * k) % 8 for k in (0, 1)] if sub == "4:2:0" else [grid[0]]
            phases = [(r, c) for r in rows for c in cols]
        out.append((sub, off, fits[off], phases))
    # 4:2:2's model has fewer constraints and always fits a 4:2:0 picture a little better; a 4:2:2 picture fits
    # 4:2:0 much worse (residual ratio about 1.4 for 4:2:0 pictures, 1.9-2.0 for 4:2:2 ones)
    if len(out) == 2 and out[0][2] > RATIO_420 * out[1][2]:
        out.reverse()
    out.append(("4:4:4", (0, 0), 0.0, None if grid is None else [grid]))
    return out


def _clip_marks(clip: np.ndarray, sub: str, off: tuple[int, int]) -> np.ndarray:
    """uint8 plane at chroma resolution: 0 where a sample's pixels touch a clipped pixel, 128 elsewhere (the form
    ``jpeg_compatibility`` takes to exclude clipped blocks)."""
    fy, fx = (2, 2) if sub == "4:2:0" else (1, 2) if sub == "4:2:2" else (1, 1)
    c = clip[off[0] :, off[1] :]
    nh, nw = c.shape[0] // fy, c.shape[1] // fx
    c = c[: nh * fy, : nw * fx]
    if fy == 2:
        c = np.maximum(c[0::2], c[1::2])
    if fx == 2:
        c = np.maximum(c[:, 0::2], c[:, 1::2])
    return np.where(c > 0, 0, 128).astype(np.uint8)


def chroma_compatibility(rgb: np.ndarray, grid: tuple[int, int] | None = None) -> ChromaCompat | None:
    """Block-wise JPEG compatibility of the chroma of an RGB uint8 picture; None when it is too small or grey.

    ``grid``: the luma 8x8 grid phase (row, col) when already known; it narrows the search (see
    :func:`_candidates`)."""
    if rgb.ndim != 3 or rgb.shape[2] < 3 or min(rgb.shape[:2]) < 160:
        return None
    rgb = rgb[..., :3]
    cb, cr = rgb_to_chroma(rgb)
    if float(np.abs(cb - 128).max()) < 1.0 and float(np.abs(cr - 128).max()) < 1.0:
        return None  # a grey picture has no chroma to test
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lo, hi = np.minimum(np.minimum(r, g), b), np.maximum(np.maximum(r, g), b)
    clip = ((lo == 0) | (hi == 255)).view(np.uint8)
    # a chroma sample is estimated from the pixels around its footprint: one more pixel on each side
    clip = cv2.dilate(clip, np.ones((3, 3), np.uint8))
    # the hypothesis under which the Cb plane is checkable with the most informative modes (ties: the listed order),
    # decided on a central crop that starts on a multiple of 16 pixels, so block phases carry over to the picture.
    # Every hypothesis is tried: a wrong 2x one can still leave a lattice in some modes (those with even
    # frequencies along the averaged axis), only fewer of them.
    h, w = cb.shape
    y0, x0 = (max(0, (h - TEST_SIDE) // 2) // 16) * 16, (max(0, (w - TEST_SIDE) // 2) // 16) * 16
    whole = y0 == 0 and x0 == 0 and h <= TEST_SIDE and w <= TEST_SIDE
    crop = (slice(y0, y0 + TEST_SIDE), slice(x0, x0 + TEST_SIDE))
    best: tuple[tuple[bool, int], str, tuple[int, int], float, CompatResult] | None = None
    for sub_k, off_k, fit_k, phases_k in _candidates(cb, grid):
        r = jpeg_compatibility(
            _recover(cb[crop], sub_k, off_k),
            _clip_marks(clip[crop], sub_k, off_k),
            SIGMA_FLOOR,
            phases_k,
            MODE_FLOOR.get(sub_k),
        )
        if r is None:
            continue
        key = (r.valid, r.n_informative if r.valid else 0)
        if r.valid and r.n_informative >= MIN_INFORMATIVE and (best is None or key > best[0]):
            best = (key, sub_k, off_k, fit_k, r)
    if best is None:
        return None
    _, sub, off, fit, crop_res = best
    mark = _clip_marks(clip, sub, off)
    phases = [crop_res.phase]
    cb_res = crop_res if whole else None
    fy, fx = (2, 2) if sub == "4:2:0" else (1, 2) if sub == "4:2:2" else (1, 1)
    miss = np.zeros((h, w), dtype=np.float32)
    results: list[CompatResult] = []
    for plane, known in ((cb, cb_res), (cr, None)):
        res = (
            known
            if known is not None
            else jpeg_compatibility(_recover(plane, sub, off), mark, SIGMA_FLOOR, phases, MODE_FLOOR.get(sub))
        )
        if res is None:
            continue
        results.append(res)
        if not res.valid or res.n_informative < MIN_INFORMATIVE:
            continue
        # block (i, j) of the plane covers pixels r0 + 8 fy i .. + 8 fy (rows), likewise for columns; its misses
        # are already 0 where it touches a clipped pixel
        up = np.repeat(np.repeat(res.miss, 8 * fy, axis=0), 8 * fx, axis=1)
        r0, c0 = off[0] + fy * res.phase[0], off[1] + fx * res.phase[1]
        hh, ww = min(h - r0, up.shape[0]), min(w - c0, up.shape[1])
        miss[r0 : r0 + hh, c0 : c0 + ww] += up[:hh, :ww]
    if not results:
        return None
    valid = any(r.valid and r.n_informative >= MIN_INFORMATIVE for r in results)
    return ChromaCompat(
        subsampling=sub,
        offset=off,
        fit_residual=round(fit, 4),
        results=tuple(results),
        factor=(fy, fx),
        miss=miss,
        valid=valid,
    )
