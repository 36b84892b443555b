"""PixelSleuth's own keyed image watermark.

Design (all written for this project):

* A secret key seeds a 32 x 32 grid of *cells* (4 x 4 pixels each at the canonical scale, so one tile is
  128 x 128 px). Half of the cells are a keyed +/-1 *pilot*; the other half carry the payload: 32 bits plus a
  CRC-16, encoded with a rate-1/3, constraint-length-7 convolutional code, whitened with a keyed scrambler and
  spread over the payload cells with keyed signs.
* The tile is repeated over the whole image (at a working resolution whose short side is at most 512 px, then
  upsampled) and added to luma only, scaled by a local-activity mask so textured areas carry more of it.
* Detection whitens the image (high-pass, local contrast normalisation), estimates the tile lattice (scale,
  rotation, aspect, flips) from peaks of the residual's autocorrelation, folds all tiles into one canonical
  tile, and finds the translation by circular correlation with the pilot. The pilot correlation gives a
  zero-bit test with a rigorous false-positive bound; soft Viterbi decoding recovers the payload.
* With the geometry known, the expected pattern is compared with the image locally; where the mark is missing
  (a pasted or regenerated region) the localization map lights up.

The zero-bit p-value: for a fixed image the pilot signs are independent fair coins (they come from the key), so
the normalised pilot correlation z is a Rademacher sum with unit-norm weights, so P(z >= t) <= exp(-t^2 / 2)
(Hoeffding) and, tighter for t above about 1.3, P(z >= t) <= (2 e^3 / 9) * P(N(0, 1) >= t) (Pinelis 1994, "Extremal
probabilistic problems and Hotelling's T^2 test under a symmetry condition", Ann. Statist. 22; about 4x tighter
than Hoeffding at t = 7.5). The smaller of the two bounds, times the number of candidate geometries,
orientations and shifts the search may try (union bound), is each test group's p-value; the two prior lattices
and the search (autocorrelation candidates, keyed rescale/rotation sweep, refinement) share the false-positive
budget half and half (weighted Bonferroni), so the reported p-value is min(2 p_prior, 2 p_search).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from pixelsleuth.errors import WatermarkError

TILE = 128
CELL = 4
GRID = TILE // CELL  # 32 cells per side
N_CELLS = GRID * GRID
N_PILOT = N_CELLS // 2
PAYLOAD_BITS = 32
CRC_BITS = 16
_INFO_BITS = PAYLOAD_BITS + CRC_BITS
_CONV_K = 7
_CONV_POLYS = (0o133, 0o171, 0o165)
N_CODED = (_INFO_BITS + _CONV_K - 1) * len(_CONV_POLYS)  # 162
EMBED_SHORT = 512  # working resolution (short side) for embedding
DETECT_SHORT = 512  # working resolution cap for detection (same as embedding: tiles stay ~128 px)
DEFAULT_RMS = 2.35  # luma RMS of the mark at strength 1.0 (about 40.8 dB PSNR)
SSIM_FLOOR = 0.98  # default: weaken the mark on very smooth images until SSIM reaches this
P_THRESHOLD = 1e-6  # default decision threshold on the zero-bit p-value
UPSAMPLE_BELOW = 320  # detection upsamples images whose short side is below this by 2
VERSION = "1"
INFORMED = 0.5  # host-interference rejection of informed embedding (0 = plain spread spectrum); see embed
K_MAX = 3.0  # largest per-bit amplitude factor of informed embedding


# --------------------------------------------------------------------------------------------- key material


def key_bytes(key: str | bytes) -> bytes:
    """Normalise a user key (text or bytes) to bytes; empty keys are refused."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        raise WatermarkError("the watermark key is empty; give a secret text or key file")
    return bytes(key)


@dataclass(frozen=True)
class _Layout:
    pilot_idx: np.ndarray  # cell indices of the pilot
    pilot_sign: np.ndarray  # +/-1
    payload_idx: np.ndarray  # cell indices carrying coded bits
    payload_bit: np.ndarray  # which coded bit each payload cell carries
    payload_sign: np.ndarray  # +/-1 spreading sign
    scramble: np.ndarray  # 0/1 whitening of the coded bits


_LAYOUT_CACHE: dict[bytes, _Layout] = {}


def _layout(key: str | bytes) -> _Layout:
    kb = key_bytes(key)
    lay = _LAYOUT_CACHE.get(kb)
    if lay is not None:
        return lay
    seed = int.from_bytes(hashlib.sha256(b"pixelsleuth-watermark-v1\x00" + kb).digest()[:16], "little")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(N_CELLS)
    pilot_idx = np.sort(perm[:N_PILOT])
    payload_idx = np.sort(perm[N_PILOT:])
    pilot_sign = rng.choice(np.array([-1.0, 1.0]), N_PILOT)
    n_pay = N_CELLS - N_PILOT
    payload_bit = rng.permutation(np.arange(n_pay) % N_CODED)
    payload_sign = rng.choice(np.array([-1.0, 1.0]), n_pay)
    scramble = rng.integers(0, 2, N_CODED).astype(np.uint8)
    lay = _Layout(pilot_idx, pilot_sign, payload_idx, payload_bit, payload_sign, scramble)
    if len(_LAYOUT_CACHE) > 64:
        _LAYOUT_CACHE.clear()
    _LAYOUT_CACHE[kb] = lay
    return lay


# --------------------------------------------------------------------------------------------- coding


def crc16(bits: np.ndarray) -> np.ndarray:
    """CRC-16/CCITT (poly 0x1021, init 0xFFFF) of a bit array, returned as 16 bits (MSB first)."""
    reg = 0xFFFF
    for b in bits.astype(np.uint8):
        top = ((reg >> 15) & 1) ^ int(b)
        reg = (reg << 1) & 0xFFFF
        if top:
            reg ^= 0x1021
    return np.array([(reg >> (15 - i)) & 1 for i in range(16)], dtype=np.uint8)


def payload_to_bits(payload: int) -> np.ndarray:
    if not 0 <= int(payload) < 2**PAYLOAD_BITS:
        raise WatermarkError(f"payload must be an integer in [0, 2^{PAYLOAD_BITS}); got {payload}")
    return np.array(
        [(int(payload) >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], dtype=np.uint8
    )


def bits_to_payload(bits: np.ndarray) -> int:
    v = 0
    for b in bits[:PAYLOAD_BITS]:
        v = (v << 1) | int(b)
    return v


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


_N_STATES = 1 << (_CONV_K - 1)
# outputs[state, input] -> tuple of coded bits; next_state[state, input]
_NEXT = np.zeros((_N_STATES, 2), dtype=np.int64)
_OUT = np.zeros((_N_STATES, 2, len(_CONV_POLYS)), dtype=np.float64)
for _s in range(_N_STATES):
    for _b in range(2):
        _reg = (_b << (_CONV_K - 1)) | _s
        _NEXT[_s, _b] = _reg >> 1
        for _j, _p in enumerate(_CONV_POLYS):
            _OUT[_s, _b, _j] = _parity(_reg & _p)


def conv_encode(bits: np.ndarray) -> np.ndarray:
    state = 0
    out: list[int] = []
    for b in list(bits.astype(int)) + [0] * (_CONV_K - 1):
        out.extend(int(v) for v in _OUT[state, b])
        state = int(_NEXT[state, b])
    return np.array(out, dtype=np.uint8)


def viterbi_decode(soft: np.ndarray, n_info: int) -> np.ndarray:
    """Soft-decision Viterbi. ``soft[j] > 0`` means coded bit j is more likely 0. Returns n_info bits."""
    n_out = len(_CONV_POLYS)
    steps = len(soft) // n_out
    sym = soft[: steps * n_out].reshape(steps, n_out)
    # branch metric: correlation of (1 - 2*bit) with soft value
    signs = 1.0 - 2.0 * _OUT  # (S, 2, n_out)
    metric = np.full(_N_STATES, -np.inf)
    metric[0] = 0.0
    prev_state = np.zeros((steps, _N_STATES), dtype=np.int64)
    prev_bit = np.zeros((steps, _N_STATES), dtype=np.int8)
    src = np.repeat(np.arange(_N_STATES), 2)
    inp = np.tile(np.array([0, 1]), _N_STATES)
    dst = _NEXT[src, inp]
    for t in range(steps):
        bm = signs[src, inp] @ sym[t]
        cand = metric[src] + bm
        if t >= n_info:  # tail: only zero inputs allowed
            cand = np.where(inp == 0, cand, -np.inf)
        new = np.full(_N_STATES, -np.inf)
        order = np.argsort(cand)  # later (larger) writes win
        new[dst[order]] = cand[order]
        best_src = np.zeros(_N_STATES, dtype=np.int64)
        best_inp = np.zeros(_N_STATES, dtype=np.int8)
        best_src[dst[order]] = src[order]
        best_inp[dst[order]] = inp[order]
        metric = new
        prev_state[t] = best_src
        prev_bit[t] = best_inp
    state = 0 if np.isfinite(metric[0]) else int(np.argmax(metric))
    bits = np.zeros(steps, dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[t] = prev_bit[t, state]
        state = int(prev_state[t, state])
    return bits[:n_info]


# --------------------------------------------------------------------------------------------- patterns


def _cell_values(lay: _Layout, coded: np.ndarray | None) -> np.ndarray:
    v = np.zeros(N_CELLS, dtype=np.float64)
    v[lay.pilot_idx] = lay.pilot_sign
    if coded is not None:
        tx = 1.0 - 2.0 * (coded ^ lay.scramble).astype(np.float64)
        v[lay.payload_idx] = lay.payload_sign * tx[lay.payload_bit]
    return v


def _tile_from_cells(v: np.ndarray, smooth: float = 0.5, norm: np.ndarray | None = None) -> np.ndarray:
    """Tile pattern (unit RMS) from cell values; with ``norm``, normalised by the RMS of the tile built from
    ``norm`` instead (so that per-cell amplitude changes keep their scale)."""

    def build(c: np.ndarray) -> np.ndarray:
        t = np.kron(c.reshape(GRID, GRID), np.ones((CELL, CELL))).astype(np.float32)
        if smooth > 0:
            big = np.tile(t, (3, 3))
            big = cv2.GaussianBlur(big, (0, 0), smooth)
            t = big[TILE : 2 * TILE, TILE : 2 * TILE]
        return t

    t = build(v)
    ref = t if norm is None else build(norm)
    rms = float(np.sqrt(np.mean(ref**2)))
    return (t / max(rms, 1e-9)).astype(np.float32)


def mark_tile(key: str | bytes, payload: int) -> np.ndarray:
    """The canonical 128 x 128 pattern (unit RMS) for a key and payload."""
    lay = _layout(key)
    bits = payload_to_bits(payload)
    coded = conv_encode(np.concatenate([bits, crc16(bits)]))
    return _tile_from_cells(_cell_values(lay, coded))


def _luma(rgb: np.ndarray) -> np.ndarray:
    f = rgb.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise WatermarkError(f"expected an H x W x 3 RGB image, got shape {a.shape}")
    if min(a.shape[:2]) < 64:
        raise WatermarkError(
            f"image is too small to carry the watermark ({a.shape[1]}x{a.shape[0]}; need >= 64 px)"
        )
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    return a


# --------------------------------------------------------------------------------------------- embedding


def _ssim_rgb(rgb: np.ndarray, d: np.ndarray) -> float:
    """Mean over the RGB channels of the SSIM between ``rgb`` and ``rgb + rint(d)`` (d is added to every channel,
    clipped; Gaussian window sigma 1.5, K1 0.01, K2 0.03). A colourful image can have one smooth channel whose
    SSIM is far lower than that of luma, so every channel is measured."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def g(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    di = np.rint(d).astype(np.float32)
    vals = []
    for c in range(3):
        x = rgb[..., c].astype(np.float32)
        z = np.clip(x + di, 0, 255)
        mx, mz = g(x), g(z)
        sx, sz, sxz = g(x * x) - mx * mx, g(z * z) - mz * mz, g(x * z) - mx * mz
        vals.append(
            float(
                np.mean(((2 * mx * mz + c1) * (2 * sxz + c2)) / ((mx * mx + mz * mz + c1) * (sx + sz + c2)))
            )
        )
    return float(np.mean(vals))


def _cell_response(y: np.ndarray) -> np.ndarray:
    """The cell values the detector reads from a working-resolution luma at the embedding lattice (identity
    lattice, orientation 0, shift 0): whitening, folding, 4 x 4 cell sums."""
    r = _whiten(y).astype(np.float64)
    sums, _, _ = _fold(r, (float(TILE), 0.0), (0.0, float(TILE)))
    return _cells_at(_fft_xcorr(sums, _BOX_FC), (0, 0))


def _informed_gains(
    yw: np.ndarray, d: np.ndarray, v: np.ndarray, lay: _Layout, lam: float, k_max: float = K_MAX
) -> np.ndarray:
    """Per-cell amplitude factors for informed embedding (improved spread spectrum, Malvar & Florencio 2003).

    The host image itself projects onto every coded bit's spreading pattern; that interference, not the attacks,
    is the main noise on busy textures. For each coded bit j, ``H_j`` is the host's projection in the direction of
    the bit being sent and ``M_j`` the mark's own projection (both as the detector computes them at the embedding
    lattice). The bit's amplitude becomes ``k_j = a - lam * H_j / M_j`` (clipped to [0, k_max]): bits the host
    already pushes the right way get less energy, bits it opposes get more; ``a`` keeps the payload's total energy
    unchanged, so PSNR does not move. The pilot cells keep factor 1."""
    x_h = _cell_response(yw)
    x_m = _cell_response(yw + d) - x_h
    grp = np.zeros(N_CELLS, dtype=np.int64)
    grp[lay.payload_idx] = 1 + lay.payload_bit
    hh = np.bincount(grp, weights=x_h * v, minlength=N_CODED + 1)[1:]
    mm = np.bincount(grp, weights=x_m * v, minlength=N_CODED + 1)[1:]
    hw, ww = d.shape
    cy, cx = (np.arange(hw) % TILE) // CELL, (np.arange(ww) % TILE) // CELL
    cell = (cy[:, None] * GRID + cx[None, :]).ravel()
    e_cell = np.bincount(cell, weights=(d.astype(np.float64) ** 2).ravel(), minlength=N_CELLS)
    nn = np.bincount(grp, weights=e_cell, minlength=N_CODED + 1)[1:]  # the mark's energy in each coded bit
    ok = mm > 1e-9 * max(float(np.max(np.abs(mm))), 1e-12)
    ratio = np.where(ok, hh / np.where(ok, mm, 1.0), 0.0)
    budget = float(np.sum(nn))

    def energy(a: float) -> float:
        return float(np.sum(nn * np.clip(a - lam * ratio, 0.0, k_max) ** 2))

    lo, hi = 0.0, k_max + lam * float(np.max(np.abs(ratio))) + 1.0
    if energy(hi) < budget:  # every bit at k_max is still within the budget: cannot happen unless lam is huge
        return np.ones(N_CELLS)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if energy(mid) < budget else (lo, mid)
    k = np.clip(0.5 * (lo + hi) - lam * ratio, 0.0, k_max)
    out = np.ones(N_CELLS)
    out[lay.payload_idx] = k[lay.payload_bit]
    return out


def embed(
    rgb: np.ndarray,
    key: str | bytes,
    payload: int,
    strength: float = 1.0,
    ssim_floor: float | None = SSIM_FLOOR,
    informed: float = INFORMED,
) -> np.ndarray:
    """Return a copy of ``rgb`` (uint8 H x W x 3) carrying ``payload`` (a 32-bit integer) under ``key``.

    ``strength`` scales the mark's luma RMS (1.0 is about 40.8 dB PSNR; 2.0 about 34.8 dB). ``ssim_floor``: on very
    smooth images, where a mark of that RMS would be visible, the mark is weakened until the SSIM (at the
    working resolution) reaches this floor; such images are also the easiest to detect the mark in, having
    little texture to hide it. ``None`` keeps the RMS whatever the SSIM. ``informed``: host-interference
    rejection of the payload (see ``_informed_gains``; 0 is plain spread spectrum), at the same mark energy.
    """
    if not (0 < strength <= 10):
        raise WatermarkError(f"strength must be in (0, 10], got {strength}")
    if ssim_floor is not None and not (0 < ssim_floor < 1):
        raise WatermarkError(f"ssim_floor must be in (0, 1) or None, got {ssim_floor}")
    if not (0 <= informed <= 2):
        raise WatermarkError(f"informed must be in [0, 2], got {informed}")
    rgb = _check_rgb(rgb)
    h, w = rgb.shape[:2]
    lay = _layout(key)
    bits = payload_to_bits(payload)
    v = _cell_values(lay, conv_encode(np.concatenate([bits, crc16(bits)])))
    tile = _tile_from_cells(v)
    f = min(1.0, EMBED_SHORT / min(h, w))
    hw, ww = max(1, round(h * f)), max(1, round(w * f))
    small = cv2.resize(rgb, (ww, hw), interpolation=cv2.INTER_AREA) if f < 1 else rgb
    yw = _luma(small)
    reps = (math.ceil(hw / TILE), math.ceil(ww / TILE))
    pat = np.tile(tile, reps)[:hw, :ww]
    mu = cv2.boxFilter(yw, -1, (7, 7))
    mu2 = cv2.boxFilter(yw * yw, -1, (7, 7))
    sd = np.sqrt(np.maximum(mu2 - mu * mu, 0.0))
    sd = cv2.GaussianBlur(sd, (0, 0), 2.0)
    mask = (sd + 3.0) / (float(np.mean(sd)) + 3.0)
    mask = np.clip(mask, 0.5, 2.0)
    d = (mask * pat).astype(np.float32)
    # scale at the working resolution (upsampling only smooths, so the full-size RMS is at most this)
    rms = float(np.sqrt(np.mean(d * d)))
    d *= DEFAULT_RMS * strength / max(rms, 1e-9)

    def floor(d: np.ndarray) -> np.ndarray:
        if ssim_floor is not None:
            # SSIM loss grows about with the square of the mark's amplitude: rescale and re-check (at most 4 times)
            for _ in range(4):
                s = _ssim_rgb(small, d)
                if s >= ssim_floor:
                    break
                d = d * max(0.1, 0.97 * math.sqrt((1.0 - ssim_floor) / max(1.0 - s, 1e-9)))
        return d

    d = floor(d)
    if informed > 0:
        # informed embedding: redistribute the payload's energy across coded bits against the host's own
        # projection (one linearised step at the final amplitude), then re-check the SSIM floor
        scale = float(np.sqrt(np.mean(d * d))) / max(rms, 1e-9)  # d == scale * mask * pat
        g = _informed_gains(yw, d, v, lay, informed)
        pat = np.tile(_tile_from_cells(v * g, norm=v), reps)[:hw, :ww]
        d = floor((scale * mask * pat).astype(np.float32))
    if f < 1:
        d = cv2.resize(d, (w, h), interpolation=cv2.INTER_LINEAR)
    # rint(rgb + d) == rgb + rint(d) for integer rgb: add in int16, saturate to uint8
    out = rgb.astype(np.int16)
    out += np.rint(d).astype(np.int16)[..., None]
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


# --------------------------------------------------------------------------------------------- detection


@dataclass
class Geometry:
    v1: tuple[float, float]  # lattice vector of the tile's x axis in detection pixels (dx, dy)
    v2: tuple[float, float]
    det_scale: float  # detection resolution / image resolution
    source: str  # "autocorrelation" or "identity"

    @property
    def scale(self) -> float:
        """Tile period in image pixels divided by the canonical 128 px."""
        p = 0.5 * (math.hypot(*self.v1) + math.hypot(*self.v2))
        return p / TILE / self.det_scale

    @property
    def angle_deg(self) -> float:
        return math.degrees(math.atan2(self.v1[1], self.v1[0]))


@dataclass
class DetectResult:
    detected: bool
    p_value: float
    z: float
    payload: int | None  # decoded payload when the CRC checks
    payload_valid: bool
    bits: np.ndarray | None  # decoded 32 bits (even when the CRC fails; None if nothing to decode)
    geometry: dict[str, Any] = field(default_factory=dict)
    map: np.ndarray | None = None  # float32 H x W in [0,1]: 1 = the mark is missing here (only when detected)
    presence: np.ndarray | None = None  # float32 H x W: 1 - map
    reliability: np.ndarray | None = None  # float32 H x W: how well this area can show the mark at all
    hole_fraction: float = 0.0
    n_tests: int = 0
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "detected": self.detected,
            "p_value": self.p_value,
            "z": round(self.z, 3),
            "payload": self.payload,
            "payload_hex": None if self.payload is None else f"{self.payload:08x}",
            "payload_valid": self.payload_valid,
            "geometry": self.geometry,
            "hole_fraction": round(self.hole_fraction, 4),
            "n_tests": self.n_tests,
            "elapsed_s": round(self.elapsed_s, 4),
        }


WHITEN_HP = 1.25  # whitening: Gaussian high-pass sigma (px at the working resolution)
WHITEN_NORM = 3.0  # whitening: sigma of the local-energy window used to normalise the residual


def _whiten(y: np.ndarray) -> np.ndarray:
    r = y - cv2.GaussianBlur(y, (0, 0), WHITEN_HP)
    e = cv2.GaussianBlur(r * r, (0, 0), WHITEN_NORM)
    r = r / np.sqrt(e + 1.0)
    return np.clip(r, -3.0, 3.0).astype(np.float32)


def _autocorr(r: np.ndarray) -> np.ndarray:
    h, w = r.shape
    fh, fw = cv2.getOptimalDFTSize(2 * h), cv2.getOptimalDFTSize(2 * w)
    spec = np.fft.rfft2(r, s=(fh, fw))
    a = np.fft.irfft2(np.abs(spec) ** 2, s=(fh, fw))
    a = np.fft.fftshift(a)
    cy, cx = fh // 2, fw // 2
    ys = np.arange(fh) - cy
    xs = np.arange(fw) - cx
    ov = np.maximum(h - np.abs(ys), 1)[:, None] * np.maximum(w - np.abs(xs), 1)[None, :]
    a = a / ov
    a /= max(float(a[cy, cx]), 1e-12)
    # emphasise isolated peaks
    a = a - cv2.blur(a.astype(np.float32), (7, 7))
    # lags with little overlap are unreliable
    a[ov < 0.2 * h * w] = 0
    return a.astype(np.float32), (cy, cx)


def _subpix(a: np.ndarray, y: int, x: int) -> tuple[float, float]:
    if 0 < y < a.shape[0] - 1 and 0 < x < a.shape[1] - 1:
        c = a[y, x]
        dy_den = a[y - 1, x] - 2 * c + a[y + 1, x]
        dx_den = a[y, x - 1] - 2 * c + a[y, x + 1]
        dy = 0.5 * (a[y - 1, x] - a[y + 1, x]) / dy_den if dy_den < 0 else 0.0
        dx = 0.5 * (a[y, x - 1] - a[y, x + 1]) / dx_den if dx_den < 0 else 0.0
        return float(y + np.clip(dy, -0.5, 0.5)), float(x + np.clip(dx, -0.5, 0.5))
    return float(y), float(x)


def _peak_near(
    a: np.ndarray, c: tuple[int, int], v: tuple[float, float], rad: int
) -> tuple[float, float, float]:
    """Strongest autocorrelation value within ``rad`` of lag ``v`` (dx, dy); returns (dx, dy, value)."""
    cy, cx = c
    x0, y0 = round(cx + v[0]), round(cy + v[1])
    ya, yb = max(0, y0 - rad), min(a.shape[0], y0 + rad + 1)
    xa, xb = max(0, x0 - rad), min(a.shape[1], x0 + rad + 1)
    if ya >= yb or xa >= xb:
        return v[0], v[1], -1.0
    win = a[ya:yb, xa:xb]
    iy, ix = np.unravel_index(int(np.argmax(win)), win.shape)
    py, px = _subpix(a, ya + iy, xa + ix)
    return px - cx, py - cy, float(win[iy, ix])


def _lattice_candidates(
    r: np.ndarray, max_cand: int = 4
) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    a, (cy, cx) = _autocorr(r)
    h, w = r.shape
    pmin = 40
    pmax = int(0.6 * min(h, w))
    # only lags up to ~1.5 pmax matter (diagonals and multiples are looked up too)
    m = int(1.5 * pmax) + 8
    y0, x0 = max(0, cy - m), max(0, cx - m)
    a = a[y0 : cy + m + 1, x0 : cx + m + 1]
    cy, cx = cy - y0, cx - x0
    ys, xs = np.mgrid[0 : a.shape[0], 0 : a.shape[1]]
    dx, dy = xs - cx, ys - cy
    rad = np.hypot(dx, dy)
    ang = np.degrees(np.arctan2(dy, dx))
    sector = (rad >= pmin) & (rad <= pmax) & (np.abs(ang) <= 12) & (dx > 0)
    vals = np.where(sector, a, -np.inf).astype(np.float32)
    dil = cv2.dilate(np.where(np.isfinite(vals), vals, -1e9).astype(np.float32), np.ones((5, 5), np.uint8))
    peaks = np.argwhere((vals >= dil) & np.isfinite(vals) & (vals > 0))
    if len(peaks) == 0:
        return []
    pv = vals[peaks[:, 0], peaks[:, 1]]
    order = np.argsort(-pv)[: 4 * max_cand]
    scored = []
    for i in order:
        py, px = peaks[i]
        sy, sx = _subpix(a, int(py), int(px))
        v1 = (sx - cx, sy - cy)
        v2p = (-v1[1], v1[0])
        x2, y2, val2 = _peak_near(a, (cy, cx), v2p, 3)
        v1r, v2r = np.array(v1), np.array([x2, y2])
        # refine with multiples of the lattice vectors where they fit
        for base_idx in (0, 1):
            base = v1r if base_idx == 0 else v2r
            num, den = base.copy(), 1.0
            for k in (2, 3, 4):
                kv = base * k
                if np.hypot(*kv) > pmax:
                    break
                ex, ey, ev = _peak_near(a, (cy, cx), (float(kv[0]), float(kv[1])), 2)
                if ev <= 0:
                    break
                num = num + np.array([ex, ey]) * k
                den += k * k
            ref = num / den if den > 1 else base
            if base_idx == 0:
                v1r = ref
            else:
                v2r = ref
        # a tile lattice also peaks on the diagonals; a JPEG block grid does not
        _, _, d1 = _peak_near(a, (cy, cx), (float(v1r[0] + v2r[0]), float(v1r[1] + v2r[1])), 2)
        _, _, d2 = _peak_near(a, (cy, cx), (float(v1r[0] - v2r[0]), float(v1r[1] - v2r[1])), 2)
        score = float(pv[i]) + max(val2, 0.0) + 2.0 * max(min(d1, d2), 0.0)
        scored.append((score, (float(v1r[0]), float(v1r[1])), (float(v2r[0]), float(v2r[1]))))
    scored.sort(key=lambda t: -t[0])
    out: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for _, v1, v2 in scored:
        if any(abs(v1[0] - o[0][0]) < 2 and abs(v1[1] - o[0][1]) < 2 for o in out):
            continue
        out.append((v1, v2))
        if len(out) >= max_cand:
            break
    return out


def _fft_xcorr(b: np.ndarray, t_fft_conj: np.ndarray) -> np.ndarray:
    """Circular N(s) = sum_p T(p) B(p + s) given conj(FFT(T))."""
    return np.fft.irfft2(np.fft.rfft2(b) * t_fft_conj, s=b.shape)


_BOX = np.zeros((TILE, TILE))
_BOX[:CELL, :CELL] = 1.0
_BOX_FC = np.conj(np.fft.rfft2(_BOX))


def _dihedral(f: np.ndarray, k: int) -> np.ndarray:
    g = np.rot90(f, k % 4)
    return g.T if k >= 4 else g


def _fold(
    r: np.ndarray, v1: tuple[float, float], v2: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = r.shape
    m = np.array([[v1[0], v2[0]], [v1[1], v2[1]]], dtype=np.float64)
    if abs(np.linalg.det(m)) < 1e-6:
        raise WatermarkError("degenerate lattice")
    minv = np.linalg.inv(m) * TILE
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)
    off = np.float32(65536.0)  # keeps coordinates positive so truncation is floor; 1/256 px precision
    rw = r if r.dtype == np.float64 else r.astype(np.float64)
    if minv[0, 1] == 0.0 and minv[1, 0] == 0.0:
        # axis-aligned lattice (the priors and most of the sweep): the bins depend on x or on y only, so compute
        # them per column and per row (the same float32 arithmetic, hence the same bins and sums)
        ux = ((np.float32(minv[0, 0]) * xs) + off).astype(np.int32) & (TILE - 1)
        vy = ((np.float32(minv[1, 1]) * ys) + off).astype(np.int32) & (TILE - 1)
        idx = ((vy << 7)[:, None] | ux[None, :]).ravel()
        sums = np.bincount(idx, weights=rw.ravel(), minlength=TILE * TILE).reshape(TILE, TILE)
        return sums, np.broadcast_to(ux[None, :], (h, w)), np.broadcast_to(vy[:, None], (h, w))
    u = (np.float32(minv[0, 0]) * xs)[None, :] + (np.float32(minv[0, 1]) * ys + off)[:, None]
    v = (np.float32(minv[1, 0]) * xs)[None, :] + (np.float32(minv[1, 1]) * ys + off)[:, None]
    ui = u.astype(np.int32) & (TILE - 1)
    vi = v.astype(np.int32) & (TILE - 1)
    idx = ((vi << 7) | ui).ravel()
    sums = np.bincount(idx, weights=rw.ravel(), minlength=TILE * TILE).reshape(TILE, TILE)
    return sums, ui, vi


_TPL_CACHE: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}


def _pilot_sparse(key: str | bytes) -> tuple[np.ndarray, np.ndarray]:
    kb = key_bytes(key)
    c = _TPL_CACHE.get(kb)
    if c is None:
        lay = _layout(key)
        t = np.zeros((TILE, TILE))
        m = np.zeros((TILE, TILE))
        rr, cc = np.divmod(lay.pilot_idx, GRID)
        t[rr * CELL, cc * CELL] = lay.pilot_sign
        m[rr * CELL, cc * CELL] = 1.0
        c = (np.conj(np.fft.rfft2(t)), np.conj(np.fft.rfft2(m)))
        if len(_TPL_CACHE) > 64:
            _TPL_CACHE.clear()
        _TPL_CACHE[kb] = c
    return c


def _search_shift(
    sums: np.ndarray, key: str | bytes, only: int | None = None
) -> tuple[float, int, tuple[int, int], np.ndarray]:
    """Best (z, dihedral k, shift) of the pilot in a folded tile; also returns the cell-summed tile B."""
    t_fc, m_fc = _pilot_sparse(key)
    best = (-np.inf, 0, (0, 0), sums)
    for k in range(8) if only is None else (only,):
        f = _dihedral(sums, k)
        b = _fft_xcorr(f, _BOX_FC)
        num = _fft_xcorr(b, t_fc)
        den = _fft_xcorr(b * b, m_fc)
        z = num / np.sqrt(np.maximum(den, 1e-12))
        i = int(np.argmax(z))
        if z.flat[i] > best[0]:
            sy, sx = divmod(i, TILE)
            best = (float(z.flat[i]), k, (sy, sx), b)
    return best


PRIOR_WEIGHT = 0.5  # share of the false-positive budget for the two prior lattices (see detect)
SWEEP_SCALES = (0.5, 2.0, 0.012)  # rescaling sweep: ratio range to the prior tile period, log step
SWEEP_ANGLES = (10.0, 0.5)  # rotation sweep: +/- range and step in degrees (0 excluded: that is the prior)
_N_SCALES = int(math.floor(math.log(SWEEP_SCALES[1] / SWEEP_SCALES[0]) / math.log1p(SWEEP_SCALES[2]))) + 1
N_SWEEP = _N_SCALES + 2 * int(round(SWEEP_ANGLES[0] / SWEEP_ANGLES[1]))


def _sweep_lattices(p0: float, short: int) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Axis-aligned lattices rescaled 0.5-2x from the prior period ``p0``, and ``p0`` rotated by +/-0.5-10 deg,
    nearest to the prior first (grid steps from it, rescales and rotations interleaved).

    Periods outside 24 px .. 0.75 x the short side are skipped (too fine to carry the cells, or too few tiles)."""
    out: list[tuple[float, tuple[tuple[float, float], tuple[float, float]]]] = []
    step = math.log1p(SWEEP_SCALES[2])
    for j in range(_N_SCALES):
        p = p0 * SWEEP_SCALES[0] * (1.0 + SWEEP_SCALES[2]) ** j
        if 24.0 <= p <= 0.75 * short:
            out.append((abs(math.log(p / p0)) / step, ((p, 0.0), (0.0, p))))
    n_a = int(round(SWEEP_ANGLES[0] / SWEEP_ANGLES[1]))
    for j in range(1, n_a + 1):
        for sgn in (1.0, -1.0):
            t = math.radians(sgn * j * SWEEP_ANGLES[1])
            c, s_ = math.cos(t) * p0, math.sin(t) * p0
            out.append((j + 0.5, ((c, s_), (-s_, c))))
    out.sort(key=lambda e: e[0])
    return [lat for _, lat in out]


def _cells_at(b: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
    sy, sx = shift
    rr, cc = np.divmod(np.arange(N_CELLS), GRID)
    return b[(rr * CELL + sy) % TILE, (cc * CELL + sx) % TILE]


_PINELIS_C = 2.0 * math.exp(3.0) / 9.0  # ~4.463


def tail_bound(z: float) -> float:
    """Upper bound on P(sum_i a_i e_i >= z) for independent fair signs e_i and any weights with sum a_i^2 = 1."""
    if z <= 0:
        return 1.0
    return float(min(1.0, math.exp(-0.5 * z * z), _PINELIS_C * 0.5 * math.erfc(z / math.sqrt(2.0))))


def _p_value(z: float, n_tests: int) -> float:
    return float(min(1.0, n_tests * tail_bound(z)))


CRC_WEIGHT = 0.25  # share of the false-positive budget spent on "pilot weak but the payload's CRC matches"


def _combined_p(p_pilot: float, crc_ok: bool) -> float:
    """Zero-bit p-value from the pilot's p-value and whether the decoded payload's CRC-16 matches.

    The test rejects when ``p_pilot <= (1 - w) * a``, or when the CRC matches and ``p_pilot <= w * a * 2^16``
    (w = CRC_WEIGHT). On an unmarked image the payload cells' key signs and scrambling are independent of the
    pilot's, so the CRC matches with probability 2^-16 whatever the pilot says, and the false-positive rate is at
    most ``(1 - w) * a + 2^-16 * w * a * 2^16 = a``. This function returns the smallest ``a`` that rejects."""
    p = p_pilot / (1.0 - CRC_WEIGHT)
    if crc_ok:
        p = min(p, p_pilot * 2.0**-CRC_BITS / CRC_WEIGHT)
    return float(min(1.0, p))


def _decode_cells(x: np.ndarray, lay: _Layout) -> tuple[np.ndarray, bool, np.ndarray]:
    soft = np.zeros(N_CODED)
    np.add.at(soft, lay.payload_bit, lay.payload_sign * x[lay.payload_idx])
    soft = soft * (1.0 - 2.0 * lay.scramble)
    info = viterbi_decode(soft, _INFO_BITS)
    ok = bool(np.array_equal(crc16(info[:PAYLOAD_BITS]), info[PAYLOAD_BITS:]))
    return info[:PAYLOAD_BITS], ok, info


def detect(
    rgb: np.ndarray,
    key: str | bytes,
    *,
    p_threshold: float = P_THRESHOLD,
    want_map: bool = True,
    max_candidates: int = 10,
) -> DetectResult:
    """Look for our mark under ``key`` in ``rgb`` (uint8 H x W x 3)."""
    t0 = time.perf_counter()
    rgb = _check_rgb(rgb)
    lay = _layout(key)
    h, w = rgb.shape[:2]
    fd = min(1.0, DETECT_SHORT / min(h, w))
    if min(h, w) < UPSAMPLE_BELOW:
        # small images (often downscaled copies): upsample so the cells span several pixels again and the
        # whitening filter matches their scale
        fd = 2.0
        y = _luma(cv2.resize(rgb, (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC))
    elif fd < 1:  # downscale the uint8 image first: far cheaper than full-resolution float luma
        y = _luma(
            cv2.resize(rgb, (max(1, round(w * fd)), max(1, round(h * fd))), interpolation=cv2.INTER_AREA)
        )
    else:
        y = _luma(rgb)
    r = _whiten(y)
    r64 = r.astype(np.float64)
    # prior guesses: the image as embedded (tile = 128 px at min(1, 512/short) resolution), and that image
    # downscaled by half (the most common resize); then the autocorrelation candidates
    fe = min(1.0, EMBED_SHORT / min(h, w))
    p0 = TILE / fe * fd
    identity = ((p0, 0.0), (0.0, p0))
    half = ((p0 / 2, 0.0), (0.0, p0 / 2))
    # The p-value is corrected for every test the whole procedure may run, fixed in advance (weighted Bonferroni):
    # the two prior lattices (x 8 orientations x all shifts) get PRIOR_WEIGHT of the false-positive budget; the
    # search (autocorrelation candidates x 8 orientations, the sweeps with one orientation each, the local
    # refinement) gets the rest. p = min(p_prior / w, p_search / (1 - w)), each group's p a union bound.
    n_prior = 2 * 8 * TILE * TILE
    n_search = (max_candidates * 8 + N_SWEEP + 2 * 14) * TILE * TILE
    n_tests = n_prior + n_search
    evals: list[tuple[float, Any, Any, Any, Any, Any]] = []

    def _p(z: float, prior: bool) -> float:
        if prior:
            return min(1.0, _p_value(z, n_prior) / PRIOR_WEIGHT)
        return min(1.0, _p_value(z, n_search) / (1.0 - PRIOR_WEIGHT))

    def _p_e(e: tuple[float, Any, Any, Any, Any, Any]) -> float:
        return _p(e[0], e[1][2] in ("identity", "half"))

    def _eval(v1: tuple[float, float], v2: tuple[float, float], src: str, only: int | None = None) -> None:
        try:
            sums, ui, vi = _fold(r64, v1, v2)
        except WatermarkError:
            return
        z, k, shift, b = _search_shift(sums, key, only=only)
        evals.append((z, (v1, v2, src), k, shift, b, (ui, vi)))

    def _good(e: tuple[float, Any, Any, Any, Any, Any]) -> bool:
        # decodes that steer the search only run once the pilot alone is significant (its share of the budget,
        # see _combined_p), so the one decode that can add CRC evidence is the final one
        return _p_e(e) <= (1.0 - CRC_WEIGHT) * p_threshold and _decode_cells(_cells_at(e[4], e[3]), lay)[1]

    _eval(*identity, "identity")
    fast_ok = bool(evals) and _good(evals[0])
    if not fast_ok and p0 / 2 >= 40:
        _eval(*half, "half")
        fast_ok = _good(evals[-1])
    if not fast_ok:  # the image was resized/rotated/...: estimate the lattice from the autocorrelation
        for c in _lattice_candidates(r, max_candidates):
            if any(abs(c[0][0] - q[0][0]) < 1.0 and abs(c[0][1] - q[0][1]) < 1.0 for q in (identity, half)):
                continue
            _eval(c[0], c[1], "autocorrelation")
    if not fast_ok and not (evals and min(_p_e(e) for e in evals) <= p_threshold):
        # autocorrelation peaks are too weak when only a few tiles are left (small images): sweep the two most
        # common geometric edits directly with the key, pure rescaling and pure rotation of the prior lattice
        # nearest to the prior first; stop at the first lattice that passes and decodes
        for v1, v2 in _sweep_lattices(p0, min(y.shape)):
            _eval(v1, v2, "sweep", only=0)
            if _good(evals[-1]):
                break
    if not evals:
        return DetectResult(
            False, 1.0, 0.0, None, False, None, n_tests=n_tests, elapsed_s=time.perf_counter() - t0
        )
    p_best = min(_p_e(e) for e in evals)
    evals.sort(key=lambda e: (_p_e(e), -e[0]))
    best = evals[0]
    fast_ok = fast_ok or _good(best)
    # small local search over scale and rotation around the best two lattices (autocorrelation peaks are only
    # accurate to a fraction of a pixel, which drifts over many tiles); skipped when the mark already decodes
    for ev in [] if fast_ok else evals[:2]:
        _, (v1, v2, src), k0, _, _, _ = ev
        for ds in (-0.012, -0.006, 0.0, 0.006, 0.012):
            for da in (-0.3, 0.0, 0.3):
                if ds == 0.0 and da == 0.0:
                    continue
                c, s_ = math.cos(math.radians(da)) * (1 + ds), math.sin(math.radians(da)) * (1 + ds)
                w1 = (c * v1[0] - s_ * v1[1], s_ * v1[0] + c * v1[1])
                w2 = (c * v2[0] - s_ * v2[1], s_ * v2[0] + c * v2[1])
                try:
                    sums, ui, vi = _fold(r64, w1, w2)
                except WatermarkError:
                    continue
                z, k, shift, b = _search_shift(sums, key, only=k0)
                p_best = min(p_best, _p(z, False))  # refinement tests belong to the search group
                if z > best[0]:
                    best = (z, (w1, w2, src), k, shift, b, (ui, vi))
    z, (v1, v2, src), k, shift, b, (ui, vi) = best
    x = _cells_at(b, shift)
    bits, ok, info = _decode_cells(x, lay)
    p = _combined_p(p_best, ok)
    detected = p <= p_threshold
    ok = ok and detected  # a CRC match alone (chance 2^-16) is not evidence enough to report a payload
    geom = Geometry(v1, v2, fd, src)
    res = DetectResult(
        detected=detected,
        p_value=p,
        z=z,
        payload=bits_to_payload(bits) if ok else None,
        payload_valid=ok,
        bits=bits,
        geometry={
            "scale": round(geom.scale, 4),
            "angle_deg": round(geom.angle_deg, 3),
            "orientation": k,
            "shift": [int(shift[0]), int(shift[1])],
            "source": src,
        },
        n_tests=n_tests,
    )
    if want_map and detected:
        coded = conv_encode(info) if ok else None
        tile = _tile_from_cells(_cell_values(lay, coded))
        # expected pattern in detection coordinates: folded coords -> dihedral -> shift
        exp = _apply_shift_lookup(tile, k, shift, ui, vi)
        decoys = [_apply_shift_lookup(tile, k, (shift[0] + 64, shift[1] + 32), ui, vi),
                  _apply_shift_lookup(tile, k, (shift[0] + 32, shift[1] + 80), ui, vi)]  # fmt: skip
        hole, rel = _hole_posterior(y, r, exp, decoys, geom)
        if fd != 1:
            hole = cv2.resize(hole, (w, h), interpolation=cv2.INTER_AREA if fd > 1 else cv2.INTER_LINEAR)
            rel = cv2.resize(rel, (w, h), interpolation=cv2.INTER_AREA if fd > 1 else cv2.INTER_LINEAR)
        res.map = np.clip(hole, 0.0, 1.0).astype(np.float32)
        res.presence = np.clip(1.0 - hole, 0.0, 1.0).astype(np.float32)
        res.reliability = np.clip(rel, 0.0, 1.0).astype(np.float32)
        res.hole_fraction = float(np.mean(res.map > 0.5))
    res.elapsed_s = time.perf_counter() - t0
    return res


def _apply_shift_lookup(
    tile: np.ndarray, k: int, shift: tuple[int, int], ui: np.ndarray, vi: np.ndarray
) -> np.ndarray:
    """Expected mark value at each detection pixel.

    The folded tile F satisfies dihedral_k(F)[q + shift] ~ T_box[q] (cell grid starting at ``shift``), i.e.
    dihedral_k(F)[p] ~ T[p - shift]. So F = dihedral_k^{-1}(G) with G[p] = T[p - shift].
    """
    g = np.roll(np.roll(tile, shift[0], axis=0), shift[1], axis=1)
    if k >= 4:
        g = g.T
    f = np.rot90(g, -(k % 4))
    return f[vi, ui].astype(np.float32)


HOLE_PRIOR = 0.2  # prior probability that a given area of a marked image was replaced


def _hole_posterior(
    y: np.ndarray, r: np.ndarray, exp: np.ndarray, decoys: list[np.ndarray], geom: Geometry
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel posterior probability that the mark is absent, and a reliability map.

    The local correlation rho between the whitened image and the expected pattern is compared with (a) what the
    mark should give here, predicted from the image's own texture and saturation up to one global gain fitted on
    the image, and (b) the spread of rho for decoy patterns (the noise level). A Gaussian likelihood ratio
    between 'marked' (mean = prediction) and 'hole' (mean 0) with a prior of HOLE_PRIOR gives the posterior.
    Areas where the mark cannot be seen (flat, clipped) get a posterior near the prior, not a false hole.
    """
    period = 0.5 * (math.hypot(*geom.v1) + math.hypot(*geom.v2))
    sig = max(4.0, 0.14 * period)

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z.astype(np.float32), (0, 0), sig)

    rr = blur(r * r)

    def rho(e: np.ndarray) -> np.ndarray:
        return blur(r * e) / np.sqrt(np.maximum(rr * blur(e * e), 1e-9))

    rho_m = rho(exp)
    noise = np.sqrt(np.mean([blur(rho(d) ** 2) for d in decoys], axis=0)) + 1e-3
    # predicted relative mark strength (same activity mask as the embedder, luma clipping kills the mark)
    mu = cv2.boxFilter(y, -1, (7, 7))
    mu2 = cv2.boxFilter(y * y, -1, (7, 7))
    sd = cv2.GaussianBlur(np.sqrt(np.maximum(mu2 - mu * mu, 0.0)), (0, 0), 2.0)
    mask = np.clip((sd + 3.0) / (float(np.mean(sd)) + 3.0), 0.5, 2.0)
    raw = y - cv2.GaussianBlur(y, (0, 0), 2.0)
    e4 = cv2.GaussianBlur(raw * raw, (0, 0), 4.0)
    unclipped = ((y > 4) & (y < 251)).astype(np.float32)
    pred = blur(mask / np.sqrt(e4 + 1.0) * unclipped)
    keep = np.ones_like(pred, dtype=bool)
    hole = np.zeros_like(pred)
    for _ in range(2):  # fit the global gain, leaving out likely holes on the second pass
        c = float(np.sum((rho_m * pred)[keep]) / max(float(np.sum((pred * pred)[keep])), 1e-9))
        m = max(c, 0.0) * pred
        llr = (rho_m * m - 0.5 * m * m) / (noise * noise)
        llr = np.clip(llr + math.log((1 - HOLE_PRIOR) / HOLE_PRIOR), -30, 30)
        hole = 1.0 / (1.0 + np.exp(llr))
        keep = hole < 0.5
        if keep.mean() < 0.3:
            break
    rel = np.clip(m / (3.0 * noise), 0.0, 1.0)
    return hole.astype(np.float32), rel.astype(np.float32)
