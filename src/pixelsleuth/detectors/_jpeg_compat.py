"""JPEG compatibility of a losslessly stored image: which 8x8 blocks no longer fit an earlier JPEG compression.

A decoded JPEG keeps, in every 8x8 block of its grid, DCT coefficients that sit on the lattice of the quantization
steps (up to the rounding of the decoder, a fraction of a grey level). Saved losslessly (PNG, TIFF, BMP) the picture
keeps that property everywhere it was not touched. An edit made after decompression (pasting, cloning, inpainting,
filtering, colour or contrast changes, resampling) recomputes the pixels and moves the coefficients of the touched
blocks off the lattice. This module

1. finds the grid phase and the luma quantization step of every DCT mode from the pixels alone (the step that
   best explains the clearly non-zero coefficients, against a uniform alternative),
2. estimates the rounding noise, and
3. scores every block by how far its coefficients fall off the lattice, counting only modes whose step is large
   enough against the noise for a miss to be meaningful.

Blocks with a clipped channel (0 or 255) are excluded: clipping in the decoder moves coefficients off the lattice
in untouched areas. The luma is recomputed from the stored RGB, whose chroma terms the decoder rounded: that adds a
block-correlated error of about 1 to the DC coefficient, so the DC term rarely counts and a pure brightness or
colour shift of a flat area goes unseen unless it also changes the texture.

Everything is numpy on arrays; nothing reads files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.fft import dctn

from pixelsleuth.detectors._jpeg_util import dct_blocks

Q_MAX = 40  # largest quantization step considered (libjpeg quality ~ 30 for the lowest luma modes)
SIGMA0 = 0.4  # initial rounding-noise guess (grey levels, per DCT coefficient)
# blocks sampled per candidate grid phase (500 found the same phase on every checkable test PNG)
PHASE_SAMPLE = 200
FIT_SAMPLE = 3000  # blocks used to estimate the quantization steps
MIN_FIT_BLOCKS = 200  # fewer unclipped blocks than this: estimate the steps on all blocks
MIN_DISTINCT_BLOCKS = 32  # fewer distinct blocks than this: synthetic or repetitive content, not checkable
MIN_INFORMATIVE = 3  # modes with step >= 4 needed to call the image "previously compressed and checkable"
MISS_Z, MISS_CAP = 3.0, 2.0  # a coefficient counts from 3 noise sd off the lattice, at most 2 points per mode


@dataclass(frozen=True)
class CompatResult:
    valid: bool  # a previous JPEG compression was found and can be checked block by block
    phase: tuple[int, int]  # (row, col) offset of the 8x8 grid
    steps: np.ndarray  # (8, 8) estimated luma quantization steps (0 = not identifiable, 1 = none)
    sigma: float  # estimated rounding noise per coefficient
    n_informative: int  # modes with a step of 4 or more
    n_used: int  # modes used for the block test
    miss: np.ndarray  # (bh, bw) off-lattice points per block at ``phase`` (0 on clipped blocks)
    clipped: np.ndarray  # (bh, bw) bool, blocks with a clipped channel


def _blocks(y: np.ndarray, phase: tuple[int, int]) -> tuple[np.ndarray, int, int]:
    """Orthonormal 8x8 DCT of the blocks of ``y`` on the grid at ``phase``: ((n, 64) coefficients, bh, bw)."""
    # float32: errors of 1e-4 grey levels, far below the rounding noise
    c = dct_blocks(y[phase[0] :, phase[1] :] - 128.0)
    bh, bw = c.shape[:2]
    return c.reshape(bh * bw, 64), bh, bw


def _sampled_blocks(
    y: np.ndarray, phases: list[tuple[int, int]], bi: np.ndarray, bj: np.ndarray
) -> np.ndarray:
    """DCT of the blocks (bi, bj) of the grid at each of ``phases`` only (no copy of the whole image):
    shape (len(phases), len(bi), 64)."""
    k = np.arange(8)
    ph = np.asarray(phases).reshape(-1, 2)
    rows = ph[:, 0, None, None] + 8 * bi[None, :, None] + k[None, None, :]  # (phases, blocks, 8)
    cols = ph[:, 1, None, None] + 8 * bj[None, :, None] + k[None, None, :]
    b = y[rows[:, :, :, None], cols[:, :, None, :]] - 128.0
    return dctn(b, axes=(2, 3), norm="ortho").reshape(len(ph), len(bi), 64)


def _lattice_ll(c: np.ndarray, q: float, sigma: float) -> np.ndarray:
    """Per-coefficient log-likelihood ratio: on the lattice of step q (Gaussian rounding noise) vs uniform."""
    # in place, with the arithmetic of -0.5 * ((c - q * round(c / q)) / sigma) ** 2 + log(...), clipped to [-3, 6]:
    # float32 up to the square, float64 from the constant on
    t = c / q
    np.round(t, out=t)
    t *= q
    np.subtract(c, t, out=t)
    np.divide(t, sigma, out=t)
    np.square(t, out=t)
    t *= -0.5
    ll = np.add(t, np.log(q / (np.sqrt(2 * np.pi) * sigma)))
    np.maximum(ll, -3.0, out=ll)
    return np.minimum(ll, 6.0, out=ll)


def _mode_steps(c: np.ndarray, sigma: float, q_max: int, min_n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Per mode, the step that best explains its clearly non-zero coefficients and the mean evidence for it.

    ``c``: (n, 64) coefficients of n blocks, or (g, n, 64) for g groups of blocks (grid phases) at once; the
    results are (64,) or (g, 64). Step 1 means "no lattice"; 0 means too few non-zero coefficients to tell. A larger
    step must win by a margin, so divisors of the true step are not mistaken for it and the true step is not
    mistaken for a multiple."""
    c3 = c.reshape((-1,) + c.shape[-2:])
    g, m = c3.shape[0], c3.shape[2]
    nz = np.abs(c3) >= max(1.5, 4.0 * sigma)
    cnt = nz.sum(axis=1)  # (g, m)
    # only the clearly non-zero coefficients count: evaluate those alone, summed per (group, mode)
    vals = c3[nz]
    gid = np.broadcast_to(np.arange(g * m).reshape(g, 1, m), nz.shape)[nz]  # (group, mode) of each value
    best = np.zeros((g, m))
    step = np.ones((g, m))
    for q in range(2, q_max + 1):
        e = np.bincount(gid, weights=_lattice_ll(vals, q, sigma), minlength=g * m).reshape(g, m) / np.maximum(
            cnt, 1
        )
        better = e > best + 0.02
        best = np.where(better, e, best)
        step = np.where(better, q, step)
    step[cnt < min_n] = 0
    best[cnt < min_n] = 0.0
    shape = c.shape[:-2] + (m,)
    return step.reshape(shape), best.reshape(shape)


def _clipped_blocks(rgb: np.ndarray, phase: tuple[int, int], bh: int, bw: int) -> np.ndarray:
    clip = ((rgb == 0) | (rgb == 255)).any(axis=2) if rgb.ndim == 3 else ((rgb == 0) | (rgb == 255))
    c = clip[phase[0] : phase[0] + bh * 8, phase[1] : phase[1] + bw * 8]
    return c.reshape(bh, 8, bw, 8).any(axis=(1, 3))


def _n_distinct_rows(a: np.ndarray) -> int:
    """Number of distinct rows of a 2-D array (``len(np.unique(a, axis=0))``, by comparing each row's bytes)."""
    a = np.ascontiguousarray(a + 0.0)  # + 0.0 turns -0.0 into 0.0, which np.unique(axis=0) counts as equal
    return len(np.unique(a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()))


def find_phase(
    y: np.ndarray, candidates: list[tuple[int, int]] | None = None, sigma: float = SIGMA0
) -> tuple[int, int]:
    """Grid phase with the strongest lattice evidence over a fixed sample of blocks (among ``candidates``, default
    all 64), assuming rounding noise ``sigma``."""
    h, w = y.shape
    gh, gw = h // 8 - 1, w // 8 - 1  # blocks that exist at every phase
    idx = np.sort(np.random.default_rng(0).choice(gh * gw, size=min(PHASE_SAMPLE, gh * gw), replace=False))
    bi, bj = idx // gw, idx % gw
    phases = candidates or [(r, c) for r in range(8) for c in range(8)]
    scores = _mode_steps(_sampled_blocks(y, phases, bi, bj), sigma, 16, min_n=12)[1].sum(axis=1)
    r, c = phases[int(np.argmax(scores))]
    return int(r), int(c)


def jpeg_compatibility(
    y: np.ndarray,
    rgb: np.ndarray | None = None,
    sigma_floor: float = 0.25,
    phases: list[tuple[int, int]] | None = None,
    mode_floor: np.ndarray | None = None,
) -> CompatResult | None:
    """Block-wise JPEG compatibility of a luma plane (float, 0-255) of a losslessly stored image.

    ``sigma_floor``: the least rounding noise assumed per coefficient (a plane recovered from up-sampled chroma is
    noisier than luma); ``phases``: the grid phases to consider (default all 64). Returns None when the image is too small (fewer than 8 x 8 blocks)."""
    y = np.asarray(y, dtype=np.float32)  # float32 throughout: a 100 MP picture needs about 1 GB, not 2
    if y.shape[0] < 72 or y.shape[1] < 72:
        return None
    phase = find_phase(y, phases, max(SIGMA0, sigma_floor))
    coef, bh, bw = _blocks(y, phase)
    clipped = _clipped_blocks(rgb, phase, bh, bw) if rgb is not None else np.zeros((bh, bw), dtype=bool)
    # the steps are estimated on unclipped blocks: a clamped pixel puts its block off the lattice, and in a picture
    # with large saturated areas (a third of the blocks or more) they can outvote the rest, and a step then reads as 1
    fit_pool = coef[~clipped.ravel()] if (~clipped).sum() >= MIN_FIT_BLOCKS else coef
    sub = fit_pool[:: max(1, len(fit_pool) // FIT_SAMPLE)]
    sigma = max(SIGMA0, sigma_floor)
    step = np.ones(64)
    for _ in range(2):
        step, _ = _mode_steps(sub, sigma, Q_MAX)
        big = step >= 4
        if big.sum() < MIN_INFORMATIVE:
            break  # nothing to refine the noise on, and nothing to check: never compressed, or too finely
        r = sub[:, big] - step[big] * np.round(sub[:, big] / step[big])
        sigma = float(np.clip(1.4826 * np.median(np.abs(r)), sigma_floor, 1.5))
    n_inf = int((step >= 4).sum())
    # a periodic pattern or a picture of a few repeated blocks fits some lattice by coincidence
    too_regular = _n_distinct_rows(np.round(sub, 1)) < MIN_DISTINCT_BLOCKS
    if n_inf < MIN_INFORMATIVE or too_regular:
        return CompatResult(
            valid=False,
            phase=phase,
            steps=step.reshape(8, 8).astype(np.int32),
            sigma=sigma,
            n_informative=n_inf,
            n_used=0,
            miss=np.zeros((bh, bw), dtype=np.float32),
            clipped=np.zeros((bh, bw), dtype=bool),
        )
    # each mode's own noise: the decoder's rounded chroma terms add a block-correlated error to the recomputed luma,
    # about 1 grey level on the DC coefficient and less on the lowest AC ones
    q = np.maximum(step, 1.0)
    r_sub = sub - q * np.round(sub / q)
    sig_k = np.clip(1.4826 * np.median(np.abs(r_sub), axis=0), sigma, 1.5)
    if mode_floor is not None:
        sig_k = np.maximum(sig_k, np.asarray(mode_floor, dtype=np.float64).ravel())
    used = step >= np.maximum(2.0, 5.0 * sig_k)
    total = np.zeros(len(coef))
    miss = np.zeros(len(coef))
    for k in np.flatnonzero(used):
        total += _lattice_ll(coef[:, k], step[k], sig_k[k])
        if step[k] >= 8.0 * sig_k[k]:  # a miss of 3 sd is only possible where half a step exceeds 4 sd
            r = np.abs(coef[:, k] - step[k] * np.round(coef[:, k] / step[k])) / sig_k[k]
            miss += np.clip(r - MISS_Z, 0.0, MISS_CAP)
    miss = miss.reshape(bh, bw)
    miss[clipped] = 0.0
    # checkable: enough modes with a real step, and most blocks do fit the lattice
    valid = n_inf >= MIN_INFORMATIVE and float(np.median(total)) > 0.0
    return CompatResult(
        valid=bool(valid),
        phase=phase,
        steps=step.reshape(8, 8).astype(np.int32),
        sigma=sigma,
        n_informative=n_inf,
        n_used=int(used.sum()),
        miss=miss.astype(np.float32),
        clipped=clipped,
    )


def blocks_to_pixels(block_map: np.ndarray, phase: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """A per-block map of the grid at ``phase`` painted onto an H x W float32 picture (0 outside the grid)."""
    h, w = shape
    out = np.zeros((h, w), dtype=np.float32)
    r0, c0 = phase
    full = np.repeat(np.repeat(np.asarray(block_map, dtype=np.float32), 8, axis=0), 8, axis=1)
    out[r0 : r0 + full.shape[0], c0 : c0 + full.shape[1]] = full[: h - r0, : w - c0]
    return out
