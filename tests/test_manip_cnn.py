"""The shipped manipulation-localization network: packaging, output contract, tiling and odd inputs."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from pixelsleuth.detectors import manip_cnn as M
from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.registry import detectors_for, get_detector
from pixelsleuth.io import load_image
from pixelsleuth.io.image import ImageData
from pixelsleuth.models.registry import trained_path


def _image(rgb: np.ndarray) -> ImageData:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return load_image(buf.getvalue())


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 110 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
    rgb = np.stack([base, base * 0.9 + 10, base * 0.7 + 30], axis=-1) + rng.normal(0, 4, (h, w, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_packaged_model_matches_its_record() -> None:
    meta = M.meta()
    assert hashlib.sha256(trained_path(M.MODEL_FILE).read_bytes()).hexdigest() == meta["sha256"]
    v = meta["validation"]
    assert 0.0 < v["best_threshold"] < 1.0 and len(v["platt"]) == 2
    # the record's threshold and offset agree: sigmoid(logit(t) + offset) == 0.5
    t = v["best_threshold"]
    assert abs(np.log(t / (1 - t)) + v["map_offset"]) < 1e-3


def test_registered_in_default_not_fast() -> None:
    assert "manip_cnn" in [d.name for d in detectors_for("default")]
    assert "manip_cnn" not in [d.name for d in detectors_for("fast")]


@pytest.mark.parametrize("shape", [(256, 256), (301, 517), (37, 45)])
def test_output_contract(shape: tuple[int, int]) -> None:
    img = _image(_texture(*shape))
    ev = get_detector("manip_cnn")().run(img, Context(profile="default"))
    assert ev.skipped is None
    assert ev.map is not None and ev.map.shape == img.shape and ev.map.dtype == np.float32
    assert np.isfinite(ev.map).all() and ev.map.min() >= 0.0 and ev.map.max() <= 1.0
    assert ev.reliability is not None and ev.reliability.shape == img.shape
    assert 0.0 <= ev.score <= 1.0
    assert (ev.score >= 0.5) == any(f.code == "manip_cnn.edited_region" for f in ev.findings)


def test_tiny_image_is_skipped_with_a_reason() -> None:
    ev = get_detector("manip_cnn")().run(_image(_texture(20, 300)), Context(profile="default"))
    assert ev.skipped and "32" in ev.skipped


def test_tiles_cover_the_image_and_agree_with_one_pass_inside() -> None:
    rgb = _texture(700, 1100, seed=3)
    whole = M.logits_quarter(rgb, tile=2048)
    tiled = M.logits_quarter(rgb, tile=512, overlap=64)
    assert whole.shape == tiled.shape == (175, 275)
    assert np.isfinite(tiled).all()
    # tiles see less context (and their own global mean), so they differ somewhat, but not wildly
    assert np.corrcoef(whole.ravel(), tiled.ravel())[0, 1] > 0.5


def test_default_profile_downscales_huge_images_and_says_so() -> None:
    img = _image(_texture(600, 800, seed=1))
    ctx = Context(profile="default", options={"manip_cnn": {"max_pixels": 100_000}})
    ev = get_detector("manip_cnn")().run(img, ctx)
    assert ev.map is not None and ev.map.shape == img.shape
    assert any(f.code == "manip_cnn.downscaled" for f in ev.findings)
    full = get_detector("manip_cnn")().run(img, Context(profile="thorough"))
    assert not any(f.code == "manip_cnn.downscaled" for f in full.findings)


def test_peak_is_the_mean_of_the_top_fraction() -> None:
    v = np.arange(1000, dtype=np.float32).reshape(20, 50) / 1000
    assert M.peak(v, 0.01) == pytest.approx(np.mean(np.arange(990, 1000) / 1000))
    assert M.peak(np.zeros((3, 3), np.float32), 0.01) == 0.0
