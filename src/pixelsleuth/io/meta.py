"""Metadata block extraction straight from container bytes (JPEG, PNG, WebP, TIFF, GIF, HEIF/AVIF).

Every function here is defensive: malformed metadata never makes intake fail; it is skipped and a warning is
recorded in ``MetadataBlocks.other["warnings"]``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from PIL import ExifTags, Image, TiffImagePlugin

from pixelsleuth.io.jpeg import JpegHeader

MAX_TEXT_BYTES = 8 * 1024 * 1024  # cap for decompressed PNG text chunks
XMP_JPEG_SIG = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_SIG = b"http://ns.adobe.com/xmp/extension/\x00"


@dataclass
class RawMeta:
    exif_raw: bytes | None = None
    xmp: str | None = None
    xmp_extended: list[bytes] = field(default_factory=list)
    iptc_raw: bytes | None = None
    png_text: dict[str, str] = field(default_factory=dict)
    jumbf: list[bytes] = field(default_factory=list)
    c2pa: bool = False
    comments: list[str] = field(default_factory=list)
    other: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _text(b: bytes | str | None) -> str | None:
    if b is None:
        return None
    if isinstance(b, str):
        return b
    for enc in ("utf-8", "latin-1"):
        try:
            return b.decode(enc)
        except UnicodeDecodeError:
            continue
    return None  # pragma: no cover - latin-1 always decodes


def _strip_nul(s: str) -> str:
    return s.rstrip("\x00").strip()


# ---------------------------------------------------------------- JPEG


def jpeg_blocks(hdr: JpegHeader, meta: RawMeta) -> None:
    app11: dict[tuple[int, int], list[tuple[int, bytes]]] = {}
    for n, p in hdr.app:
        if n == 1 and p.startswith(b"Exif\x00") and meta.exif_raw is None:
            meta.exif_raw = p[6:] if len(p) >= 6 else b""
        elif n == 1 and p.startswith(XMP_JPEG_SIG) and meta.xmp is None:
            meta.xmp = _text(p[len(XMP_JPEG_SIG) :])
        elif n == 1 and p.startswith(XMP_EXT_SIG):
            meta.xmp_extended.append(p[len(XMP_EXT_SIG) :])
        elif n == 13 and p.startswith(b"Photoshop 3.0\x00"):
            iptc = _photoshop_iptc(p[14:])
            if iptc is not None:
                meta.iptc_raw = (meta.iptc_raw or b"") + iptc
            meta.other["photoshop_irb"] = True
        elif n == 11 and p[:2] == b"JP" and len(p) >= 16:
            # JUMBF in APP11: "JP", box instance (2), packet sequence (4), then the box (LBox, TBox, ...).
            inst, seq = struct.unpack(">HI", p[2:8])
            box_type = p[12:16]
            app11.setdefault((inst, 0), []).append((seq, p[8:] if seq == 1 else p[16:]))
            if box_type == b"jumb":
                meta.other.setdefault("jumbf_boxes", 0)
                meta.other["jumbf_boxes"] += 1
        elif n == 14 and p.startswith(b"Adobe"):
            meta.other["adobe_app14"] = True
        elif n == 0 and p.startswith(b"JFIF\x00"):
            meta.other["jfif"] = True
        elif n == 2 and p.startswith(b"MPF\x00"):
            meta.other["mpf"] = True
    for (_inst, _), parts in sorted(app11.items()):
        parts.sort(key=lambda t: t[0])
        meta.jumbf.append(b"".join(p for _, p in parts))
    for c in hdr.comments:
        t = _text(c)
        if t is not None:
            meta.comments.append(_strip_nul(t))


def assemble_extended_xmp(parts: list[bytes], limit: int = MAX_TEXT_BYTES) -> str | None:
    """Reassemble JPEG extended XMP (APP1 chunks: 32-byte GUID, full length, offset, data) into one string."""
    if not parts:
        return None
    total = 0
    for p in parts:
        if len(p) >= 40:
            total = max(total, struct.unpack(">I", p[32:36])[0])
    total = min(total, limit)
    if total <= 0:
        return None
    buf = bytearray(total)
    for p in parts:
        if len(p) < 40:
            continue
        off = struct.unpack(">I", p[36:40])[0]
        data = p[40:]
        if off >= total:
            continue
        chunk = data[: total - off]
        buf[off : off + len(chunk)] = chunk
    return _text(bytes(buf).rstrip(b"\x00"))


def _photoshop_iptc(p: bytes) -> bytes | None:
    """Find image resource 0x0404 (IPTC-NAA) in a Photoshop IRB block."""
    i, out = 0, None
    while i + 12 <= len(p) and p[i : i + 4] == b"8BIM":
        rid = struct.unpack(">H", p[i + 4 : i + 6])[0]
        nlen = p[i + 6]
        j = i + 7 + nlen
        if (1 + nlen) % 2:
            j += 1
        if j + 4 > len(p):
            break
        size = struct.unpack(">I", p[j : j + 4])[0]
        j += 4
        if j + size > len(p):
            break
        if rid == 0x0404:
            out = p[j : j + size]
        i = j + size + (size % 2)
    return out


# ---------------------------------------------------------------- PNG


def _bounded_inflate(data: bytes, meta: RawMeta, what: str) -> bytes | None:
    try:
        d = zlib.decompressobj()
        out = d.decompress(data, MAX_TEXT_BYTES)
        if d.unconsumed_tail:
            meta.warnings.append(f"{what}: decompressed text above {MAX_TEXT_BYTES} bytes was cut")
        return out
    except zlib.error:
        meta.warnings.append(f"{what}: compressed text is corrupt")
        return None


def png_blocks(data: bytes, meta: RawMeta, max_chunks: int = 100_000) -> None:
    pos, n = 8, len(data)
    for _ in range(max_chunks):
        if pos + 8 > n:
            return
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            meta.warnings.append(f"PNG chunk {ctype!r} is truncated")
            return
        if ctype == b"IEND":
            return
        try:
            if ctype == b"tEXt":
                k, _, v = body.partition(b"\x00")
                meta.png_text[k.decode("latin-1")] = v.decode("latin-1")
            elif ctype == b"zTXt":
                k, _, rest = body.partition(b"\x00")
                v = _bounded_inflate(rest[1:], meta, "zTXt")
                if v is not None:
                    meta.png_text[k.decode("latin-1")] = v.decode("latin-1")
            elif ctype == b"iTXt":
                k, _, rest = body.partition(b"\x00")
                if len(rest) >= 2:
                    comp = rest[0]
                    _lang, _, rest2 = rest[2:].partition(b"\x00")
                    _tkey, _, text = rest2.partition(b"\x00")
                    raw = _bounded_inflate(text, meta, "iTXt") if comp else text
                    if raw is not None:
                        key = k.decode("latin-1")
                        val = raw.decode("utf-8", errors="replace")
                        if key == "XML:com.adobe.xmp":
                            meta.xmp = meta.xmp or val
                        else:
                            meta.png_text[key] = val
            elif ctype == b"eXIf":
                meta.exif_raw = meta.exif_raw or bytes(body)
            elif ctype == b"caBX":
                meta.jumbf.append(bytes(body))
                meta.c2pa = True
            elif ctype == b"acTL":
                meta.other["apng"] = True
        except Exception as e:  # noqa: BLE001 - metadata must never fail intake
            meta.warnings.append(f"PNG chunk {ctype!r}: {type(e).__name__}")
        pos += 12 + length


# ---------------------------------------------------------------- WebP


def webp_blocks(data: bytes, meta: RawMeta, max_chunks: int = 100_000) -> None:
    pos, n = 12, len(data)
    for _ in range(max_chunks):
        if pos + 8 > n:
            return
        ctype, length = struct.unpack("<4sI", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if ctype == b"EXIF":
            b = bytes(body)
            meta.exif_raw = b[6:] if b.startswith(b"Exif\x00\x00") else b
        elif ctype == b"XMP ":
            meta.xmp = _text(bytes(body))
        elif ctype in (b"C2PA", b"c2pa"):
            meta.jumbf.append(bytes(body))
            meta.c2pa = True
        elif ctype == b"ANIM":
            meta.other["webp_animated"] = True
        if len(body) < length:
            return
        pos += 8 + length + (length & 1)


# ---------------------------------------------------------------- generic


def scan_jumbf(data: bytes, meta: RawMeta) -> None:
    """Any 'jumb' superbox whose description box carries a 'c2pa' label marks a C2PA manifest store."""
    i = data.find(b"jumb")
    while i != -1:
        window = data[i : i + 64]
        if b"jumd" in window and b"c2pa" in window:
            meta.c2pa = True
            return
        i = data.find(b"jumb", i + 4)
    for j in meta.jumbf:
        if b"c2pa" in j[:256]:
            meta.c2pa = True
            return


def pil_blocks(im: Image.Image, fmt: str, meta: RawMeta) -> None:
    """Blocks that Pillow exposes in ``info`` / tags (TIFF, GIF, HEIF, AVIF, and fallbacks)."""
    info = im.info
    if meta.exif_raw is None and isinstance(info.get("exif"), bytes | bytearray):
        b = bytes(info["exif"])
        meta.exif_raw = b[6:] if b.startswith(b"Exif\x00\x00") else b
    if meta.xmp is None:
        x = info.get("xmp") or info.get("XML:com.adobe.xmp")
        if isinstance(x, bytes | bytearray | str):
            meta.xmp = _text(bytes(x) if not isinstance(x, str) else x)
    if fmt == "TIFF":
        tags = getattr(im, "tag_v2", None)
        if tags is not None:
            try:
                x = tags.get(700)
                if meta.xmp is None and x is not None:
                    meta.xmp = _text(bytes(x) if not isinstance(x, str) else x)
                iptc = tags.get(33723)
                if iptc is not None and meta.iptc_raw is None:
                    if isinstance(iptc, tuple | list):
                        iptc = b"".join(
                            v.to_bytes(4, "big") if isinstance(v, int) else bytes(v) for v in iptc
                        )
                    meta.iptc_raw = bytes(iptc) if not isinstance(iptc, str) else iptc.encode("latin-1")
            except Exception as e:  # noqa: BLE001
                meta.warnings.append(f"TIFF tags: {type(e).__name__}")
    if fmt == "GIF":
        c = info.get("comment")
        if c:
            t = _text(c)
            if t:
                meta.comments.append(_strip_nul(t))


# ---------------------------------------------------------------- EXIF parsing

_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_IFD_INTEROP = 0xA005
_MAKERNOTE = 0x927C
_BYTES_LIMIT = 256


def _jsonable(v: Any) -> Any:
    if isinstance(v, TiffImagePlugin.IFDRational):
        try:
            f = float(v)
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
        return f if f == f and abs(f) != float("inf") else None
    if isinstance(v, bytes | bytearray):
        b = bytes(v)
        s = b.rstrip(b"\x00")
        try:
            u = s.decode("utf-8")
            if u and u.isprintable() and len(u) <= 4096:
                return u
        except UnicodeDecodeError:
            pass
        if s and all(32 <= c < 127 or c in (9, 10, 13) for c in s[:_BYTES_LIMIT]) and len(s) <= 4096:
            return s.decode("ascii")
        if len(b) <= 64:
            return "0x" + b.hex()
        return f"<{len(b)} bytes>"
    if isinstance(v, str):
        return _strip_nul(v)
    if isinstance(v, tuple | list):
        if len(v) > 256:
            return f"<{len(v)} values>"
        return [_jsonable(x) for x in v]
    if isinstance(v, bool | int):
        return int(v)
    if isinstance(v, float):
        return v if v == v and abs(v) != float("inf") else None
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)


@dataclass
class ParsedExif:
    tags: dict[str, Any] = field(default_factory=dict)
    thumbnail: bytes | None = None
    makernote: bytes | None = None
    orientation: int = 1


def parse_exif(raw: bytes | None, warnings: list[str], exif: Image.Exif | None = None) -> ParsedExif:
    """Parse raw EXIF (TIFF-structured bytes, with or without the ``Exif\\0\\0`` prefix), or an already
    loaded Pillow ``Exif`` (TIFF files, where the tags are the file's own IFDs)."""
    out = ParsedExif()
    if exif is not None:
        ex = exif
        tiff = b""
    else:
        if not raw:
            return out
        ex = Image.Exif()
        try:
            ex.load(raw if raw.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + raw)
        except Exception as e:  # noqa: BLE001
            warnings.append(f"EXIF could not be parsed ({type(e).__name__})")
            return out
        tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw

    def put(tagmap: dict[int, str], prefix: str, items: dict[int, Any]) -> None:
        for k, v in items.items():
            if k in (_IFD_EXIF, _IFD_GPS, _IFD_INTEROP, 0x0201, 0x0202):
                continue
            if k == _MAKERNOTE:
                if isinstance(v, bytes | bytearray):
                    out.makernote = bytes(v)
                    out.tags[prefix + "MakerNote"] = f"<{len(v)} bytes>"
                continue
            name = tagmap.get(k, f"Tag0x{k:04X}")
            out.tags[prefix + name] = _jsonable(v)

    try:
        put(ExifTags.TAGS, "", dict(ex.items()))
    except Exception as e:  # noqa: BLE001
        warnings.append(f"EXIF IFD0: {type(e).__name__}")
    for ifd, tagmap, prefix in (
        (_IFD_EXIF, ExifTags.TAGS, ""),
        (_IFD_GPS, ExifTags.GPSTAGS, ""),
        (_IFD_INTEROP, ExifTags.TAGS, "Interop"),
    ):
        try:
            sub = ex.get_ifd(ifd)
            if ifd == _IFD_GPS:
                put(tagmap, "", {k: v for k, v in sub.items()})
                # GPS names already carry a "GPS" prefix in Pillow's table
            else:
                put(tagmap, prefix, dict(sub))
        except Exception as e:  # noqa: BLE001
            warnings.append(f"EXIF sub-IFD 0x{ifd:04X}: {type(e).__name__}")
    try:
        o = ex.get(0x0112)
        if isinstance(o, int) and 1 <= o <= 8:
            out.orientation = o
        elif o is not None:
            warnings.append(f"EXIF orientation value {o!r} is invalid and was ignored")
    except Exception:  # noqa: BLE001
        pass
    # IFD1 thumbnail (JPEGInterchangeFormat / ...Length), offsets relative to the TIFF header.
    try:
        ifd1 = ex.get_ifd(ExifTags.IFD.IFD1)
        off, ln = ifd1.get(0x0201), ifd1.get(0x0202)
        if isinstance(off, int) and isinstance(ln, int) and 0 < ln and off + ln <= len(tiff):
            thumb = tiff[off : off + ln]
            if thumb[:2] == b"\xff\xd8":
                out.thumbnail = bytes(thumb)
        for k, v in ifd1.items():
            if k not in (0x0201, 0x0202):
                out.tags["Thumbnail" + ExifTags.TAGS.get(k, f"Tag0x{k:04X}")] = _jsonable(v)
    except Exception as e:  # noqa: BLE001
        warnings.append(f"EXIF IFD1: {type(e).__name__}")
    return out
