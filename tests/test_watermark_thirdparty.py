"""Third-party marks (invisible-watermark, blind-watermark) and the analyze-time watermark detectors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from _wm_images import photo  # tests/ is on sys.path (conftest.py)
from pixelsleuth.detectors.base import Context, Supports
from pixelsleuth.detectors.watermark import OurWatermarkDetector, ThirdPartyWatermarkDetector, hole_score
from pixelsleuth.errors import WatermarkError
from pixelsleuth.io.loader import load_image
from pixelsleuth.watermark import ours
from pixelsleuth.watermark import thirdparty as tp

pytest.importorskip("imwatermark")


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    return photo(320, 384, seed=4)


def test_binomial_tail() -> None:
    assert tp.binom_tail(32, 0) == 1.0
    assert tp.binom_tail(32, 32) == 2.0**-32
    assert tp.binom_tail(32, 30) < 1e-6 < tp.binom_tail(32, 29)


@pytest.mark.parametrize("method", ["dwtDct", "dwtDctSvd"])
def test_imwatermark_roundtrip(img: np.ndarray, method: str) -> None:
    bits = np.random.default_rng(1).integers(0, 2, 32)
    marked = tp.embed(img, method, bits)
    assert marked.shape == img.shape and marked.dtype == np.uint8
    got = tp.decode(marked, method, 32)
    assert np.mean(got == bits) >= 0.9


def test_too_small_and_unknown_method() -> None:
    with pytest.raises(WatermarkError):
        tp.decode(photo(100, 100), "dwtDct", 32)
    with pytest.raises(WatermarkError):
        tp.method_status("nope")


def test_rivagan_status_is_explained() -> None:
    reason = tp.rivagan_status()
    assert reason is None or "rivaGan" in reason or "onnxruntime" in reason or "invisible-watermark" in reason


def test_scan_finds_sdxl_mark_not_on_clean(img: np.ndarray) -> None:
    sdxl = tp.KNOWN_PAYLOADS[0]
    marked = tp.embed(img, "dwtDct", np.array(sdxl.bits))
    matches, _ = tp.scan(marked)
    assert [m.payload.name for m in matches] == [sdxl.name]
    assert matches[0].p_value < 1e-6
    assert tp.scan(img)[0] == []


def test_thirdparty_detector_findings(img: np.ndarray) -> None:
    sdxl = tp.KNOWN_PAYLOADS[0]
    ev = ThirdPartyWatermarkDetector().run(
        load_image(_png(tp.embed(img, "dwtDct", np.array(sdxl.bits)))), Context()
    )
    assert ev.skipped is None
    assert any(
        f.code == "watermark_thirdparty.match" and f.supports == Supports.AI_GENERATED for f in ev.findings
    )
    ev2 = ThirdPartyWatermarkDetector().run(load_image(_png(img)), Context())
    assert not ev2.extra["matches"]
    # user payloads through options
    bits = "10" * 16
    m = tp.embed(img, "dwtDctSvd", np.array([int(c) for c in bits]))
    ctx = Context(
        options={
            "watermark_thirdparty": {"payloads": [{"name": "ours-test", "method": "dwtDctSvd", "bits": bits}]}
        }
    )
    ev3 = ThirdPartyWatermarkDetector().run(load_image(_png(m)), ctx)
    assert [x["name"] for x in ev3.extra["matches"]] == ["ours-test"]


def test_our_detector_needs_key_and_reports_holes() -> None:
    base = photo(384, 512, seed=6)
    marked = ours.embed(base, "det-key", 77)
    ev = OurWatermarkDetector().run(load_image(_png(marked)), Context())
    assert ev.skipped and "watermark_key" in ev.skipped
    ctx = Context(resources={"watermark_key": "det-key"})
    ev = OurWatermarkDetector().run(load_image(_png(marked)), ctx)
    assert ev.extra["payload"] == 77 and ev.map is not None and ev.map.shape == (384, 512)
    clean_score = ev.score
    spliced = marked.copy()
    spliced[60:260, 100:340] = photo(384, 512, seed=60)[60:260, 100:340]
    ev2 = OurWatermarkDetector().run(load_image(_png(spliced)), ctx)
    assert ev2.score is not None and clean_score is not None
    assert ev2.score > 0.5 > clean_score
    assert ev2.extra["manipulated"] == ev2.score
    assert any(f.code == "watermark.hole" and f.supports == Supports.MANIPULATED for f in ev2.findings)
    ev3 = OurWatermarkDetector().run(load_image(_png(base)), ctx)
    assert ev3.score is None and any(f.code == "watermark.absent" for f in ev3.findings)
    assert hole_score(0.0) == 0.0 and hole_score(1.0) > 0.8
