"""Intake: formats, modes, orientation, JPEG data, metadata blocks, limits and typed errors."""

from __future__ import annotations

import hashlib
import io
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

from _imagegen import (
    all_format_samples,
    asymmetric,
    can_encode,
    encode,
    giant_bmp,
    giant_gif,
    giant_jpeg,
    giant_png,
    natural,
)
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
from pixelsleuth.io import IntakeLimits, load_image, sniff_format
from pixelsleuth.io.jpeg import STD_LUMA, estimate_quality, libjpeg_table, parse_jpeg_header

SAMPLES = all_format_samples()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_format_decodes_to_rgb(name: str) -> None:
    d = load_image(SAMPLES[name])
    expected_fmt = name.split("_")[0]
    assert d.format == expected_fmt
    assert d.rgb.dtype == np.uint8 and d.rgb.shape == (48, 64, 3)
    assert not d.rgb.flags.writeable
    assert d.sha256 == hashlib.sha256(SAMPLES[name]).hexdigest()
    assert d.file_size == len(SAMPLES[name]) and d.data == SAMPLES[name]
    ref = np.asarray(Image.open(io.BytesIO(SAMPLES[name])).convert("RGB"), dtype=np.int16)
    assert np.abs(d.rgb.astype(np.int16) - ref).mean() < 1.0


def test_lossless_formats_are_exact() -> None:
    a = natural(40, 56, 3)
    for fmt in ("PNG", "TIFF", "BMP", "PPM"):
        d = load_image(encode(a, fmt))
        assert np.array_equal(d.rgb, a), fmt


def test_extension_is_not_trusted(tmp_path: Path) -> None:
    p = tmp_path / "photo.jpg"
    p.write_bytes(encode(natural(32, 32), "PNG"))
    d = load_image(p)
    assert d.format == "PNG" and d.source == str(p) and d.name == "photo.jpg"
    q = tmp_path / "notes.png"
    q.write_bytes(b"hello, this is text and not an image at all" * 4)
    with pytest.raises(UnsupportedFormatError):
        load_image(q)


def test_sniff_format() -> None:
    assert sniff_format(b"\xff\xd8\xff\xe0") == "JPEG"
    assert sniff_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "WEBP"
    assert sniff_format(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1") == "AVIF"
    assert sniff_format(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == "HEIF"
    assert sniff_format(b"P6\n4 4\n255\n") == "PPM"
    assert sniff_format(b"\x00\x00\x00\x18ftypmp42") is None
    assert sniff_format(b"%PDF-1.7") is None


def test_input_file_is_not_modified(tmp_path: Path) -> None:
    p = tmp_path / "x.jpg"
    p.write_bytes(encode(natural(), "JPEG", quality=90))
    os.chmod(p, 0o444)
    before = (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    d = load_image(p)
    after = (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    assert before == after and d.sha256 == before[1]


# --------------------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "AVIF"])
def test_exif_orientation_applied(orientation: int, fmt: str) -> None:
    if not can_encode(fmt):
        pytest.skip(f"no {fmt} encoder here")
    a = asymmetric()
    ex = Image.Exif()
    ex[0x0112] = orientation
    kw: dict[str, object] = {"exif": ex}
    if fmt in ("JPEG", "WEBP", "AVIF"):
        kw["quality"] = 100
    if fmt == "WEBP":
        kw["lossless"] = True
    b = encode(a, fmt, **kw)
    d = load_image(b)
    assert d.orientation == orientation
    im = Image.fromarray(a)
    ex2 = im.getexif()
    ex2[0x0112] = orientation
    im.info["exif"] = ex2.tobytes()
    ref = np.asarray(ImageOps.exif_transpose(im))
    assert d.rgb.shape == ref.shape
    tol = {"JPEG": 3.0, "AVIF": 6.0}.get(fmt, 0.0)
    assert np.abs(d.rgb.astype(np.int16) - ref.astype(np.int16)).mean() <= tol
    # the blue corner marker ends up where the orientation puts the stored top-left corner
    if orientation in (1, 2, 3, 4):
        assert d.rgb.shape[:2] == (40, 60)
    else:
        assert d.rgb.shape[:2] == (60, 40)


def test_invalid_orientation_ignored() -> None:
    ex = Image.Exif()
    ex[0x0112] = 42
    d = load_image(encode(asymmetric(), "JPEG", exif=ex))
    assert d.orientation == 1 and d.rgb.shape[:2] == (40, 60)
    assert any("orientation" in w for w in d.metadata.other.get("warnings", []))


# ------------------------------------------------------------------------------------------- modes


def test_modes_png_tiff() -> None:
    a = natural(32, 40)
    im = Image.fromarray(a)
    cases = {
        "1": im.convert("1"),
        "L": im.convert("L"),
        "P": im.convert("P"),
        "LA": im.convert("LA"),
        "RGBA": im.convert("RGBA"),
    }
    for mode, m in cases.items():
        for fmt in ("PNG", "TIFF"):
            d = load_image(encode(m, fmt))
            assert d.mode == mode and d.rgb.shape == (32, 40, 3), (mode, fmt)
            assert (d.alpha is not None) == (mode in ("LA", "RGBA")), (mode, fmt)
    assert load_image(encode(cases["1"], "PNG")).bit_depth == 1
    g = load_image(encode(cases["L"], "PNG"))
    assert np.array_equal(g.rgb[..., 0], g.rgb[..., 2])


def test_alpha_kept_separately() -> None:
    a = natural(24, 24)
    alpha = np.tile(np.linspace(0, 255, 24, dtype=np.uint8), (24, 1))
    d = load_image(encode(np.dstack([a, alpha]), "PNG"))
    assert d.alpha is not None and np.array_equal(d.alpha, alpha)
    assert np.array_equal(d.rgb, a)  # colour is not premultiplied


def test_palette_with_transparency() -> None:
    im = Image.fromarray(natural(20, 20)).convert("P")
    t = im.getpixel((0, 0))
    d = load_image(encode(im, "PNG", transparency=t))
    assert d.mode == "P" and d.alpha is not None
    assert d.alpha[0, 0] == 0 and d.alpha.max() == 255


def test_16bit_png_and_tiff() -> None:
    g = (np.linspace(0, 65535, 32 * 32).reshape(32, 32)).astype(np.uint16)
    im = Image.fromarray(g)
    for fmt in ("PNG", "TIFF"):
        d = load_image(encode(im, fmt))
        assert d.bit_depth == 16, fmt
        exp = np.round(g / 257.0).astype(np.int16)
        assert np.abs(d.rgb[..., 0].astype(np.int16) - exp).max() <= 1, fmt
        assert d.rgb[0, 0, 0] == 0 and d.rgb[-1, -1, 0] == 255


def test_16bit_rgb_png_bit_depth() -> None:
    # hand-written 16-bit RGB PNG
    h, w = 4, 5
    rows = b"".join(b"\x00" + np.full((w, 3), 0x8000, ">u2").tobytes() for _ in range(h))
    import zlib

    def chunk(t: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body) & 0xFFFFFFFF)

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    d = load_image(png)
    assert d.bit_depth == 16 and d.rgb.shape == (4, 5, 3) and abs(int(d.rgb[0, 0, 0]) - 128) <= 1


def test_cmyk_and_float_and_int_modes() -> None:
    a = natural(20, 24)
    d = load_image(encode(Image.fromarray(a).convert("CMYK"), "JPEG", quality=95))
    assert d.mode == "CMYK" and d.rgb.shape == (20, 24, 3) and d.jpeg is not None
    assert d.jpeg.coefficients is None  # 4-component JPEG: not read, but intake still works
    d = load_image(encode(Image.fromarray(a).convert("CMYK"), "TIFF"))
    assert d.mode == "CMYK" and np.abs(d.rgb.astype(int) - a.astype(int)).mean() < 3
    f = Image.fromarray(np.linspace(0, 1, 400, dtype=np.float32).reshape(20, 20), mode="F")
    d = load_image(encode(f, "TIFF"))
    assert d.mode == "F" and d.bit_depth == 32 and d.rgb[0, 0, 0] == 0 and d.rgb[-1, -1, 0] == 255
    i = Image.fromarray((np.arange(400, dtype=np.int32).reshape(20, 20) * 1000), mode="I")
    d = load_image(encode(i, "TIFF"))
    assert d.mode == "I" and d.rgb.max() == 255 and d.rgb.min() == 0


def test_animated_gif_first_frame() -> None:
    frames = [Image.fromarray(np.full((16, 16, 3), v, np.uint8)) for v in (10, 120, 240)]
    b = io.BytesIO()
    frames[0].save(b, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    d = load_image(b.getvalue())
    assert d.format == "GIF" and d.n_frames == 3 and d.animated
    assert abs(int(d.rgb[8, 8, 0]) - 10) <= 3
    still = load_image(encode(frames[1], "GIF"))
    assert still.n_frames == 1 and not still.animated
    assert load_image(b.getvalue(), IntakeLimits(max_frames_counted=2)).n_frames == 2  # bounded counting
    for fmt in ("PNG", "WEBP"):  # APNG and animated WebP
        b2 = io.BytesIO()
        frames[0].save(b2, fmt, save_all=True, append_images=frames[1:])
        d2 = load_image(b2.getvalue())
        assert d2.animated and d2.n_frames == 3, fmt


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heif_avif_roundtrip(fmt: str) -> None:
    if not can_encode(fmt):
        pytest.skip(f"no {fmt} encoder here")
    a = natural(64, 64, 5)
    d = load_image(encode(a, fmt, quality=90))
    assert d.format == fmt and d.rgb.shape == (64, 64, 3)
    assert np.abs(d.rgb.astype(int) - a.astype(int)).mean() < 12


# ------------------------------------------------------------------------------------------- JPEG data


@pytest.mark.parametrize("q", [10, 35, 50, 75, 85, 90, 95, 100])
def test_jpeg_quality_estimate(q: int) -> None:
    d = load_image(encode(natural(64, 64), "JPEG", quality=q))
    assert d.jpeg is not None and d.jpeg.quality_estimate is not None
    assert abs(d.jpeg.quality_estimate - q) <= 2
    assert np.array_equal(d.jpeg.quant_tables[0], libjpeg_table(STD_LUMA, q))


def test_quality_estimate_custom_table_is_monotone() -> None:
    t60 = libjpeg_table(STD_LUMA, 60) + 1  # slightly off the standard table
    t90 = libjpeg_table(STD_LUMA, 90) + 1
    q60, q90 = estimate_quality(t60), estimate_quality(t90)
    assert q60 is not None and q90 is not None and q60 < q90


def test_jpeg_coefficients_and_structure() -> None:
    a = natural(72, 104)
    d = load_image(encode(a, "JPEG", quality=80, subsampling="4:2:0"))
    j = d.jpeg
    assert j is not None and j.coefficients is not None and len(j.coefficients) == 3
    assert j.coefficients[0].shape == (9, 13, 8, 8) and j.coefficients[0].dtype == np.int16
    assert j.coefficients[1].shape == (5, 7, 8, 8)
    assert j.subsampling == "4:2:0" and not j.progressive and j.component_qt == (0, 1, 1)
    assert set(j.quant_tables) == {0, 1}
    # the DC coefficient of block (0,0) times its quantiser approximates 8 * (mean luma - 128)
    y0 = np.asarray(Image.fromarray(a).convert("YCbCr"))[:8, :8, 0].astype(float)
    dc = float(j.coefficients[0][0, 0, 0, 0]) * float(j.quant_tables[0][0, 0])
    assert abs(dc / 8 - (y0.mean() - 128)) < 4
    d444 = load_image(encode(a, "JPEG", quality=80, subsampling="4:4:4"))
    assert d444.jpeg is not None and d444.jpeg.subsampling == "4:4:4"
    p = load_image(encode(a, "JPEG", quality=80, progressive=True))
    assert p.jpeg is not None and p.jpeg.progressive and p.jpeg.coefficients is not None
    g = load_image(encode(Image.fromarray(a).convert("L"), "JPEG", quality=80))
    assert g.jpeg is not None and g.jpeg.subsampling == "grayscale" and len(g.jpeg.coefficients or ()) == 1


def test_coefficients_can_be_skipped() -> None:
    d = load_image(encode(natural(), "JPEG"), IntakeLimits(read_coefficients=False))
    assert d.jpeg is not None and d.jpeg.coefficients is None and d.jpeg.quant_tables


def test_jpeg_header_parser_never_raises() -> None:
    b = encode(natural(), "JPEG")
    for cut in range(0, 400, 7):
        h = parse_jpeg_header(b[:cut])
        assert isinstance(h.errors, list)
    assert parse_jpeg_header(b).reached_sos


# ------------------------------------------------------------------------------------------- metadata


def _exif() -> Image.Exif:
    ex = Image.Exif()
    ex[0x010F] = "Canon"
    ex[0x0110] = "EOS 5D Mark IV"
    ex[0x0131] = "Adobe Photoshop 25.0"
    ex[0x0132] = "2024:05:01 12:00:00"
    exif_ifd = ex.get_ifd(0x8769)
    exif_ifd[0x9003] = "2024:05:01 10:00:00"
    exif_ifd[0x927C] = b"MAKERNOTE-BYTES-\x00\x01\x02"
    gps = ex.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.5)
    return ex


XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="UnitTest"/></rdf:RDF></x:xmpmeta>'
)


def test_jpeg_metadata_blocks() -> None:
    b = encode(
        natural(), "JPEG", exif=_exif(), xmp=XMP.encode(), comment=b"a comment", icc_profile=b"fakeicc"
    )
    md = load_image(b).metadata
    assert md.exif_raw and md.exif["Make"] == "Canon" and md.exif["Model"] == "EOS 5D Mark IV"
    assert md.exif["DateTimeOriginal"] == "2024:05:01 10:00:00"
    assert md.exif["GPSLatitudeRef"] == "N" and md.exif["GPSLatitude"] == [52.0, 31.0, 12.5]
    assert md.makernote is not None and md.makernote.startswith(b"MAKERNOTE")
    assert md.xmp is not None and "UnitTest" in md.xmp
    assert md.comments == ("a comment",)
    assert md.icc_profile == b"fakeicc"
    import json

    json.dumps(md.exif)  # JSON-friendly


def test_exif_thumbnail_extracted() -> None:
    thumb = encode(natural(30, 40, 9), "JPEG", quality=70)
    # build an EXIF block with IFD1 pointing at a JPEG thumbnail by hand (little-endian TIFF)
    tiff = bytearray(b"II*\x00" + struct.pack("<I", 8))
    # IFD0: 1 entry (Make), next IFD offset -> IFD1
    make = b"Canon\x00"
    ifd0_off = 8
    ifd0_size = 2 + 12 + 4
    make_off = ifd0_off + ifd0_size
    ifd1_off = make_off + len(make)
    ifd1_size = 2 + 2 * 12 + 4
    thumb_off = ifd1_off + ifd1_size
    tiff += (
        struct.pack("<H", 1)
        + struct.pack("<HHII", 0x010F, 2, len(make), make_off)
        + struct.pack("<I", ifd1_off)
    )
    tiff += make
    tiff += struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 0x0201, 4, 1, thumb_off) + struct.pack("<HHII", 0x0202, 4, 1, len(thumb))
    tiff += struct.pack("<I", 0) + thumb
    b = encode(natural(), "JPEG", exif=b"Exif\x00\x00" + bytes(tiff))
    md = load_image(b).metadata
    assert md.exif["Make"] == "Canon"
    assert md.exif_thumbnail == thumb


def test_png_text_chunks_and_xmp() -> None:
    info = PngInfo()
    info.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler a")
    info.add_text("Comment", "compressed comment", zip=True)
    info.add_itxt("prompt", '{"3": {"class_type": "KSampler"}}', zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP)
    d = load_image(encode(natural(), "PNG", pnginfo=info, exif=_exif()))
    md = d.metadata
    assert md.png_text["parameters"].startswith("a cat")
    assert md.png_text["Comment"] == "compressed comment"
    assert "KSampler" in md.png_text["prompt"]
    assert md.xmp is not None and "UnitTest" in md.xmp and "XML:com.adobe.xmp" not in md.png_text
    assert md.exif["Make"] == "Canon"


def test_webp_and_tiff_metadata() -> None:
    d = load_image(encode(natural(), "WEBP", exif=_exif(), xmp=XMP.encode()))
    assert d.metadata.exif["Software"] == "Adobe Photoshop 25.0" and "UnitTest" in (d.metadata.xmp or "")
    t = load_image(encode(natural(), "TIFF", tiffinfo={271: "Canon", 700: XMP.encode()}))
    assert t.metadata.exif["Make"] == "Canon"
    assert t.metadata.xmp is not None and "UnitTest" in t.metadata.xmp


def _app11_jumbf() -> bytes:
    jumd = b"jumd" + b"\x63\x32\x70\x61\x00\x11\x00\x10\x80\x00\xaa\x00\x38\x9b\x71\x03" + b"\x03c2pa\x00"
    jumd = struct.pack(">I", len(jumd) + 4) + jumd
    box = struct.pack(">I", len(jumd) + 8) + b"jumb" + jumd
    payload = b"JP" + struct.pack(">HI", 1, 1) + box
    return b"\xff\xeb" + struct.pack(">H", len(payload) + 2) + payload


def test_c2pa_jumbf_detected_in_jpeg_and_png() -> None:
    j = encode(natural(), "JPEG")
    j2 = j[:2] + _app11_jumbf() + j[2:]
    md = load_image(j2).metadata
    assert md.c2pa_present and md.jumbf_raw is not None and b"jumb" in md.jumbf_raw
    assert not load_image(j).metadata.c2pa_present
    png = encode(natural(), "PNG")
    body = b"\x00\x00\x00\x20jumb" + b"\x00" * 24
    import zlib

    chunk = struct.pack(">I", len(body)) + b"caBX" + body + struct.pack(">I", zlib.crc32(b"caBX" + body))
    png2 = png[:33] + chunk + png[33:]
    assert load_image(png2).metadata.c2pa_present


def test_photoshop_iptc_extracted() -> None:
    iptc = b"\x1c\x02\x78\x00\x05hello"
    irb = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc + b"\x00"
    payload = b"Photoshop 3.0\x00" + irb
    j = encode(natural(), "JPEG")
    j2 = j[:2] + b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload + j[2:]
    assert load_image(j2).metadata.iptc_raw == iptc


# ---------------------------------------------------------------------------------------- limits/errors


def test_empty_and_missing(tmp_path: Path) -> None:
    with pytest.raises(EmptyFileError):
        load_image(b"")
    e = tmp_path / "empty.png"
    e.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        load_image(e)
    with pytest.raises(ImageReadError):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError):
        load_image(tmp_path)


def test_file_size_limit(tmp_path: Path) -> None:
    b = encode(natural(), "PNG")
    p = tmp_path / "a.png"
    p.write_bytes(b)
    with pytest.raises(FileTooLargeError):
        load_image(p, IntakeLimits(max_file_bytes=100))
    with pytest.raises(FileTooLargeError):
        load_image(b, IntakeLimits(max_file_bytes=100))


@pytest.mark.parametrize("maker", [giant_png, giant_jpeg, giant_bmp, giant_gif])
def test_giant_declared_size_refused_before_decoding(maker) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageTooLargeError):
        load_image(maker())


def test_pixel_limit_configurable() -> None:
    b = encode(natural(100, 100), "PNG")
    with pytest.raises(ImageTooLargeError):
        load_image(b, IntakeLimits(max_pixels=5000))
    assert load_image(b, IntakeLimits(max_pixels=10_000)).shape == (100, 100)


def test_truncated_files_raise_typed_errors() -> None:
    for name, b in SAMPLES.items():
        for frac in (0.3, 0.6, 0.9):
            cut = b[: int(len(b) * frac)]
            try:
                load_image(cut)
            except IntakeError:
                pass
        with pytest.raises(IntakeError):
            load_image(b[:20] if name != "PPM" else b[:8])
    with pytest.raises((TruncatedImageError, CorruptImageError)):
        load_image(SAMPLES["PNG"][: len(SAMPLES["PNG"]) // 2])


def test_unsupported_formats() -> None:
    for b in (b"%PDF-1.7 ...", b"\x00\x00\x01\x00\x01\x00", b"GIF8", b"ftyp"):
        with pytest.raises(UnsupportedFormatError):
            load_image(b)


def test_modes_fixture_dir_if_present() -> None:
    d = Path(__file__).resolve().parents[2] / "shared/data/copy/threatexchange_pdq/misc-images/modes"
    if not d.is_dir():
        d = Path("/work/shared/data/copy/threatexchange_pdq/misc-images/modes")
    if not d.is_dir():
        pytest.skip("modes fixture directory not present")
    files = [p for p in sorted(d.iterdir()) if p.is_file()]
    assert files
    for p in files:
        try:
            img = load_image(p)
        except UnsupportedFormatError:
            continue
        assert img.rgb.ndim == 3 and img.rgb.shape[2] == 3 and img.rgb.dtype == np.uint8, p.name


def test_truncated_images_global_is_forced_off() -> None:
    from PIL import ImageFile

    b = SAMPLES["PNG"]
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        with pytest.raises(IntakeError):
            load_image(b[: len(b) // 2])
        assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old


def test_jpeg_extended_xmp_reassembled() -> None:
    ext = b"<x:xmpmeta>" + b"E" * 300 + b"</x:xmpmeta>"
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    segs = b""
    for off in (0, 150):
        chunk = ext[off : off + 150] if off == 0 else ext[off:]
        payload = b"http://ns.adobe.com/xmp/extension/\x00" + guid + struct.pack(">II", len(ext), off) + chunk
        segs += b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    j = encode(natural(), "JPEG", xmp=XMP.encode())
    d = load_image(j[:2] + segs + j[2:])
    assert d.metadata.other["xmp_extended"] == ext.decode()
    assert d.metadata.xmp is not None and "UnitTest" in d.metadata.xmp


def test_zero_size_header_is_corrupt() -> None:
    with pytest.raises(CorruptImageError):
        load_image(giant_png(0, 10))
    with pytest.raises(CorruptImageError):
        load_image(giant_gif(0, 0))
