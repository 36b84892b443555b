"""Metadata inspector: files built with Pillow carry known signals; the findings and scores follow them."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from _imagegen import encode, natural
from pixelsleuth.detectors.base import Context, Evidence, Family, Severity, Supports
from pixelsleuth.detectors.metadata import MetadataDetector, parse_date
from pixelsleuth.detectors.registry import all_detectors
from pixelsleuth.errors import IntakeError
from pixelsleuth.io import load_image

IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def run(data: bytes, profile: str = "default") -> Evidence:
    ev = MetadataDetector().run(load_image(data), Context(profile=profile))
    assert ev.skipped is None, ev.skipped
    json.dumps(ev.to_dict())  # everything JSON-friendly
    return ev


def codes(ev: Evidence) -> set[str]:
    return {f.code for f in ev.findings}


def exif(**tags: object) -> Image.Exif:
    names = {
        "Make": 0x010F,
        "Model": 0x0110,
        "Software": 0x0131,
        "DateTime": 0x0132,
        "ImageDescription": 0x010E,
    }
    sub = {"DateTimeOriginal": 0x9003, "DateTimeDigitized": 0x9004, "UserComment": 0x9286}
    ex = Image.Exif()
    for k, v in tags.items():
        if k in names:
            ex[names[k]] = v
        else:
            ex.get_ifd(0x8769)[sub[k]] = v
    return ex


def xmp(body: str) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"{body}</rdf:RDF></x:xmpmeta>"
    ).encode()


def test_registered() -> None:
    d = all_detectors()
    assert "metadata" in d and d["metadata"].family == Family.METADATA


def test_camera_original_is_low_on_both() -> None:
    ev = run(
        encode(
            natural(), "JPEG", exif=exif(Make="Canon", Model="EOS R5", DateTimeOriginal="2024:01:02 03:04:05")
        )
    )
    assert "metadata.camera" in codes(ev)
    assert ev.extra["ai_generated"] < 0.25 and ev.extra["manipulated"] < 0.25
    assert ev.score is not None and ev.score < 0.5


def test_no_exif_jpeg_is_info_only() -> None:
    ev = run(encode(natural(), "JPEG"))
    f = next(f for f in ev.findings if f.code == "metadata.no_exif")
    assert f.severity == Severity.INFO and f.supports == Supports.NONE
    assert "metadata.no_camera" in codes(ev)
    assert 0.05 <= ev.extra["ai_generated"] <= 0.2 and 0.05 <= ev.extra["manipulated"] <= 0.2


@pytest.mark.parametrize(
    "software", ["Adobe Photoshop 25.0 (Windows)", "GIMP 2.10.36", "Snapseed 2.0", "Lightroom"]
)
def test_editing_software(software: str) -> None:
    ev = run(encode(natural(), "JPEG", exif=exif(Make="Nikon", Software=software)))
    f = next(f for f in ev.findings if f.code == "metadata.editing_software")
    assert f.supports == Supports.MANIPULATED and f.severity == Severity.MODERATE
    assert ev.extra["manipulated"] >= 0.5 > ev.extra["ai_generated"]
    assert ev.extra["main_hypothesis"] == "manipulated" and ev.score == ev.extra["manipulated"]


def test_camera_firmware_is_not_editing() -> None:
    ev = run(encode(natural(), "JPEG", exif=exif(Make="Canon", Software="Firmware Version 1.0.2")))
    assert "metadata.editing_software" not in codes(ev) and ev.extra["manipulated"] < 0.5


def test_creator_tool_in_xmp() -> None:
    ev = run(encode(natural(), "JPEG", xmp=xmp('<rdf:Description xmp:CreatorTool="Pixelmator Pro 3.5"/>')))
    assert "metadata.editing_software" in codes(ev)


def test_a1111_parameters_png() -> None:
    info = PngInfo()
    info.add_text(
        "parameters",
        "a castle on a hill\nNegative prompt: blurry\nSteps: 30, Sampler: DPM++ 2M, CFG scale: 7",
    )
    ev = run(encode(natural(), "PNG", pnginfo=info))
    f = next(f for f in ev.findings if f.code == "metadata.generator_parameters")
    assert f.supports == Supports.AI_GENERATED and f.severity == Severity.STRONG
    assert ev.extra["ai_generated"] >= 0.9 and ev.extra["main_hypothesis"] == "ai_generated"
    assert ev.score == ev.extra["ai_generated"]


def test_comfyui_workflow_png() -> None:
    info = PngInfo()
    info.add_text("prompt", json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 1}}}))
    info.add_text("workflow", json.dumps({"nodes": [{"type": "CheckpointLoaderSimple"}]}))
    ev = run(encode(natural(), "PNG", pnginfo=info))
    assert "metadata.generator_comfyui" in codes(ev) and ev.extra["ai_generated"] >= 0.9


def test_plain_prompt_key_without_graph_is_not_claimed() -> None:
    info = PngInfo()
    info.add_text("prompt", "remember to buy milk")
    ev = run(encode(natural(), "PNG", pnginfo=info))
    assert "metadata.generator_comfyui" not in codes(ev) and ev.extra["ai_generated"] < 0.5


@pytest.mark.parametrize(
    ("software", "tool"),
    [
        ("DALL·E 3", "DALL-E"),
        ("Midjourney v6", "Midjourney"),
        ("Adobe Firefly", "Adobe Firefly"),
        ("NovelAI", "NovelAI"),
    ],
)
def test_generator_software_names(software: str, tool: str) -> None:
    ev = run(encode(natural(), "JPEG", exif=exif(Software=software)))
    tools = {f.data.get("tool") for f in ev.findings if f.supports == Supports.AI_GENERATED}
    assert tool in tools
    assert ev.extra["ai_generated"] >= 0.9


def test_generator_in_free_text_is_only_moderate() -> None:
    ev = run(encode(natural(), "JPEG", exif=exif(ImageDescription="my midjourney experiments")))
    f = next(f for f in ev.findings if f.code == "metadata.generator_name")
    assert f.severity == Severity.MODERATE


@pytest.mark.parametrize("form", ["attribute", "element", "resource"])
def test_digital_source_type_trained(form: str) -> None:
    uri = IPTC_DST + "trainedAlgorithmicMedia"
    body = {
        "attribute": f'<rdf:Description Iptc4xmpExt:DigitalSourceType="{uri}"/>',
        "element": f"<rdf:Description><Iptc4xmpExt:DigitalSourceType>{uri}</Iptc4xmpExt:DigitalSourceType>"
        "</rdf:Description>",
        "resource": f'<rdf:Description><Iptc4xmpExt:DigitalSourceType rdf:resource="{uri}"/></rdf:Description>',
    }[form]
    ev = run(encode(natural(), "JPEG", xmp=xmp(body)))
    f = next(f for f in ev.findings if f.code == "metadata.digital_source_type")
    assert f.severity == Severity.STRONG and f.supports == Supports.AI_GENERATED
    assert ev.extra["ai_generated"] >= 0.9


def test_digital_source_type_composite_supports_both() -> None:
    uri = IPTC_DST + "compositeWithTrainedAlgorithmicMedia"
    info = PngInfo()
    info.add_itxt(
        "XML:com.adobe.xmp", xmp(f'<rdf:Description Iptc4xmpExt:DigitalSourceType="{uri}"/>').decode()
    )
    ev = run(encode(natural(), "PNG", pnginfo=info))
    assert ev.extra["ai_generated"] >= 0.9 and ev.extra["manipulated"] >= 0.5


def test_digital_capture_is_neutral() -> None:
    uri = IPTC_DST + "digitalCapture"
    ev = run(encode(natural(), "JPEG", xmp=xmp(f'<rdf:Description Iptc4xmpExt:DigitalSourceType="{uri}"/>')))
    assert ev.extra["ai_generated"] < 0.5 and ev.extra["manipulated"] < 0.5


def test_dates() -> None:
    ev = run(
        encode(
            natural(),
            "JPEG",
            exif=exif(DateTimeOriginal="2024:01:01 10:00:00", DateTime="2024:03:05 18:30:00"),
        )
    )
    f = next(f for f in ev.findings if f.code == "metadata.modified_after_capture")
    assert f.supports == Supports.MANIPULATED and f.severity == Severity.WEAK
    assert ev.extra["manipulated"] < 0.5  # a weak finding alone does not cross the threshold
    ev = run(
        encode(
            natural(),
            "JPEG",
            exif=exif(DateTimeOriginal="2024:01:01 10:00:00", DateTime="2023:01:01 10:00:00"),
        )
    )
    assert "metadata.date_order" in codes(ev)
    ev = run(
        encode(
            natural(),
            "JPEG",
            exif=exif(DateTimeOriginal="2024:01:01 10:00:00", DateTime="2024:01:01 12:00:00"),
        )
    )
    assert "metadata.date_timezone" in codes(ev) and "metadata.modified_after_capture" not in codes(ev)
    ev = run(
        encode(
            natural(),
            "JPEG",
            exif=exif(DateTimeOriginal="2024:01:01 10:00:00", DateTime="2024:01:01 10:00:30"),
        )
    )
    assert not codes(ev) & {
        "metadata.modified_after_capture",
        "metadata.date_order",
        "metadata.date_timezone",
    }
    ev = run(encode(natural(), "JPEG", exif=exif(DateTimeOriginal="yesterday-ish")))
    assert "metadata.date_invalid" in codes(ev)
    assert parse_date("2024:02:30 10:00:00") is None and parse_date("2024-02-03T10:00:00") is not None


# --------------------------------------------------------------------------------- thumbnails


def _with_thumbnail(main: np.ndarray, thumb: np.ndarray, orientation: int = 1) -> bytes:
    """A JPEG whose EXIF has IFD0 (orientation) and IFD1 pointing at a JPEG thumbnail."""
    tb = encode(thumb, "JPEG", quality=85)
    ifd0_off, ifd0_size = 8, 2 + 12 + 4
    ifd1_off = ifd0_off + ifd0_size
    thumb_off = ifd1_off + 2 + 2 * 12 + 4
    t = bytearray(b"II*\x00" + struct.pack("<I", ifd0_off))
    t += (
        struct.pack("<H", 1)
        + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)
        + struct.pack("<I", ifd1_off)
    )
    t += (
        struct.pack("<H", 2)
        + struct.pack("<HHII", 0x0201, 4, 1, thumb_off)
        + struct.pack("<HHII", 0x0202, 4, 1, len(tb))
    )
    t += struct.pack("<I", 0) + tb
    return encode(main, "JPEG", quality=92, exif=b"Exif\x00\x00" + bytes(t))


def _small(a: np.ndarray, w: int = 160) -> np.ndarray:
    h = int(round(w * a.shape[0] / a.shape[1]))
    return np.asarray(Image.fromarray(a).resize((w, h), Image.Resampling.LANCZOS))


def test_thumbnail_matches() -> None:
    a = natural(240, 320, 1)
    ev = run(_with_thumbnail(a, _small(a)))
    assert "metadata.thumbnail_match" in codes(ev) and ev.extra["manipulated"] < 0.5


def test_thumbnail_matches_with_letterbox_and_rotation() -> None:
    a = natural(200, 300, 2)  # 3:2, thumbnail 160x120 with black bars
    s = _small(a, 160)
    box = np.zeros((120, 160, 3), np.uint8)
    y0 = (120 - s.shape[0]) // 2
    box[y0 : y0 + s.shape[0]] = s
    ev = run(_with_thumbnail(a, box))
    assert "metadata.thumbnail_match" in codes(ev)
    # stored sideways with orientation 6: both the main image and the thumbnail are in stored orientation
    ev = run(_with_thumbnail(a, _small(a), orientation=6))
    assert "metadata.thumbnail_match" in codes(ev)


def test_thumbnail_different_content_is_strong() -> None:
    a = natural(240, 320, 1)
    yy, xx = np.mgrid[0:240, 0:320]
    other = np.stack([((xx // 40 + yy // 40) % 2) * 200 + 20] * 3, axis=-1).astype(np.uint8)  # checkerboard
    ev = run(_with_thumbnail(a, _small(other)))
    f = next(f for f in ev.findings if f.code == "metadata.thumbnail_mismatch")
    assert f.severity == Severity.STRONG and ev.extra["manipulated"] >= 0.9


def test_thumbnail_local_edit_gives_map() -> None:
    a = natural(240, 320, 3)
    edited = a.copy()
    edited[60:140, 180:280] = natural(80, 100, 55)[:, :, ::-1] // 3 + 170  # a bright, different patch
    ev = run(_with_thumbnail(edited, _small(a)))
    assert "metadata.thumbnail_local_mismatch" in codes(ev), [(f.code, f.data) for f in ev.findings]
    assert ev.map is not None and ev.map.shape == (240, 320)
    inside, outside = ev.map[60:140, 180:280].mean(), ev.map[:, :150].mean()
    assert inside > outside + 0.2
    assert ev.extra["manipulated"] >= 0.5


def test_thumbnail_skipped_in_fast_profile() -> None:
    a = natural(240, 320, 1)
    ev = run(_with_thumbnail(a, _small(natural(240, 320, 9))), profile="fast")
    assert not any(c.startswith("metadata.thumbnail") for c in codes(ev))


def test_c2pa_presence_is_info() -> None:
    j = encode(natural(), "JPEG")
    jumd = struct.pack(">I", 8 + 17 + 6) + b"jumd" + b"c2pa" + b"\x00" * 13 + b"\x03c2pa\x00"
    box = struct.pack(">I", len(jumd) + 8) + b"jumb" + jumd
    payload = b"JP" + struct.pack(">HI", 1, 1) + box
    j2 = j[:2] + b"\xff\xeb" + struct.pack(">H", len(payload) + 2) + payload + j[2:]
    ev = run(j2)
    f = next(f for f in ev.findings if f.code == "metadata.c2pa_present")
    assert f.severity == Severity.INFO and "c2pa detector" in f.message


def test_all_formats_run() -> None:
    from _imagegen import all_format_samples

    for name, b in all_format_samples().items():
        ev = run(b)
        assert ev.score is not None and ev.score < 0.5, name
        img = Image.open(io.BytesIO(b))
        assert img.size == (64, 48)


def _rich_file() -> bytes:
    a = natural(120, 160, 4)
    return _with_thumbnail(a, _small(a))


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(0, 7)), min_size=1, max_size=8))
def test_damaged_metadata_never_breaks_the_detector(flips: list[tuple[float, int]]) -> None:
    b = bytearray(_rich_file())
    exif_end = min(len(b), 2 + 4 + 60 + 2 * 12 + 1200)  # the APP1/EXIF segment and the thumbnail sit up front
    for pos, bit in flips:
        b[2 + int(pos * (exif_end - 2))] ^= 1 << bit
    try:
        img = load_image(bytes(b))
    except IntakeError:
        return
    ev = MetadataDetector().run(img, Context())
    assert ev.skipped is None, ev.skipped
    json.dumps(ev.to_dict())


def test_exif_dimensions_vs_actual() -> None:
    ex = exif(Make="Canon")
    ex.get_ifd(0x8769)[0xA002] = 640  # PixelXDimension
    ex.get_ifd(0x8769)[0xA003] = 480
    same = run(encode(natural(480, 640), "JPEG", exif=ex))
    assert "metadata.dimensions_changed" not in codes(same)
    smaller = run(encode(natural(240, 320), "JPEG", exif=ex))
    f = next(f for f in smaller.findings if f.code == "metadata.dimensions_changed")
    assert f.data["aspect_kept"] and f.severity == Severity.WEAK and smaller.extra["manipulated"] < 0.5
    cropped = run(encode(natural(300, 300), "JPEG", exif=ex))
    assert not next(f for f in cropped.findings if f.code == "metadata.dimensions_changed").data[
        "aspect_kept"
    ]


def test_adobe_app14_marker() -> None:
    j = encode(natural(), "JPEG")
    app14 = b"Adobe\x00\x64\x00\x00\x00\x00\x01"
    j2 = j[:2] + b"\xff\xee" + struct.pack(">H", len(app14) + 2) + app14 + j[2:]
    ev = run(j2)
    assert "metadata.adobe_writer" in codes(ev) and ev.extra["manipulated"] < 0.5
