"""The immutable decoded-image object every detector receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np


@dataclass(frozen=True)
class JpegData:
    """JPEG-domain data read straight from the file (no decoding to pixels).

    ``quant_tables``: dict component index -> 8x8 uint16 table in natural (row-major) order.
    ``coefficients``: tuple of int16 arrays, one per component (Y, Cb, Cr), shape (blocks_h, blocks_w, 8, 8),
    quantized DCT coefficients as stored, or None when they could not be read.
    Coefficients are in the file's stored orientation (before EXIF orientation is applied).
    """

    quant_tables: dict[int, np.ndarray]
    coefficients: tuple[np.ndarray, ...] | None
    component_qt: tuple[int, ...] = ()
    progressive: bool = False
    subsampling: str | None = None  # e.g. "4:2:0"
    quality_estimate: float | None = None  # libjpeg-scale quality (1-100) of the luma table


@dataclass(frozen=True)
class MetadataBlocks:
    """Every metadata block found, kept raw; ``exif`` is also parsed into readable tags."""

    exif_raw: bytes | None = None
    exif: dict[str, Any] = field(default_factory=dict)  # tag name -> value (strings/numbers, JSON-friendly)
    exif_thumbnail: bytes | None = None
    makernote: bytes | None = None
    xmp: str | None = None
    iptc_raw: bytes | None = None
    png_text: dict[str, str] = field(default_factory=dict)
    icc_profile: bytes | None = None
    c2pa_present: bool = False  # a JUMBF/C2PA manifest store is embedded
    jumbf_raw: bytes | None = None
    comments: tuple[str, ...] = ()
    other: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class ImageData:
    """A decoded image. Arrays are read-only; the object is never mutated after intake.

    ``rgb`` is uint8 H x W x 3 in display orientation (EXIF orientation already applied).
    """

    rgb: np.ndarray
    format: str  # sniffed container: JPEG, PNG, WEBP, TIFF, BMP, GIF, HEIF, AVIF, ...
    mode: str  # original Pillow mode (RGB, RGBA, P, L, LA, CMYK, I;16, ...)
    bit_depth: int  # bits per channel in the original
    sha256: str
    source: str  # path, or "<bytes>"
    file_size: int
    alpha: np.ndarray | None = None  # uint8 H x W, when the original had transparency
    orientation: int = 1  # EXIF orientation value that was applied (1 = none)
    n_frames: int = 1
    animated: bool = False
    metadata: MetadataBlocks = field(default_factory=MetadataBlocks)
    jpeg: JpegData | None = None
    data: bytes = b""  # the original file bytes (needed by C2PA and JPEG-domain readers)

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def megapixels(self) -> float:
        return self.height * self.width / 1e6

    @cached_property
    def gray(self) -> np.ndarray:
        """float32 luma (ITU-R BT.601) in [0, 255], H x W."""
        r, g, b = (self.rgb[..., i].astype(np.float32) for i in range(3))
        out = 0.299 * r + 0.587 * g + 0.114 * b
        out.setflags(write=False)
        return out

    @property
    def name(self) -> str:
        import os

        return os.path.basename(self.source) if self.source != "<bytes>" else "image"
