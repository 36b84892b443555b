"""Decode files or bytes into :class:`ImageData` with limits and typed errors.

Contract:

* the container is sniffed from the bytes (the file name is never trusted) and only the matching Pillow plugin
  is allowed to open it;
* the declared pixel size is checked against ``IntakeLimits.max_pixels`` *before* any pixel is decoded
  (decompression bombs), the file size against ``max_file_bytes`` before it is read;
* every decoder failure becomes an :class:`~pixelsleuth.errors.IntakeError` subclass; nothing else escapes for
  bad data;
* the input file is opened read-only and never written.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import struct
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile

from pixelsleuth.errors import (
    CorruptImageError,
    EmptyFileError,
    FileTooLargeError,
    ImageReadError,
    ImageTooLargeError,
    IntakeError,
    TruncatedImageError,
    UnsupportedFormatError,
)
from pixelsleuth.io.image import ImageData, JpegData, MetadataBlocks
from pixelsleuth.io.jpeg import JpegHeader, estimate_quality, parse_jpeg_header
from pixelsleuth.io.meta import (
    RawMeta,
    assemble_extended_xmp,
    jpeg_blocks,
    parse_exif,
    pil_blocks,
    png_blocks,
    scan_jumbf,
    webp_blocks,
)

try:  # HEIF/HEIC through libheif; Pillow >= 11.2 reads AVIF natively.
    import pillow_heif

    pillow_heif.register_heif_opener()
    _HEIF_ERRORS: tuple[type[BaseException], ...] = tuple(
        e for e in (getattr(pillow_heif, "HeifError", None),) if isinstance(e, type)
    )
except Exception:  # noqa: BLE001 - optional codec
    pillow_heif = None
    _HEIF_ERRORS = ()

log = logging.getLogger(__name__)

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF", "AVIF", "PPM")

# Pillow plugins allowed for each sniffed container (never let Pillow guess among all its plugins).
_PIL_FORMATS: dict[str, list[str]] = {
    "JPEG": ["JPEG"],
    "PNG": ["PNG"],
    "WEBP": ["WEBP"],
    "TIFF": ["TIFF"],
    "BMP": ["BMP"],
    "GIF": ["GIF"],
    "HEIF": ["HEIF"],
    "AVIF": ["AVIF", "HEIF"],
    "PPM": ["PPM"],
}


@dataclass(frozen=True)
class IntakeLimits:
    max_pixels: int = 100_000_000
    max_file_bytes: int = 512 * 1024 * 1024
    read_coefficients: bool = True  # JPEG DCT coefficients via jpeglib
    max_frames_counted: int = 10_000  # stop counting animation frames beyond this


_MAGIC: list[tuple[bytes, int, str]] = [
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
]

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}


def sniff_format(head: bytes) -> str | None:
    """Identify the container from its first bytes (>= 32 recommended); never trust a file name."""
    for magic, off, fmt in _MAGIC:
        if head[off : off + len(magic)] == magic:
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        compat = {head[i : i + 4] for i in range(16, min(len(head), 64) - 3, 4)}
        if brand in _AVIF_BRANDS:
            return "AVIF"
        if brand in _HEIF_BRANDS:
            return (
                "AVIF"
                if compat & _AVIF_BRANDS and not compat & (_HEIF_BRANDS - {b"mif1", b"msf1"})
                else "HEIF"
            )
        return None
    if len(head) >= 3 and head[0:1] == b"P" and head[1:2] in b"123456" and head[2:3] in b" \t\r\n#":
        return "PPM"
    return None


# ----------------------------------------------------------------------------------------------------- reading


def _read_source(src: str | os.PathLike[str] | bytes, limits: IntakeLimits) -> tuple[bytes, str]:
    if isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
        if len(data) > limits.max_file_bytes:
            raise FileTooLargeError(f"input is {len(data)} bytes, above the limit of {limits.max_file_bytes}")
        return data, "<bytes>"
    p = Path(src)
    try:
        st = p.stat()
    except FileNotFoundError as e:
        raise ImageReadError(f"{p}: no such file") from e
    except OSError as e:
        raise ImageReadError(f"{p}: cannot read ({e.strerror or e})") from e
    if p.is_dir():
        raise ImageReadError(f"{p}: is a directory, not an image file")
    if st.st_size > limits.max_file_bytes:
        raise FileTooLargeError(
            f"{p.name}: file is {st.st_size} bytes, above the limit of {limits.max_file_bytes}"
        )
    try:
        with open(p, "rb") as fh:  # read-only; the input is never modified
            data = fh.read(limits.max_file_bytes + 1)
    except OSError as e:
        raise ImageReadError(f"{p}: cannot read ({e.strerror or e})") from e
    if len(data) > limits.max_file_bytes:
        raise FileTooLargeError(f"{p.name}: file is above the limit of {limits.max_file_bytes} bytes")
    return data, str(p)


def _declared_size(data: bytes, fmt: str, jhdr: JpegHeader | None) -> tuple[int, int] | None:
    """Width/height straight from the header, for the formats where that is trivial."""
    try:
        if fmt == "PNG" and len(data) >= 24 and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if fmt == "JPEG" and jhdr is not None and jhdr.sof_marker is not None:
            return jhdr.width, jhdr.height
        if fmt == "GIF" and len(data) >= 10:
            return struct.unpack("<HH", data[6:10])
        if fmt == "BMP" and len(data) >= 26:
            hsize = struct.unpack("<I", data[14:18])[0]
            if hsize == 12:
                w, h = struct.unpack("<HH", data[18:22])
                return w, h
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h)
    except struct.error:
        return None
    return None


def _check_pixels(w: int, h: int, limits: IntakeLimits, name: str) -> None:
    if w <= 0 or h <= 0:
        raise CorruptImageError(f"{name}: the header declares an empty image ({w}x{h})")
    if w * h > limits.max_pixels:
        raise ImageTooLargeError(
            f"{name}: the header declares {w}x{h} = {w * h / 1e6:.1f} MP, above the limit of "
            f"{limits.max_pixels / 1e6:.1f} MP (refused before decoding)"
        )


_TRUNC_HINTS = (
    "truncated",
    "premature end",
    "not enough data",
    "unexpected end",
    "end of file",
    "broken data",
)


def _decode_error(e: BaseException, name: str) -> IntakeError:
    if isinstance(e, IntakeError):
        return e
    if isinstance(e, Image.DecompressionBombError):
        return ImageTooLargeError(f"{name}: {e}")
    if isinstance(e, MemoryError):
        return ImageTooLargeError(f"{name}: not enough memory to decode this image")
    msg = str(e) or type(e).__name__
    if isinstance(e, EOFError) or any(h in msg.lower() for h in _TRUNC_HINTS):
        return TruncatedImageError(f"{name}: the file is truncated or incomplete ({msg})")
    return CorruptImageError(f"{name}: cannot decode the image ({type(e).__name__}: {msg})")


# ------------------------------------------------------------------------------------------------ pixel modes


def _to_u8_from_u16(a: np.ndarray) -> np.ndarray:
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _stretch(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    finite = np.isfinite(a)
    if not finite.any():
        return np.zeros(a.shape, dtype=np.uint8)
    lo, hi = float(a[finite].min()), float(a[finite].max())
    a = np.where(finite, a, lo)
    if hi <= lo:
        return np.zeros(a.shape, dtype=np.uint8)
    return np.clip(np.round((a - lo) * 255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def _gray3(g: np.ndarray) -> np.ndarray:
    return np.repeat(g[..., None], 3, axis=2)


def _pixels(
    im: Image.Image, declared_depth: int | None
) -> tuple[np.ndarray, np.ndarray | None, int, list[str]]:
    """-> rgb uint8 HxWx3, alpha uint8 HxW or None, bits per channel, notes."""
    mode = im.mode
    notes: list[str] = []
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        a = np.asarray(im)
        return _gray3(_to_u8_from_u16(a.astype(np.uint16))), None, 16, notes
    if mode == "I":
        a = np.asarray(im).astype(np.int64)
        if declared_depth == 16 or (a.size and a.min() >= 0 and a.max() <= 65535 and a.max() > 255):
            return _gray3(_to_u8_from_u16(np.clip(a, 0, 65535))), None, 16, notes
        if a.size and a.min() >= 0 and a.max() <= 255:
            return _gray3(a.astype(np.uint8)), None, declared_depth or 32, notes
        notes.append("32-bit integer samples were stretched to 8 bits")
        return _gray3(_stretch(a)), None, 32, notes
    if mode == "F":
        a = np.asarray(im).astype(np.float64)
        fin = a[np.isfinite(a)]
        if fin.size and fin.min() >= 0.0 and fin.max() <= 1.0:
            g = np.clip(np.round(np.nan_to_num(a) * 255), 0, 255).astype(np.uint8)
        else:
            notes.append("floating-point samples were stretched to 8 bits")
            g = _stretch(a)
        return _gray3(g), None, 32, notes
    if mode == "CMYK":
        icc = im.info.get("icc_profile")
        rgb_im = None
        if icc:
            try:
                from PIL import ImageCms

                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                dst = ImageCms.createProfile("sRGB")
                rgb_im = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
                notes.append("CMYK converted to sRGB with the embedded ICC profile")
            except Exception:  # noqa: BLE001 - bad profile: fall back to the naive conversion
                rgb_im = None
                notes.append("the embedded CMYK ICC profile could not be used; naive conversion")
        if rgb_im is None:
            rgb_im = im.convert("RGB")
        return np.asarray(rgb_im, dtype=np.uint8), None, declared_depth or 8, notes
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info
    depth = declared_depth or (1 if mode == "1" else 8)
    if has_alpha:
        src = im
        if mode in ("RGBa", "La"):
            src = im.convert("RGBA")
        elif mode not in ("RGBA", "LA"):
            src = im.convert("RGBA")
        if src.mode == "LA":
            a = np.asarray(src)
            return _gray3(a[..., 0]), a[..., 1].copy(), depth, notes
        a = np.asarray(src)
        return a[..., :3].copy(), a[..., 3].copy(), depth, notes
    if mode == "L":
        return _gray3(np.asarray(im)), None, depth, notes
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8), None, depth, notes
    try:
        conv = im.convert("RGB")
    except Exception:  # noqa: BLE001 - e.g. LAB
        from PIL import ImageCms

        conv = ImageCms.profileToProfile(
            im, ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    return np.asarray(conv, dtype=np.uint8), None, depth, notes


def _declared_depth(data: bytes, fmt: str, im: Image.Image, jhdr: JpegHeader | None) -> int | None:
    try:
        if fmt == "PNG" and len(data) >= 25:
            bd, ctype = data[24], data[25]
            return 8 if ctype == 3 else int(bd)
        if fmt == "TIFF":
            bps = getattr(im, "tag_v2", {}).get(258)
            if isinstance(bps, tuple | list) and bps:
                bps = bps[0]
            return int(bps) if isinstance(bps, int) and bps > 0 else None
        if fmt == "JPEG" and len(data) and jhdr is not None and jhdr.sof_marker is not None:
            return None
        bd = im.info.get("bit_depth")
        if isinstance(bd, int) and bd > 0:
            return bd
    except Exception:  # noqa: BLE001
        return None
    return None


_ORIENT_PIL = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an H x W (x C) array, like ``ImageOps.exif_transpose``."""
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = np.swapaxes(a, 0, 1)
    elif orientation == 6:
        a = np.rot90(a, -1)
    elif orientation == 7:
        a = np.swapaxes(a, 0, 1)[::-1, ::-1]
    elif orientation == 8:
        a = np.rot90(a, 1)
    return np.ascontiguousarray(a)


# ------------------------------------------------------------------------------------------------ JPEG data


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """libjpeg (inside jpeglib) prints warnings such as "Corrupt JPEG data" straight to file descriptor 2;
    silence them for the duration of the call (process-wide, so kept as short as possible)."""
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 2)
            finally:
                os.close(devnull)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _count_frames(im: Image.Image, fmt: str, cap: int, notes: list[str]) -> int:
    """Frame count; GIF and APNG are counted by seeking frame by frame, up to ``cap`` (bounded time)."""
    if fmt not in ("GIF", "PNG"):
        return int(getattr(im, "n_frames", 1))
    n = 1
    try:
        while n < cap:
            im.seek(n)
            n += 1
    except EOFError:
        return n
    notes.append(f"frame count stopped at {cap}")
    return n


def _read_coefficients(data: bytes, ncomp: int) -> tuple[tuple[np.ndarray, ...] | None, str | None]:
    if ncomp not in (1, 3):
        return None, f"DCT coefficients are not read for {ncomp}-component JPEGs"
    try:
        import jpeglib
    except Exception:  # noqa: BLE001
        return None, "jpeglib is not installed; DCT coefficients unavailable"
    fd, tmp = tempfile.mkstemp(suffix=".jpg", prefix="pixelsleuth-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        with warnings.catch_warnings(), _quiet_native_stderr():
            warnings.simplefilter("ignore")
            jp = jpeglib.read_dct(tmp)
            comps = [jp.Y] if ncomp == 1 else [jp.Y, jp.Cb, jp.Cr]
        if any(c is None for c in comps):
            return None, "jpeglib returned no coefficients"
        out = []
        for c in comps:
            arr = np.ascontiguousarray(np.asarray(c, dtype=np.int16))
            arr.setflags(write=False)
            out.append(arr)
        return tuple(out), None
    except Exception as e:  # noqa: BLE001 - coefficients are optional; fall back to None
        return None, f"jpeglib could not read the DCT coefficients ({type(e).__name__})"
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _jpeg_data(
    data: bytes, hdr: JpegHeader, im: Image.Image, limits: IntakeLimits, notes: list[str]
) -> JpegData:
    qts = {k: v.copy() for k, v in hdr.quant_tables.items()}
    if not qts:
        # fall back on Pillow's parsed tables (natural order in Pillow >= 8.3)
        for k, v in (getattr(im, "quantization", None) or {}).items():
            try:
                qts[int(k)] = np.asarray(list(v), dtype=np.uint16).reshape(8, 8)
            except Exception:  # noqa: BLE001
                continue
    for v in qts.values():
        v.setflags(write=False)
    luma_idx = hdr.component_qt[0] if hdr.component_qt else 0
    q = estimate_quality(qts[luma_idx]) if luma_idx in qts else None
    coefs = None
    if limits.read_coefficients:
        coefs, why = _read_coefficients(data, len(hdr.components))
        if why:
            notes.append(why)
    return JpegData(
        quant_tables=qts,
        coefficients=coefs,
        component_qt=hdr.component_qt,
        progressive=hdr.progressive,
        subsampling=hdr.subsampling,
        quality_estimate=q,
    )


# --------------------------------------------------------------------------------------------------- public


def load_image(src: str | os.PathLike[str] | bytes, limits: IntakeLimits | None = None) -> ImageData:
    """Decode a path or bytes into an :class:`ImageData`. Raises only ``IntakeError`` subclasses for bad input."""
    limits = limits or IntakeLimits()
    data, source = _read_source(src, limits)
    name = os.path.basename(source) if source != "<bytes>" else "input"
    if not data:
        raise EmptyFileError(f"{name}: the file is empty")
    fmt = sniff_format(data[:64])
    if fmt is None:
        raise UnsupportedFormatError(
            f"{name}: not a recognised image format (supported: {', '.join(SUPPORTED_FORMATS)})"
        )
    Image.init()
    allowed = [f for f in _PIL_FORMATS[fmt] if f in Image.OPEN]
    if not allowed:
        hint = " (install pillow-heif)" if fmt in ("HEIF", "AVIF") else ""
        raise UnsupportedFormatError(f"{name}: no decoder for {fmt} is available here{hint}")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # someone flipped Pillow's global; truncated files must be refused, not silently padded with grey
        log.warning("PIL.ImageFile.LOAD_TRUNCATED_IMAGES was True; pixelsleuth intake resets it to False")
        ImageFile.LOAD_TRUNCATED_IMAGES = False

    jhdr = parse_jpeg_header(data) if fmt == "JPEG" else None
    decl = _declared_size(data, fmt, jhdr)
    if decl is not None:
        _check_pixels(int(decl[0]), int(decl[1]), limits, name)

    raw = RawMeta()
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data), formats=allowed)
            w, h = im.size
            _check_pixels(w, h, limits, name)
            tiff_parsed = None
            if fmt == "TIFF":
                # Pillow applies a TIFF's orientation tag itself while loading; read the tags first.
                try:
                    tiff_parsed = parse_exif(None, raw.warnings, exif=im.getexif())
                except Exception as e:  # noqa: BLE001
                    notes.append(f"TIFF tags could not be read ({type(e).__name__})")
            n_frames, animated = 1, False
            try:
                animated = bool(getattr(im, "is_animated", False))
                if animated:
                    n_frames = _count_frames(im, fmt, limits.max_frames_counted, notes)
                    im.seek(0)
            except Exception as e:  # noqa: BLE001 - a broken later frame does not spoil the first one
                notes.append(f"could not count frames ({type(e).__name__})")
                try:
                    im.seek(0)
                except Exception:  # noqa: BLE001
                    pass
            im.load()
            if im.size[0] * im.size[1] > limits.max_pixels:
                raise ImageTooLargeError(f"{name}: decoded size {im.size} is above the pixel limit")
            pil_mode = im.mode
            declared_depth = _declared_depth(data, fmt, im, jhdr)
            rgb, alpha, depth, pnotes = _pixels(im, declared_depth)
            notes += pnotes
            icc = im.info.get("icc_profile")
            if fmt == "JPEG" and jhdr is not None:
                jpeg_blocks(jhdr, raw)
            elif fmt == "PNG":
                png_blocks(data, raw)
            elif fmt == "WEBP":
                webp_blocks(data, raw)
            pil_blocks(im, fmt, raw)
            jpeg = _jpeg_data(data, jhdr, im, limits, notes) if fmt == "JPEG" and jhdr is not None else None
            heif_orient = im.info.get("original_orientation")
            pil_format = im.format
    except IntakeError:
        raise
    except (Exception, MemoryError, *_HEIF_ERRORS) as e:  # noqa: BLE001 - every decoder failure is typed
        raise _decode_error(e, name) from e
    except BaseException as e:  # e.g. SystemExit from a misbehaving codec; not KeyboardInterrupt
        if isinstance(e, KeyboardInterrupt):
            raise
        raise CorruptImageError(f"{name}: the decoder aborted ({type(e).__name__})") from e

    scan_jumbf(data, raw)
    parsed = tiff_parsed if tiff_parsed is not None else parse_exif(raw.exif_raw, raw.warnings)
    orientation = parsed.orientation
    reported_orientation = orientation
    if fmt == "TIFF":
        orientation = 1  # already applied by Pillow's TIFF loader
    if pil_format == "HEIF":
        # pillow-heif applies the container's own transforms (irot/imir) while decoding; EXIF orientation is
        # informational there and must not be applied a second time. (Pillow's native AVIF plugin instead
        # exposes the transforms as EXIF orientation, which is applied below like any other format.)
        if isinstance(heif_orient, int) and heif_orient != 1:
            notes.append(f"HEIF transforms applied by the decoder (EXIF orientation {heif_orient})")
        orientation = 1
    if rgb.shape[:2] != (im.size[1], im.size[0]):  # pragma: no cover - defensive
        raise CorruptImageError(f"{name}: decoded pixel buffer does not match the declared size")
    if orientation != 1:
        rgb = apply_orientation(rgb, orientation)
        if alpha is not None:
            alpha = apply_orientation(alpha, orientation)
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    rgb.setflags(write=False)
    if alpha is not None:
        alpha = np.ascontiguousarray(alpha, dtype=np.uint8)
        alpha.setflags(write=False)

    other: dict[str, Any] = dict(raw.other)
    if raw.xmp_extended:
        ext = assemble_extended_xmp(raw.xmp_extended)
        if ext:
            other["xmp_extended"] = ext
    if raw.warnings:
        other["warnings"] = list(raw.warnings)
    if notes:
        other["notes"] = notes
    if jhdr is not None and jhdr.errors:
        other["jpeg_header_errors"] = list(jhdr.errors)
    other["pil_format"] = im.format
    metadata = MetadataBlocks(
        exif_raw=raw.exif_raw,
        exif=parsed.tags,
        exif_thumbnail=parsed.thumbnail,
        makernote=parsed.makernote,
        xmp=raw.xmp,
        iptc_raw=raw.iptc_raw,
        png_text=dict(raw.png_text),
        icc_profile=bytes(icc) if isinstance(icc, bytes | bytearray) else None,
        c2pa_present=raw.c2pa,
        jumbf_raw=b"".join(raw.jumbf) if raw.jumbf else None,
        comments=tuple(raw.comments),
        other=other,
    )
    return ImageData(
        rgb=rgb,
        format=fmt,
        mode=pil_mode,
        bit_depth=int(depth),
        sha256=hashlib.sha256(data).hexdigest(),
        source=source,
        file_size=len(data),
        alpha=alpha,
        orientation=reported_orientation if fmt == "TIFF" else orientation,
        n_frames=max(1, n_frames),
        animated=animated and n_frames > 1,
        metadata=metadata,
        jpeg=jpeg,
        data=data,
    )


__all__ = ["SUPPORTED_FORMATS", "IntakeLimits", "apply_orientation", "load_image", "sniff_format"]
