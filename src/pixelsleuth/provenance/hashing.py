"""Perceptual hashes: PDQ (our own float64 implementation of Meta's published algorithm, with the 8 dihedral
variants) and a 64-bit DCT perceptual hash. Hashes are ``bytes`` (PDQ: 32, DCT: 8); hex strings follow PDQ's
convention (most significant bit first)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

PDQ_BITS = 256
PDQ_BYTES = 32
PDQ_DIM = 64  # the Jarosz-filtered buffer is decimated to 64 x 64
PDQ_MAX_SIDE = (
    512  # images are first reduced so their longer side is at most 512 (as the reference tool does)
)
PHASH_BYTES = 8

# order of dihedral variants (as transforms applied to the image)
DIHEDRAL_NAMES = ("orig", "rot90", "rot180", "rot270", "flipx", "flipy", "transpose", "transverse")


@dataclass(frozen=True)
class PdqHash:
    bits: bytes  # 32 bytes, MSB first
    quality: int  # 0..100 (the reference recommends ignoring hashes with quality < 50)

    @property
    def hex(self) -> str:
        return self.bits.hex()


@lru_cache(maxsize=8)
def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    i = np.arange(1, n_out + 1, dtype=np.float64)[:, None]
    j = np.arange(n_in, dtype=np.float64)[None, :]
    return np.sqrt(2.0 / n_in) * np.cos(np.pi / (2.0 * n_in) * i * (2.0 * j + 1.0))


def _window_size(old: int, new: int = PDQ_DIM) -> int:
    return (old + 2 * new - 1) // (2 * new)


def _box1d(a: np.ndarray, full: int, axis: int) -> np.ndarray:
    """Mean over the window [o - full + half, o + half - 1] (clipped to the array), along ``axis``."""
    half = (full + 2) // 2
    a = np.moveaxis(a, axis, -1)
    n = a.shape[-1]
    c = np.concatenate([np.zeros(a.shape[:-1] + (1,), dtype=np.float64), np.cumsum(a, axis=-1)], axis=-1)
    o = np.arange(n)
    lo = np.clip(o - full + half, 0, n)
    hi = np.clip(o + half, 0, n)  # exclusive
    out = (c[..., hi] - c[..., lo]) / (hi - lo).astype(np.float64)
    return np.moveaxis(out, -1, axis)


def _luma(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 2:
        return rgb.astype(np.float64)
    f = rgb[..., :3].astype(np.float64)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _reduce(rgb: np.ndarray, max_side: int = PDQ_MAX_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    im = Image.fromarray(np.ascontiguousarray(rgb))
    im.thumbnail((max_side, max_side), resample=Image.Resampling.BICUBIC, reducing_gap=None)
    return np.asarray(im)


def _pdq_buffer(rgb: np.ndarray) -> np.ndarray:
    """64 x 64 float64 buffer: luma, two passes of the Jarosz (box) filter, decimation."""
    y = _luma(_reduce(rgb))
    h, w = y.shape
    wr, wc = _window_size(w), _window_size(h)
    for _ in range(2):
        y = _box1d(y, wr, axis=1)
        y = _box1d(y, wc, axis=0)
    ri = ((np.arange(PDQ_DIM) + 0.5) * h / PDQ_DIM).astype(int)
    ci = ((np.arange(PDQ_DIM) + 0.5) * w / PDQ_DIM).astype(int)
    return y[np.ix_(ri, ci)]


def _quality(buf: np.ndarray) -> int:
    dv = np.trunc((buf[:-1, :] - buf[1:, :]) * 100.0 / 255.0)
    dh = np.trunc((buf[:, :-1] - buf[:, 1:]) * 100.0 / 255.0)
    s = int(np.abs(dv).astype(np.int64).sum() + np.abs(dh).astype(np.int64).sum())
    return min(100, s // 90)


def _bits_from_dct(d: np.ndarray) -> bytes:
    flat = d.reshape(-1)  # k = i * 16 + j
    med = np.sort(flat)[flat.size // 2 - 1]  # lower median (reference behaviour for 256 values)
    bits = (flat > med).astype(np.uint8)
    return np.packbits(bits[::-1]).tobytes()  # bit 255 first


def _dct16(buf: np.ndarray) -> np.ndarray:
    dm = _dct_matrix(16, PDQ_DIM)
    return dm @ buf @ dm.T


def pdq(rgb: np.ndarray) -> PdqHash:
    """PDQ hash of a uint8 RGB (or gray) array."""
    buf = _pdq_buffer(rgb)
    return PdqHash(_bits_from_dct(_dct16(buf)), _quality(buf))


def pdq_dihedral(rgb: np.ndarray) -> list[PdqHash]:
    """PDQ hashes of the 8 rotations/flips of the image, in :data:`DIHEDRAL_NAMES` order.

    Computed from one filtered buffer: the DCT of a transformed image is a sign/transposition change of the
    original's coefficients (DCT basis k is even/odd under reflection for even/odd k+1)."""
    buf = _pdq_buffer(rgb)
    q = _quality(buf)
    d = _dct16(buf)
    # reflection of the input along an axis multiplies coefficient index i (1-based k=i+1) by (-1)^(k+1)...
    sgn = np.where(np.arange(16) % 2 == 0, -1.0, 1.0)  # 1-based frequency k=i+1 odd -> sign flips
    flip_rows = d * sgn[:, None]  # vertical flip (rows reversed)
    flip_cols = d * sgn[None, :]  # horizontal flip
    both = d * sgn[:, None] * sgn[None, :]
    variants = {
        "orig": d,
        "rot90": flip_cols.T,  # np.rot90 (counter-clockwise): transpose of horizontally flipped
        "rot180": both,
        "rot270": flip_rows.T,
        "flipx": flip_cols,
        "flipy": flip_rows,
        "transpose": d.T,
        "transverse": both.T,
    }
    return [PdqHash(_bits_from_dct(variants[n]), q) for n in DIHEDRAL_NAMES]


def apply_dihedral(img: np.ndarray, name: str) -> np.ndarray:
    """The pixel transform a dihedral variant name stands for (for tests and search)."""
    ops = {
        "orig": lambda a: a,
        "rot90": lambda a: np.rot90(a, 1),
        "rot180": lambda a: np.rot90(a, 2),
        "rot270": lambda a: np.rot90(a, 3),
        "flipx": lambda a: a[:, ::-1],
        "flipy": lambda a: a[::-1],
        "transpose": lambda a: np.swapaxes(a, 0, 1),
        "transverse": lambda a: np.rot90(a, 2).swapaxes(0, 1),
    }
    return np.ascontiguousarray(ops[name](img))


def dct_phash(rgb: np.ndarray) -> bytes:
    """64-bit DCT perceptual hash: 32x32 area-resized luma, 8x8 lowest DCT frequencies (DC excluded from the
    median), bit = coefficient > median."""
    import cv2

    y = _luma(rgb).astype(np.float32)
    small = cv2.resize(y, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float64)
    n = 32
    k = np.arange(n, dtype=np.float64)
    m = np.cos(np.pi / n * (k[:, None]) * (k[None, :] + 0.5))
    d = (m @ small @ m.T)[:8, :8].reshape(-1)
    med = np.median(d[1:])
    return np.packbits((d > med).astype(np.uint8)).tobytes()


def hamming(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())


def hex_to_bits(h: str, n_bytes: int = PDQ_BYTES) -> bytes:
    h = h.strip().lower()
    if len(h) != 2 * n_bytes or any(c not in "0123456789abcdef" for c in h):
        raise ValueError(f"not a {8 * n_bytes}-bit hex hash: {h!r}")
    return bytes.fromhex(h)
