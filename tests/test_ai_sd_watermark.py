"""Stable Diffusion invisible watermark: embed with invisible-watermark, then detect; unmarked must not fire."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pixelsleuth.detectors.base import Context, Supports
from pixelsleuth.detectors.sd_watermark import KNOWN_MARKS, SDWatermark, binomial_tail, score_from_p
from pixelsleuth.io.image import ImageData

imwatermark = pytest.importorskip("imwatermark")


def _scene(seed: int, h: int = 320, w: int = 384) -> np.ndarray:
    """A textured, mid-range synthetic image (no clipping, so the mark embeds cleanly)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            110 + 40 * np.sin(xx / (17 + c * 5) + rng.uniform(0, 6)) + 30 * np.cos(yy / (23 + c * 3))
            for c in range(3)
        ],
        axis=-1,
    )
    base += rng.normal(0, 8, size=base.shape)
    return np.clip(base, 20, 235).astype(np.uint8)


def _img(rgb: np.ndarray) -> ImageData:
    return ImageData(rgb=rgb, format="PNG", mode="RGB", bit_depth=8, sha256="", source="<bytes>", file_size=0)


def _embed(rgb: np.ndarray, key: str) -> np.ndarray:
    mark = next(m for m in KNOWN_MARKS if m.key == key)
    enc = imwatermark.WatermarkEncoder()
    if mark.text is not None:
        enc.set_watermark("bytes", mark.text.encode("utf-8"))
    else:
        enc.set_watermark("bits", [int(b) for b in mark.bits])
    bgr = enc.encode(np.ascontiguousarray(rgb[..., ::-1]), "dwtDct")
    return np.ascontiguousarray(bgr[..., ::-1])


def test_payloads_match_reference_constants() -> None:
    sdxl = next(m for m in KNOWN_MARKS if m.key == "sdxl")
    assert "".join(map(str, sdxl.bits)) == "101100111110110010010000011110111011000110011110"
    sd1 = next(m for m in KNOWN_MARKS if m.key == "sd1")
    assert np.packbits(sd1.bits).tobytes() == b"StableDiffusionV1"


def test_binomial_tail() -> None:
    assert binomial_tail(0, 10) == 1.0
    assert binomial_tail(10, 10) == pytest.approx(1 / 1024)
    assert binomial_tail(6, 10) == pytest.approx(386 / 1024)
    assert score_from_p(1e-6) == pytest.approx(0.5)
    assert score_from_p(1e-12) > 0.95 and score_from_p(0.5) < 0.01


@pytest.mark.parametrize("key", ["sd1", "sdxl", "sd2"])
def test_marked_image_detected(key: str) -> None:
    rgb = _embed(_scene(1), key)
    ev = SDWatermark().run(_img(rgb), Context())
    assert ev.skipped is None
    assert ev.score is not None and ev.score > 0.5
    assert ev.extra["best"] == key
    found = [f for f in ev.findings if f.code == "sd_watermark.found"]
    assert found and found[0].supports == Supports.AI_GENERATED
    assert "ai_generated" in ev.extra
    if key == "sd1":
        row = next(r for r in ev.extra["checks"] if r["payload"] == "sd1")
        assert row["bit_accuracy"] > 0.8 and len(row["decoded_text"]) == 17


def test_marked_survives_png_roundtrip() -> None:
    rgb = _embed(_scene(2), "sd1")
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    back = np.asarray(Image.open(buf).convert("RGB"))
    assert SDWatermark().run(_img(back), Context()).score > 0.5


def test_unmarked_images_do_not_fire() -> None:
    det = SDWatermark()
    for seed in range(10, 22):
        ev = det.run(_img(_scene(seed, 256 + 8 * seed % 64, 300)), Context())
        assert ev.score is not None and ev.score < 0.5, ev.extra
        assert "ai_generated" not in ev.extra
    flat = np.full((300, 300, 3), 128, np.uint8)
    assert det.run(_img(flat), Context()).score < 0.5


def test_wrong_payload_does_not_fire() -> None:
    enc = imwatermark.WatermarkEncoder()
    enc.set_watermark("bytes", b"SomethingElse123!")
    rgb = np.ascontiguousarray(enc.encode(np.ascontiguousarray(_scene(3)[..., ::-1]), "dwtDct")[..., ::-1])
    assert SDWatermark().run(_img(rgb), Context()).score < 0.5


def test_small_image_skipped() -> None:
    ev = SDWatermark().run(_img(np.zeros((100, 100, 3), np.uint8)), Context())
    assert ev.skipped and ev.score is None


def test_vectorised_decoder_equals_package_decoder() -> None:
    """Our decoder makes the same bit decisions as invisible-watermark's own dwtDct decoder, marked or not."""
    from pixelsleuth.detectors.sd_watermark import decode_bits

    rng = np.random.default_rng(7)
    compared = 0
    for t in range(8):
        h, w = (int(v) for v in rng.integers(257, 480, 2))
        img = _scene(100 + t, h, w)[..., ::-1].copy()
        if t % 2 == 0:
            enc = imwatermark.WatermarkEncoder()
            enc.set_watermark("bytes", b"StableDiffusionV1")
            img = enc.encode(img, "dwtDct")
        for n in (136, 48, 32):
            want = np.asarray(
                imwatermark.WatermarkDecoder("bits", n).decode(img, "dwtDct"), np.uint8
            ).reshape(-1)
            got = decode_bits(img, n)
            assert np.array_equal(want, got), (t, n)
            compared += n
    assert compared == 8 * 216
