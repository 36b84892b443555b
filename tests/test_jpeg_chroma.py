"""Tests for the chroma JPEG-compatibility test (``detectors._jpeg_chroma``) and its use in the `jpeg` detector."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pixelsleuth.bench.perturbations import colorjitter
from pixelsleuth.detectors._jpeg_chroma import _down_ls, _up, chroma_compatibility, rgb_to_chroma
from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.jpeg import JpegDetector
from pixelsleuth.io.loader import load_image

SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


def _colour_scene(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth colourful shapes with fine noise in every channel, so the chroma planes have texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32) + 120
    for c in range(3):
        img[..., c] += (
            40 * np.sin(xx / rng.uniform(15, 40) + rng.uniform(0, 6)) * np.cos(yy / rng.uniform(15, 40))
        )
    for _ in range(10):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(12, 50)
        img += rng.uniform(-45, 45, 3) * (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r)[..., None]
    img += rng.normal(0, 5.0, img.shape)
    return np.clip(img, 8, 247).astype(np.uint8)


def _jpeg_decoded(rgb: np.ndarray, quality: int, subsampling: int) -> np.ndarray:
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, format="JPEG", quality=quality, subsampling=subsampling)
    return np.asarray(Image.open(io.BytesIO(b.getvalue())).convert("RGB")).copy()


def _png(rgb: np.ndarray) -> bytes:
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, format="PNG")
    return b.getvalue()


def test_least_squares_inverts_the_upsampling() -> None:
    rng = np.random.default_rng(0)
    c = rng.uniform(0, 255, (37, 5)).astype(np.float32)
    for phase in (0, 1):
        x = _up(c)
        if phase:
            x = np.concatenate([x[:1], x], axis=0)  # one pixel before the first sample
        np.testing.assert_allclose(_down_ls(x, 0, phase), c, atol=1e-3)


@pytest.mark.parametrize("subsampling", [0, 1, 2])
def test_unedited_decoded_jpeg_fits_its_chroma_lattice(subsampling: int) -> None:
    rgb = _jpeg_decoded(_colour_scene(256, 256, 1), 85, subsampling)
    res = chroma_compatibility(rgb, (0, 0))
    assert res is not None and res.valid
    assert res.subsampling == SUBSAMPLING[subsampling]
    assert float((res.miss > 2.0).mean()) < 0.01
    # without the luma grid the search finds the same answer
    free = chroma_compatibility(rgb)
    assert free is not None and free.valid and free.subsampling == res.subsampling


def test_uncompressed_picture_is_not_checkable() -> None:
    res = chroma_compatibility(_colour_scene(256, 256, 2), (0, 0))
    assert res is None or not res.valid


def test_hue_change_is_found_in_the_chroma() -> None:
    rgb = _jpeg_decoded(_colour_scene(256, 256, 3), 85, 2)
    mask = np.zeros(rgb.shape[:2], bool)
    mask[70:170, 90:190] = True
    edited = rgb.copy()
    edited[mask] = colorjitter(rgb, 20.0, 1.3, 1.0)[mask]
    res = chroma_compatibility(edited, (0, 0))
    assert res is not None and res.valid and res.subsampling == "4:2:0"
    inside, outside = float((res.miss[mask] > 2.0).mean()), float((res.miss[~mask] > 2.0).mean())
    assert inside > 0.5 and outside < 0.1
    # through the detector: its map covers the edited square
    ev = JpegDetector().run(load_image(_png(edited)), Context(profile="default"))
    assert "chroma" in ev.extra["compatibility"]
    assert ev.map is not None
    flagged = ev.map > 0.5
    assert 2 * (flagged & mask).sum() / (flagged.sum() + mask.sum()) > 0.6


def test_grey_picture_has_no_chroma_test() -> None:
    g = _colour_scene(128, 128, 4)[..., :1].repeat(3, axis=2)
    assert chroma_compatibility(g) is None


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 300),
    w=st.integers(1, 300),
    kind=st.sampled_from(["noise", "flat", "saturated", "jpeg"]),
    grid=st.one_of(st.none(), st.tuples(st.integers(0, 7), st.integers(0, 7))),
    seed=st.integers(0, 10),
)
def test_chroma_test_never_fails_on_odd_pictures(
    h: int, w: int, kind: str, grid: tuple[int, int] | None, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    if kind == "noise":
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif kind == "flat":
        rgb = np.full((h, w, 3), rng.integers(0, 256, 3), dtype=np.uint8)
    elif kind == "saturated":
        rgb = (rng.random((h, w, 3)) > 0.5).astype(np.uint8) * 255
    else:
        rgb = _jpeg_decoded(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), 75, int(rng.integers(0, 3)))
    res = chroma_compatibility(rgb, grid)
    if res is not None:
        assert res.miss.shape == (h, w) and np.isfinite(res.miss).all() and res.miss.min() >= 0
        cb, _ = rgb_to_chroma(rgb)
        assert cb.shape == (h, w)
