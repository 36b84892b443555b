"""Private helpers for the JPEG-domain detectors: orientation mapping, block DCT, coefficient access.

Everything here is pure numpy on arrays; nothing reads files except :func:`read_coefficients`, which only parses
the bytes already held by :class:`~pixelsleuth.io.ImageData` (via a temporary file when the reader needs a path).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np
from scipy.fft import dctn, idctn

from pixelsleuth.io.image import ImageData
from pixelsleuth.io.jpeg import STD_LUMA, estimate_quality, libjpeg_table


def _dct_matrix() -> np.ndarray:
    k = np.arange(8)[:, None]
    n = np.arange(8)[None, :]
    c = np.cos((2 * n + 1) * k * np.pi / 16) * np.sqrt(2 / 8)
    c[0] /= np.sqrt(2)
    return c


DCT8 = _dct_matrix()

# zig-zag index -> (row, col) of the first AC modes, used by the double-quantization model
ZIGZAG_RC: list[tuple[int, int]] = [
    (0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0), (4, 0), (3, 1), (2, 2), (1, 3), (0, 4),
]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# orientation: EXIF orientation o maps the stored raster to the display raster


def to_display(a: np.ndarray, orientation: int) -> np.ndarray:
    """Map an array in stored (file) orientation to display orientation (the first two axes)."""
    o = int(orientation or 1)
    if o == 2:
        return a[:, ::-1]
    if o == 3:
        return a[::-1, ::-1]
    if o == 4:
        return a[::-1]
    if o == 5:
        return np.swapaxes(a, 0, 1)
    if o == 6:
        return np.rot90(a, -1)
    if o == 7:
        return np.swapaxes(a[::-1, ::-1], 0, 1)
    if o == 8:
        return np.rot90(a, 1)
    return a


def to_stored(a: np.ndarray, orientation: int) -> np.ndarray:
    """Inverse of :func:`to_display`."""
    o = int(orientation or 1)
    if o == 6:
        return np.rot90(a, 1)
    if o == 8:
        return np.rot90(a, -1)
    # 2, 3, 4, 5, 7 are involutions
    return to_display(a, o)


# ---------------------------------------------------------------------------------------------------------------
# block DCT


def block_view(x: np.ndarray) -> np.ndarray:
    """(8*bh, 8*bw) -> (bh, bw, 8, 8) (a copy)."""
    bh, bw = x.shape[0] // 8, x.shape[1] // 8
    return x[: bh * 8, : bw * 8].reshape(bh, 8, bw, 8).transpose(0, 2, 1, 3).copy()


def unblock(b: np.ndarray) -> np.ndarray:
    bh, bw = b.shape[:2]
    return b.transpose(0, 2, 1, 3).reshape(bh * 8, bw * 8)


def dct_blocks(x: np.ndarray) -> np.ndarray:
    """Orthonormal 8x8 DCT-II of every aligned block of a float image (JPEG's FDCT), shape (bh, bw, 8, 8)."""
    x = np.asarray(x, dtype=np.float32)
    bh, bw = x.shape[0] // 8, x.shape[1] // 8
    x4 = x[: bh * 8, : bw * 8].reshape(bh, 8, bw, 8)
    return dctn(x4, axes=(1, 3), norm="ortho").transpose(0, 2, 1, 3)


def idct_blocks(c: np.ndarray) -> np.ndarray:
    """Inverse of :func:`dct_blocks`: (bh, bw, 8, 8) coefficients -> (8*bh, 8*bw) pixels."""
    bh, bw = c.shape[:2]
    c4 = np.asarray(c, dtype=np.float32).transpose(0, 2, 1, 3)  # (bh, 8, bw, 8)
    return idctn(c4, axes=(1, 3), norm="ortho").reshape(bh * 8, bw * 8)


def decode_luma(coef_y: np.ndarray, qt: np.ndarray) -> np.ndarray:
    """Pixel-domain luma (stored orientation, padded to whole blocks) as a decoder would produce it."""
    px = idct_blocks(coef_y.astype(np.float32) * qt.astype(np.float32)[None, None]) + 128.0
    return np.clip(np.rint(px), 0, 255)


def recompress_luma(y: np.ndarray, qt: np.ndarray, coef: np.ndarray | None = None) -> np.ndarray:
    """Quantize/dequantize an (aligned) luma plane with table ``qt``; returns the decoded plane (cropped to blocks).

    ``coef``: the plane's block DCT (``dct_blocks(y - 128)`` in float32), when the caller recompresses the same plane
    at several qualities."""
    c = dct_blocks(y.astype(np.float32) - 128.0) if coef is None else coef
    q = qt.astype(np.float32)[None, None]
    return np.clip(np.rint(idct_blocks(np.rint(c / q) * q) + 128.0), 0, 255)


def quality_table(q: int) -> np.ndarray:
    return libjpeg_table(STD_LUMA, q).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# coefficients


@dataclass
class LumaCoefficients:
    coef: np.ndarray  # int16 (bh, bw, 8, 8), stored orientation
    qt: np.ndarray  # 8x8 natural-order table of the luma component
    quality: float | None


def read_coefficients(image: ImageData) -> LumaCoefficients | None:
    """Luma DCT coefficients + table from ``image.jpeg`` or, failing that, from ``image.data`` with jpeglib."""
    j = image.jpeg
    if j is not None and j.coefficients is not None and len(j.coefficients) > 0:
        qidx = j.component_qt[0] if j.component_qt else 0
        qt = j.quant_tables.get(qidx)
        if qt is None and j.quant_tables:
            qt = next(iter(j.quant_tables.values()))
        if qt is not None:
            q = j.quality_estimate if j.quality_estimate is not None else estimate_quality(qt)
            return LumaCoefficients(np.asarray(j.coefficients[0]), np.asarray(qt, dtype=np.float32), q)
    if image.format != "JPEG" or not image.data:
        return None
    try:
        import jpeglib
    except ImportError:  # pragma: no cover - jpeglib is a declared dependency
        return None
    fd, path = tempfile.mkstemp(suffix=".jpg", prefix="pixelsleuth-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(image.data)
        d = jpeglib.read_dct(path)
        y = np.array(d.Y, dtype=np.int16)
        qidx = int(d.quant_tbl_no[0]) if d.quant_tbl_no is not None else 0
        qt = np.array(d.qt[qidx], dtype=np.float32)
    except Exception:  # noqa: BLE001 - unreadable coefficients just mean "no JPEG evidence"
        return None
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    return LumaCoefficients(y, qt, estimate_quality(qt))


def block_map_to_display(bm: np.ndarray, image: ImageData, stored_shape: tuple[int, int]) -> np.ndarray:
    """Upsample a per-8x8-block map (stored orientation) to a display-size pixel map (nearest, cropped)."""
    px = np.repeat(np.repeat(bm.astype(np.float32), 8, axis=0), 8, axis=1)
    sh, sw = stored_shape
    if px.shape[0] < sh or px.shape[1] < sw:
        px = np.pad(px, ((0, max(0, sh - px.shape[0])), (0, max(0, sw - px.shape[1]))), mode="edge")
    px = px[:sh, :sw]
    out = to_display(px, image.orientation)
    return np.ascontiguousarray(out, dtype=np.float32)


def grid_to_pixels(gm: np.ndarray, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Upsample a map on a regular grid of ``cell``-pixel cells to ``shape`` (bilinear, edge-extended)."""
    import cv2

    h, w = shape
    gh, gw = gm.shape
    full = cv2.resize(gm.astype(np.float32), (gw * cell, gh * cell), interpolation=cv2.INTER_LINEAR)
    if full.shape[0] < h or full.shape[1] < w:
        full = np.pad(full, ((0, max(0, h - full.shape[0])), (0, max(0, w - full.shape[1]))), mode="edge")
    return np.ascontiguousarray(full[:h, :w], dtype=np.float32)


def map_gate(score: float, floor: float = 0.1) -> float:
    """Scale factor applied to a detector's raw map given its calibrated image score.

    The map keeps its spatial ranking (factor >= ``floor``), but its values only reach above 0.5 when the
    image-level evidence is strong, so authentic images produce quiet maps: factor = floor below score 0.3,
    rising linearly to 1 at score 0.6."""
    g = float(np.clip((score - 0.3) / 0.3, 0.0, 1.0))
    return floor + (1.0 - floor) * g
