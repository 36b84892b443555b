"""Small in-memory image generators shared by the intake and detector tests (no files on disk)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def natural(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth-ish, textured, asymmetric RGB test picture (gradients + blobs + noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            120 + 80 * np.sin(xx / 13.0 + seed) * np.cos(yy / 17.0),
            100 + 90 * (xx / max(w, 1)) + 20 * np.sin(yy / 5.0),
            140 - 70 * (yy / max(h, 1)) + 25 * np.cos((xx + yy) / 9.0),
        ],
        axis=-1,
    )
    for _ in range(6):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(4, max(5, min(h, w) // 4))
        m = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        base[m] = base[m] * 0.4 + rng.integers(0, 255, 3) * 0.6
    base += rng.normal(0, 6, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def asymmetric(h: int = 40, w: int = 60) -> np.ndarray:
    """Distinct corners so every orientation is distinguishable."""
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    a[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    a[: h // 4, : w // 4, 2] = 255
    return a


def encode(arr_or_im: np.ndarray | Image.Image, fmt: str, **kw: object) -> bytes:
    im = arr_or_im if isinstance(arr_or_im, Image.Image) else Image.fromarray(arr_or_im)
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def can_encode(fmt: str) -> bool:
    try:
        encode(np.zeros((16, 16, 3), np.uint8), fmt)
        return True
    except Exception:  # noqa: BLE001
        return False


def all_format_samples(seed: int = 0) -> dict[str, bytes]:
    """One small valid file per supported container that this machine can encode."""
    a = natural(48, 64, seed)
    out: dict[str, bytes] = {}
    for fmt, kw in [
        ("JPEG", {"quality": 85}),
        ("PNG", {}),
        ("WEBP", {"quality": 80}),
        ("TIFF", {}),
        ("BMP", {}),
        ("GIF", {}),
        ("PPM", {}),
        ("HEIF", {"quality": 80}),
        ("AVIF", {"quality": 80}),
    ]:
        try:
            out[fmt] = encode(a, fmt, **kw)
        except Exception:  # noqa: BLE001 - encoder not available here
            continue
    out["JPEG_PROGRESSIVE"] = encode(a, "JPEG", quality=90, progressive=True)
    out["PNG_RGBA"] = encode(np.dstack([a, np.full(a.shape[:2], 128, np.uint8)]), "PNG")
    return out


# ---------------------------------------------------------------- hand-crafted headers claiming giant sizes


def _png_chunk(t: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body) & 0xFFFFFFFF)


def giant_png(w: int = 100_000, h: int = 100_000) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def giant_jpeg(w: int = 60_000, h: int = 60_000) -> bytes:
    """A real tiny JPEG whose SOF claims w x h (JPEG sizes are 16-bit)."""
    b = bytearray(encode(np.zeros((8, 8, 3), np.uint8), "JPEG"))
    i = 2
    while i < len(b):
        marker = b[i + 1]
        length = struct.unpack(">H", b[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC2):
            b[i + 5 : i + 9] = struct.pack(">HH", h, w)
            break
        i += 2 + length
    return bytes(b)


def giant_bmp(w: int = 100_000, h: int = 100_000) -> bytes:
    dib = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + dib + b"\x00" * 16


def giant_gif(w: int = 65_000, h: int = 65_000) -> bytes:
    hdr = b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    img = b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0) + b"\x02\x02\x44\x01\x00"
    return hdr + img + b"\x3b"


def giant_webp(w: int = 16_000, h: int = 16_000) -> bytes:
    """VP8X header claiming a canvas of w x h (24-bit fields hold size-1)."""
    vp8x = (
        b"VP8X"
        + struct.pack("<I", 10)
        + b"\x00\x00\x00\x00"
        + (w - 1).to_bytes(3, "little")
        + (h - 1).to_bytes(3, "little")
    )
    body = b"WEBP" + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body
