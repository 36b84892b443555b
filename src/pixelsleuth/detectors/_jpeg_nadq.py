"""Non-aligned double JPEG compression: integer periodicity of DCT coefficients on a shifted 8x8 grid.

A picture that was JPEG-compressed, then cropped (or shifted) by a number of pixels that is not a multiple of 8 and
compressed again, keeps the first compression on a grid that the last one does not share. On that shifted grid, the
block DCT coefficients of the decoded picture sit close to multiples of the first quantization steps (the second
compression only adds small noise); on any other grid they do not. So:

1. **Search.** For each of the 49 shifts whose row and column phases both differ from the last compression's grid
   (see :func:`search_shift` for why the others are left out), and for the DC and the two lowest AC modes, the
   coefficients of a sample of blocks are tested for periodicity: for a candidate step ``Q`` at least 1.5 times the
   last step, the Rayleigh statistic ``R = n |mean(exp(2 pi i u / Q))|^2`` over the ``n`` coefficients with
   ``|u| >= Q / 2`` (zeros carry no information), computed on their histogram minus its moving average over one
   period so that the slope of the density does not bias the phases. Under no periodicity ``R`` is about
   exponential with mean 1. The shift whose summed ``log(1 + max_Q R)`` stands out from the median shift is the
   earlier grid.
2. **Map.** On that grid, every block's informative coefficients (modes whose step is found, ``|u| >= Q / 2``)
   vote ``cos(2 pi u / Q)``: about ``exp(-2 pi^2 sigma^2 / Q^2)`` where the first compression is present, about 0
   where it is not (content pasted in after it, or regenerated). The votes are pooled over 7 x 7 blocks.

All arrays are in the stored orientation; the detector maps them to display coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage
from scipy.fft import dct

from pixelsleuth.detectors._jpeg_util import ZIGZAG_RC

_D = dct(np.eye(8), norm="ortho", axis=0)  # row r: the r-th 1-D DCT basis vector
SEARCH_MODES = ZIGZAG_RC[:3]
MAP_MODES = ZIGZAG_RC[:10]
SEARCH_Q = np.arange(2, 25)
MAP_Q = np.arange(2, 25)
SEARCH_SIDE = 640  # the grid search looks at a centred crop of at most this many pixels a side
SEARCH_BLOCKS = 2000  # ... and at most this many of its blocks per shift
MODE_R_MIN = 30.0  # Rayleigh statistic a map mode needs at the chosen grid (null mean 1)
POOL = 7  # blocks a side over which the map's votes are pooled
STEP_RATIO = 1.5  # a candidate first step is at least this many times the last step


@dataclass
class NAResult:
    """``shift``: (row, col) offset of the earlier grid in the stored image; ``contrast``: its search statistic;
    ``steps``: mode "r,c" -> first-compression step found on that grid; ``vote``: (bh', bw') pooled periodicity
    vote on the shifted grid (NaN = no information); ``expected``: the typical vote of a block that kept the first
    compression (90th percentile)."""

    shift: tuple[int, int] | None
    contrast: float
    steps: dict[str, int] = field(default_factory=dict)
    vote: np.ndarray | None = None
    expected: float = 0.0


_BIN = 2  # histogram bins per coefficient unit
_VMAX = 400  # coefficients beyond +-_VMAX (DC of very dark or bright blocks) are left out
_TABLES: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _adjoint_moving_average(c: np.ndarray, size: int) -> np.ndarray:
    """``U.T @ c`` for the moving average ``U h = ndimage.uniform_filter1d(h, size, mode="constant")``, along the
    first axis of ``c``: ``(U h) . c == h . (U.T c)``, so a statistic of the detrended histogram is one dot product
    with the histogram itself."""
    n, a = c.shape[0], size // 2
    cs = np.concatenate([np.zeros((1,) + c.shape[1:]), np.cumsum(c, axis=0)])
    j = np.arange(n)
    return (cs[np.clip(j + a + 1, 0, n)] - cs[np.clip(j + a - size + 1, 0, n)]) / size


def _tables(qs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over the histogram bins, for each step ``q`` of ``qs``: the cos and sin tables of the phase ``2 pi v / q``
    on informative bins (|v| >= q/2), applied to the histogram minus its moving average over one period (the
    average folded in through its adjoint), and the 'informative' indicator. Each (bins, len(qs))."""
    key = tuple(int(q) for q in qs)
    if key not in _TABLES:
        v = (np.arange(2 * _VMAX * _BIN + 1) - _VMAX * _BIN) / _BIN
        ph = 2.0 * np.pi * v[:, None] / qs[None, :]
        inf = (np.abs(v)[:, None] >= qs[None, :] / 2.0).astype(np.float64)
        cs = []
        for t in (np.cos(ph) * inf, np.sin(ph) * inf):
            cs.append(
                np.stack(
                    [t[:, k] - _adjoint_moving_average(t[:, k], int(q) * _BIN) for k, q in enumerate(qs)],
                    axis=1,
                ).astype(np.float32)
            )
        _TABLES[key] = (cs[0], cs[1], inf.astype(np.float32))
    return _TABLES[key]


def _rayleigh_hist(u: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Rayleigh statistic of the phases of ``u`` (shape (..., n)) modulo each step of ``qs``: shape (..., len(qs)).

    Computed on a histogram of ``u`` at 1/2 resolution (phase error <= pi / (2 q)), minus its moving average over
    one period (this removes the smooth trend of the coefficient density, which biases the phases once small values
    are cut, and keeps the period-q component)."""
    lead = u.shape[:-1]
    flat = u.reshape(-1, u.shape[-1])
    nb = 2 * _VMAX * _BIN + 1
    ok = np.isfinite(flat) & (np.abs(np.nan_to_num(flat)) <= _VMAX)
    b = (
        np.clip(np.rint(np.where(ok, flat, 0.0) * _BIN), -_VMAX * _BIN, _VMAX * _BIN).astype(np.int64)
        + _VMAX * _BIN
    )
    idx = (np.arange(flat.shape[0])[:, None] * nb + b)[ok]  # NaN = a block left out
    hist = np.bincount(idx, minlength=flat.shape[0] * nb).reshape(flat.shape[0], nb).astype(np.float32)
    cos_t, sin_t, inf = _tables(qs)
    n = (hist @ inf).astype(np.float64)
    c, s = (hist @ cos_t).astype(np.float64), (hist @ sin_t).astype(np.float64)
    r = np.where(n >= 30, (c**2 + s**2) / np.maximum(n, 1), 0.0)
    return r.reshape(*lead, len(qs))


def _mode_planes(y: np.ndarray, modes: list[tuple[int, int]]) -> np.ndarray:
    """Coefficient of every mode for the 8x8 block starting at every pixel: shape (len(modes), H - 7, W - 7)."""
    h, w = y.shape
    y = np.ascontiguousarray(y, np.float64)
    # correlation anchored at the kernel's corner: out[i, j] = sum_ab D[r, a] D[c, b] y[i + a, j + b]
    return np.stack(
        [
            cv2.sepFilter2D(y, cv2.CV_64F, _D[c], _D[r], anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[
                : h - 7, : w - 7
            ]
            for r, c in modes
        ]
    )


def _keep(textured: np.ndarray | None, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
    """For 8x8 blocks starting at pixel rows ``rows`` x columns ``cols``: do they overlap only textured blocks of
    the last grid? Blocks the last compression left flat (no AC coefficient) make the blocks straddling them
    periodic at half-block shifts (their DC is the mean of two quantized DCs), so they are left out."""
    if textured is None:
        return None
    bh, bw = textured.shape
    r0, r1 = np.clip(rows // 8, 0, bh - 1), np.clip((rows + 7) // 8, 0, bh - 1)
    c0, c1 = np.clip(cols // 8, 0, bw - 1), np.clip((cols + 7) // 8, 0, bw - 1)
    t = textured
    return t[np.ix_(r0, c0)] & t[np.ix_(r0, c1)] & t[np.ix_(r1, c0)] & t[np.ix_(r1, c1)]


def _allowed(qs: np.ndarray, modes: list[tuple[int, int]], qt: np.ndarray | None) -> np.ndarray:
    """(modes, len(qs)) bool: candidate first steps per mode, at least STEP_RATIO times the last step.

    The last compression makes blocks near its own grid (shifted by 1 px in one direction) or straddling two of its
    blocks (half-block shifts) periodic with its own step or half of it; a first compression coarser than the last
    is also the only kind the last one does not erase."""
    if qt is None:
        return np.ones((len(modes), len(qs)), bool)
    return np.stack([qs >= STEP_RATIO * float(qt[r, c]) for r, c in modes])


def search_shift(
    y: np.ndarray,
    last: tuple[int, int] = (0, 0),
    textured: np.ndarray | None = None,
    qt: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[tuple[int, int], float]:
    """(best shift, its contrast over the median shift) of the integer-periodicity search on luma ``y``.

    ``textured``: (bh, bw) bool on the last compression's grid, False for blocks it left without AC content;
    ``qt``: the last compression's luma table (candidate first steps must be coarser)."""
    h, w = y.shape
    s = min(SEARCH_SIDE, h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    planes = _mode_planes(y[y0 : y0 + s, x0 : x0 + s].astype(np.float64) - 128.0, SEARCH_MODES)
    nb = (s - 15) // 8 + 1  # blocks per side available at every shift
    # shifts sharing a row or column phase with the last grid are left out: their blocks keep most of a block of the
    # last grid along that axis, so its lattice leaks into theirs (single-compressed JPEGs score up to 10 there)
    shifts = [(dy, dx) for dy in range(8) for dx in range(8) if dy != last[0] and dx != last[1]]
    # for every block origin of the crop at once (sliced per shift below)
    keep = _keep(textured, y0 + np.arange(planes.shape[1]), x0 + np.arange(planes.shape[2]))
    if keep is not None:
        planes = np.where(keep[None], planes, np.nan)
    us = []
    for dy, dx in shifts:
        ry, rx = (dy - y0) % 8, (dx - x0) % 8  # block origins of this shift inside the crop
        us.append(planes[:, ry : ry + 8 * nb : 8, rx : rx + 8 * nb : 8].reshape(len(SEARCH_MODES), -1))
    u = np.stack(us)  # (shifts, modes, blocks)
    if u.shape[2] > SEARCH_BLOCKS:
        u = u[:, :, np.random.default_rng(seed).choice(u.shape[2], SEARCH_BLOCKS, replace=False)]
    rs = _rayleigh_hist(u, SEARCH_Q) * _allowed(SEARCH_Q, SEARCH_MODES, qt)[None]
    score = np.log1p(rs.max(-1)).sum(-1)
    stats = {k: float(v) for k, v in zip(shifts, score, strict=True)}
    best = max(stats, key=lambda k: stats[k])
    return best, float(stats[best] - np.median(list(stats.values())))


def periodicity_map(
    y: np.ndarray, shift: tuple[int, int], textured: np.ndarray | None = None, qt: np.ndarray | None = None
) -> NAResult:
    """Per-block vote for the first compression on the grid at ``shift`` (see the module docstring)."""
    dy, dx = shift
    bh, bw = (y.shape[0] - dy) // 8, (y.shape[1] - dx) // 8
    x4 = (y[dy : dy + 8 * bh, dx : dx + 8 * bw].astype(np.float32) - 128.0).reshape(bh, 8, bw, 8)
    rows = {r: np.tensordot(x4, _D[r].astype(np.float32), axes=([1], [0])) for r in {m[0] for m in MAP_MODES}}
    keep = _keep(textured, dy + 8 * np.arange(bh), dx + 8 * np.arange(bw))
    res = NAResult(shift=shift, contrast=0.0)
    votes = np.zeros((bh, bw))
    counts = np.zeros((bh, bw))
    allowed = _allowed(MAP_Q, MAP_MODES, qt)
    for i, (r, c) in enumerate(MAP_MODES):
        u = (rows[r] @ _D[c].astype(np.float32)).astype(np.float64)  # (bh, bw)
        if keep is not None:
            u = np.where(keep, u, np.nan)
        rs = _rayleigh_hist(u.reshape(1, -1), MAP_Q)[0] * allowed[i]
        k = int(np.argmax(rs))
        if rs[k] < MODE_R_MIN or k == len(MAP_Q) - 1:  # a best step at the range's end is no estimate
            continue
        q = float(MAP_Q[k])
        res.steps[f"{r},{c}"] = int(q)
        w = np.nan_to_num(np.abs(u), nan=0.0) >= q / 2.0
        votes += np.where(w, np.cos(2.0 * np.pi * np.nan_to_num(u) / q), 0.0)
        counts += w
    if not res.steps:
        return res
    sv = ndimage.uniform_filter(votes, size=POOL, mode="nearest")
    sc = ndimage.uniform_filter(counts, size=POOL, mode="nearest")
    vote = np.where(sc * POOL * POOL >= 8, sv / np.maximum(sc, 1e-9), np.nan)
    res.vote = vote.astype(np.float32)
    finite = vote[np.isfinite(vote)]
    res.expected = float(np.percentile(finite, 90)) if finite.size else 0.0
    return res
