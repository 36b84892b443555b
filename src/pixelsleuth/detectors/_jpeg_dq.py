"""Aligned double-quantization model, JPEG-grid (blockiness) analysis and JPEG ghosts, on numpy arrays.

All arrays here are in the file's stored orientation; the detector maps results to display coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from pixelsleuth.detectors._jpeg_util import ZIGZAG_RC, dct_blocks, quality_table, recompress_luma
from pixelsleuth.io.jpeg import STD_LUMA, libjpeg_table

B_MAX = 48  # histogram support |b| <= B_MAX (coefficient values, in units of the current step)
MODE_GAIN_MIN = 0.002  # mean LL gain per block for a mode to count as double-quantized
# A first step coarser than the current one must explain the histogram much better: without this, a mode whose true
# first step is finer (a camera JPEG re-saved at q90) often fits a spurious coarse step (17-24 for a current step of
# 2-3) with gains of 0.002-0.012, whose per-block evidence only follows texture (zero vs non-zero coefficients).
# Measured on the unedited JPEG q90 re-saves of the fusion fit and test sets (benchmarks/jpeg_dq_finer_first.py):
# correct coarse fits have gains >= 0.03.
COARSE_GAIN_MIN = 0.015


@dataclass
class DQResult:
    llr: np.ndarray  # (bh, bw) per-block log-likelihood ratio single vs double compressed (positive = single)
    gain: float  # mean log-likelihood gain per block of the double-compression model over single compression
    alpha: float  # estimated fraction of double-compressed blocks
    q1: dict[str, int] = field(default_factory=dict)  # mode "r,c" -> estimated first step
    q2: dict[str, int] = field(default_factory=dict)
    mode_gain: dict[str, float] = field(default_factory=dict)
    primary_quality: int | None = None


def _hist(v: np.ndarray) -> np.ndarray:
    """Histogram of the values of ``v`` over -B_MAX-1 .. B_MAX+1 (the end bins collect the overflow)."""
    return _hist_rows(np.reshape(v, (1, -1)))[0]


def _hist_rows(v: np.ndarray) -> np.ndarray:
    """:func:`_hist` of every row of ``v``: shape (rows, 2 * B_MAX + 3)."""
    nb = 2 * B_MAX + 3
    b = np.clip(v, -B_MAX - 1, B_MAX + 1).astype(np.int64) + B_MAX + 1 + nb * np.arange(v.shape[0])[:, None]
    return np.bincount(b.ravel(), minlength=nb * v.shape[0]).reshape(v.shape[0], nb).astype(np.float64)


def double_quantization(coef: np.ndarray, qt: np.ndarray, luma: np.ndarray, n_modes: int = 9) -> DQResult:
    """Per-block evidence of aligned double compression, with first-step estimation per DCT mode.

    The distribution of unquantized coefficients is estimated by calibration: the decoded luma cropped by 4 pixels
    (off the grid) and transformed again. Under single compression the stored value b follows
    round(u / Q2); under double compression it follows round(round(u / Q1) * Q1 / Q2), whose histogram has the
    characteristic periodic gaps and peaks. Q1 is chosen per mode by maximum likelihood of a two-class mixture."""
    bh, bw = coef.shape[:2]
    u = dct_blocks(luma[4:-4, 4:-4] - 128.0).astype(np.float64) if min(bh, bw) > 2 else None
    llr = np.zeros((bh, bw), dtype=np.float64)
    res = DQResult(llr=llr, gain=0.0, alpha=0.0)
    if u is None:
        return res
    total_gain = 0.0
    alphas = []
    for r, c in ZIGZAG_RC[:n_modes]:
        q2 = float(qt[r, c])
        obs = coef[:, :, r, c].astype(np.int64)
        uc = u[:, :, r, c].ravel()
        h_obs = _hist(obs)
        inner = slice(1, 2 * B_MAX + 2)  # exclude the overflow bins
        p_sq = _hist(np.rint(uc / q2)) + 0.5
        p_sq /= p_sq.sum()
        n = h_obs[inner].sum()
        if n < 50:
            continue
        ll_sq = float((h_obs[inner] * np.log(p_sq[inner])).sum())
        ll, q1b, a, p_dq = ll_sq, q2, 0.0, p_sq
        q1s = [q1 for q1 in range(1, int(min(127, max(3 * q2, 24))) + 1) if q1 != q2 and q2 % q1 != 0]
        if q1s:  # every candidate first step at once (the same arithmetic as one step at a time)
            qa = np.asarray(q1s, np.float64)[:, None]
            step = max(1, 4_000_000 // max(1, uc.size))  # bound memory: candidates per batch
            p_all = (
                np.concatenate(
                    [
                        _hist_rows(np.rint(np.rint(uc[None] / q) * q / q2))
                        for q in np.split(qa, range(step, len(qa), step))
                    ]
                )
                + 0.5
            )
            p_all /= p_all.sum(axis=1, keepdims=True)
            ho = h_obs[inner][None]
            al = np.full((len(q1s), 1), 0.5)
            for _ in range(8):
                resp = al * p_all / (al * p_all + (1 - al) * p_sq)
                al = np.clip((ho * resp[:, inner]).sum(axis=1, keepdims=True) / n, 0.0, 1.0)
            lls = (ho * np.log((al * p_all + (1 - al) * p_sq)[:, inner])).sum(axis=1)
            k = int(np.argmax(lls))  # the first of equal maxima, as a sequential strict ">" search keeps
            if lls[k] > ll_sq:
                ll, q1b, a, p_dq = float(lls[k]), float(q1s[k]), float(al[k, 0]), p_all[k]
        key = f"{r},{c}"
        g = (ll - ll_sq) / max(1.0, float(bh * bw))
        res.mode_gain[key] = round(g, 5)
        res.q2[key] = int(q2)
        if q1b == q2 or g < MODE_GAIN_MIN or (q1b > q2 and g < COARSE_GAIN_MIN):
            continue
        res.q1[key] = int(q1b)
        total_gain += g
        alphas.append(a)
        eps = 0.05
        p_dq_f = (1 - eps) * p_dq + eps * p_sq
        lr = np.log(p_sq) - np.log(p_dq_f)
        lr[0] = lr[-1] = 0.0
        b = np.clip(obs, -B_MAX - 1, B_MAX + 1) + B_MAX + 1
        llr += np.clip(lr[b], -4.0, 4.0)
    res.gain = total_gain
    res.alpha = float(np.mean(alphas)) if alphas else 0.0
    res.primary_quality = primary_quality(res.q1)
    return res


def primary_quality(q1: dict[str, int]) -> int | None:
    """libjpeg quality whose standard table best matches the first-compression steps found per mode."""
    if len(q1) < 2:
        return None
    best, best_err = None, np.inf
    for q in range(1, 101):
        t = libjpeg_table(STD_LUMA, q)
        err = 0.0
        for key, v in q1.items():
            r, c = (int(s) for s in key.split(","))
            err += abs(np.log(t[r, c]) - np.log(v))
        if err < best_err - 1e-9:
            best, best_err = q, err
    if best is None or best_err / len(q1) > 0.25:
        return None
    return best


# ---------------------------------------------------------------------------------------------------------------
# blocking grid


@dataclass
class GridResult:
    phase: tuple[int, int]  # (row phase, col phase) of the dominant 8x8 grid
    strength: float  # normalized dominant-peak strength (0 = no grid)
    off_map: np.ndarray  # (bh, bw) local strength of a grid at a phase other than ``expected``
    local_strength: np.ndarray  # (bh, bw) local strength of the expected grid


def _blockiness(y: np.ndarray, axis: int) -> np.ndarray:
    """Boundary discontinuity at every position (value at index j = boundary between j-1 and j), clipped."""
    x = y if axis == 1 else y.T
    d = np.abs(np.diff(x, axis=1))
    d = np.minimum(d, 20.0)
    out = np.zeros_like(x)
    # boundary between j-1 and j is d[:, j-1]; neighbours d[:, j-2], d[:, j]
    out[:, 2:-1] = d[:, 1:-1] - 0.5 * (d[:, :-2] + d[:, 2:])
    return out if axis == 1 else out.T


def grid_analysis(y: np.ndarray, expected: tuple[int, int] | None, win_blocks: int = 8) -> GridResult:
    """Dominant blocking-grid phase of a luma plane and a local map of an off-grid (misaligned) blocking pattern."""
    y = y.astype(np.float32)
    bh, bw = y.shape[0] // 8, y.shape[1] // 8
    h8, w8 = bh * 8, bw * 8
    bx = _blockiness(y, 1)[:h8, :w8]
    by = _blockiness(y, 0)[:h8, :w8]
    scale = np.abs(np.diff(y[:h8, :w8], axis=1)).mean() + 0.5
    # per block, per column phase (horizontal discontinuities) and per row phase (vertical)
    px = bx.reshape(bh, 8, bw, 8).sum(axis=1)  # (bh, bw, 8) col phase
    py = by.reshape(bh, 8, bw, 8).sum(axis=3)  # (bh, 8, bw) row phase
    py = py.transpose(0, 2, 1)
    gx = px.sum((0, 1))
    gy = py.sum((0, 1))
    n_lines = float(h8 * bw)
    sx = (gx - np.median(gx)) / (n_lines * scale)
    sy = (gy - np.median(gy)) / (n_lines * scale)
    phase = (int(np.argmax(sy)), int(np.argmax(sx)))
    strength = float(min(sx.max(), sy.max()))
    exp = expected if expected is not None else phase
    k = min(win_blocks, bh, bw)
    # local profiles: boundary differences relative to their neighbourhood (texture-normalized), per phase
    profs = []
    for axis in (1, 0):
        x = y[:h8, :w8] if axis == 1 else y[:h8, :w8].T
        d = np.abs(np.diff(x, axis=1))
        d = d / (ndimage.uniform_filter1d(d, 9, axis=1) + 1.0)
        full = np.zeros_like(x)
        full[:, 1:] = d
        if axis == 1:
            pr = full.reshape(bh, 8, bw, 8).sum(1)  # (bh, bw, col phase)
        else:
            pr = full.reshape(bw, 8, bh, 8).sum(1).transpose(1, 0, 2)  # (bh, bw, row phase)
        pr = ndimage.uniform_filter(pr, size=(k, k, 1), mode="nearest")
        profs.append(pr / (pr.mean(axis=2, keepdims=True) + 1e-6) - 1.0)
    local = np.minimum(profs[0][:, :, exp[1]], profs[1][:, :, exp[0]])
    offs = []
    for pr, e in ((profs[0], exp[1]), (profs[1], exp[0])):
        q = pr.copy()
        q[:, :, e] = -np.inf
        offs.append(q.max(axis=2))
    # a misaligned grid must show in both directions (a pure 1-D shift is rare and easily confused with texture)
    off = np.minimum(offs[0], offs[1])
    return GridResult(phase=phase, strength=strength, off_map=off, local_strength=local)


# ---------------------------------------------------------------------------------------------------------------
# JPEG ghosts


def ghosts(y: np.ndarray, qualities: list[int], win_blocks: int = 5) -> tuple[np.ndarray, dict[int, float]]:
    """Farid-style ghosts: per-block normalized recompression error across qualities; returns (deviation map
    (bh, bw) in [0, 1], median normalized error per quality)."""
    bh, bw = y.shape[0] // 8, y.shape[1] // 8
    yy = y[: bh * 8, : bw * 8].astype(np.float32)
    ds = []
    coef = dct_blocks(yy - 128.0)
    for q in qualities:
        r = recompress_luma(yy, quality_table(q), coef)
        d = ((yy - r) ** 2).reshape(bh, 8, bw, 8).mean((1, 3))
        ds.append(ndimage.uniform_filter(d, size=win_blocks, mode="nearest"))
    d = np.stack(ds)  # (nq, bh, bw)
    lo, hi = d.min(0), d.max(0)
    nrm = (d - lo) / (hi - lo + 1e-3)
    med = np.median(nrm.reshape(len(qualities), -1), axis=1)
    dev = np.abs(nrm - med[:, None, None]).max(0)
    # flat blocks have no meaningful ghost: weight by the error range across qualities
    dev = dev * np.clip((hi - lo) / 5.0, 0.0, 1.0)
    return dev.astype(np.float32), {q: round(float(m), 4) for q, m in zip(qualities, med, strict=True)}
