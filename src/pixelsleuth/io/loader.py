"""Decode files or bytes into :class:`ImageData` with limits and typed errors.

Minimal first version; see tests/test_io_*.py for the contract."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from pixelsleuth.errors import (
    CorruptImageError,
    EmptyFileError,
    FileTooLargeError,
    ImageTooLargeError,
    TruncatedImageError,
    UnsupportedFormatError,
)
from pixelsleuth.io.image import ImageData, MetadataBlocks


@dataclass(frozen=True)
class IntakeLimits:
    max_pixels: int = 100_000_000
    max_file_bytes: int = 512 * 1024 * 1024


_MAGIC: list[tuple[bytes, int, str]] = [
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
]


def sniff_format(head: bytes) -> str | None:
    """Identify the container from its first bytes; never trust a file name."""
    for magic, off, fmt in _MAGIC:
        if head[off : off + len(magic)] == magic:
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIF"
    return None


def load_image(src: str | os.PathLike[str] | bytes, limits: IntakeLimits | None = None) -> ImageData:
    limits = limits or IntakeLimits()
    if isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
        source = "<bytes>"
    else:
        p = Path(src)
        size = p.stat().st_size
        if size > limits.max_file_bytes:
            raise FileTooLargeError(f"{p.name}: file is {size} bytes, above the limit of {limits.max_file_bytes}")
        data = p.read_bytes()
        source = str(p)
    if not data:
        raise EmptyFileError(f"{os.path.basename(source)}: the file is empty")
    fmt = sniff_format(data[:32])
    if fmt is None:
        raise UnsupportedFormatError(f"{os.path.basename(source)}: not a recognised image format")
    Image.MAX_IMAGE_PIXELS = None
    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        if w * h > limits.max_pixels:
            raise ImageTooLargeError(f"{os.path.basename(source)}: {w}x{h} exceeds {limits.max_pixels} pixels")
        im.load()
    except (ImageTooLargeError,):
        raise
    except OSError as e:
        if "truncated" in str(e).lower():
            raise TruncatedImageError(f"{os.path.basename(source)}: the file is truncated ({e})") from e
        raise CorruptImageError(f"{os.path.basename(source)}: cannot decode ({e})") from e
    except Exception as e:  # noqa: BLE001
        raise CorruptImageError(f"{os.path.basename(source)}: cannot decode ({e})") from e
    mode = im.mode
    orientation = int(im.getexif().get(0x0112, 1) or 1)
    im2 = ImageOps.exif_transpose(im)
    rgb = np.asarray(im2.convert("RGB"), dtype=np.uint8).copy()
    rgb.setflags(write=False)
    return ImageData(
        rgb=rgb,
        format=fmt,
        mode=mode,
        bit_depth=16 if mode.startswith("I;16") else 8,
        sha256=hashlib.sha256(data).hexdigest(),
        source=source,
        file_size=len(data),
        orientation=orientation,
        metadata=MetadataBlocks(icc_profile=im.info.get("icc_profile")),
        data=data,
    )
