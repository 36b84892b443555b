"""The shared attack suite: shapes, determinism, mask geometry, encoders."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsleuth.bench import perturbations as P


def _scene(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=2)
    return np.clip(base + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)


def test_registry_has_the_suite() -> None:
    expected = {
        "jpeg95", "jpeg85", "jpeg75", "jpeg60", "jpeg50", "webp80", "resize0.5", "resize0.75", "resize1.5",
        "blur1", "blur2", "noise5", "noise10", "social", "crop50", "crop25", "rotate5", "rotate-5", "hflip",
        "vflip", "brightness", "contrast", "gamma", "colorjitter", "grayscale", "overlay_text", "border",
        "screenshot", "combo",
    }  # fmt: skip
    assert expected <= set(P.PERTURBATIONS)
    assert {"resize0.5", "crop50", "rotate5", "hflip", "screenshot", "border"} <= P.GEOMETRIC
    assert not ({"jpeg75", "blur1", "noise5", "grayscale"} & P.GEOMETRIC)


@pytest.mark.parametrize("name", sorted(P.PERTURBATIONS))
def test_each_perturbation_is_pure_seeded_and_mask_consistent(name: str) -> None:
    img = _scene()
    before = img.copy()
    a = P.PERTURBATIONS[name](img, np.random.default_rng(5))
    b = P.PERTURBATIONS[name](img, np.random.default_rng(5))
    assert np.array_equal(img, before), "input modified"
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert np.array_equal(a, b), "not deterministic for a fixed seed"
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[30:70, 40:100] = 255
    mi, mm = P.apply_with_mask(name, img, mask, np.random.default_rng(5))
    assert np.array_equal(mi, a)
    assert mm is not None and mm.shape == a.shape[:2]
    assert set(np.unique(mm)) <= {0, 255}
    assert np.array_equal(P.apply_to_mask(name, mask, np.random.default_rng(5)), mm)
    if name not in P.GEOMETRIC:
        assert np.array_equal(mm, mask)
        assert a.shape == img.shape


@pytest.mark.parametrize(
    "name", ["resize0.5", "resize1.5", "crop50", "rotate5", "hflip", "vflip", "border", "screenshot"]
)
def test_mask_follows_the_pixels(name: str) -> None:
    img = np.zeros((120, 160, 3), np.uint8)
    img[30:70, 40:100] = (255, 0, 0)
    mask = np.zeros((120, 160), bool)
    mask[30:70, 40:100] = True
    out, mm = P.apply_with_mask(name, img, mask, np.random.default_rng(1))
    assert mm is not None and mm.dtype == np.bool_
    red = (out[..., 0] > 128) & (out[..., 1] < 100) & (out[..., 2] < 100)
    # the moved mask and the moved red square agree except on a thin interpolation boundary
    inter = np.count_nonzero(red & mm)
    union = np.count_nonzero(red | mm)
    assert union > 0 and inter / union > 0.85


def test_geometry_values() -> None:
    img = _scene(200, 300)
    assert P.resize(img, 0.5).shape == (100, 150, 3)
    c = P.crop(img, 0.5)
    assert abs(c.shape[0] * c.shape[1] / (200 * 300) - 0.5) < 0.02
    assert P.PERTURBATIONS["crop25"](img, np.random.default_rng(0)).shape[:2] == (100, 150)
    assert np.array_equal(P.hflip(P.hflip(img)), img)
    assert P.border(img, 5).shape == (210, 310, 3)
    big = _scene(1500, 1200)
    s = P.social(big, np.random.default_rng(0))
    assert max(s.shape[:2]) == 1080


def test_photometric_values() -> None:
    img = _scene()
    g = P.grayscale(img)
    assert np.array_equal(g[..., 0], g[..., 1]) and np.array_equal(g[..., 1], g[..., 2])
    assert P.brightness(img, 20).astype(int).mean() > img.astype(int).mean() + 15
    assert P.contrast(img, 0.5).std() < img.std()
    assert P.gamma(np.full((2, 2, 3), 64, np.uint8), 0.5)[0, 0, 0] == 128
    assert P.blur(img, 2).astype(float).var() < img.astype(float).var()
    n = P.noise(img, 10, np.random.default_rng(0)).astype(float) - img
    assert 7 < n.std() < 11


def test_jpeg_quality_orders_error_and_encoded_bytes_are_real() -> None:
    img = _scene(128, 128, 3)
    errs = [np.abs(P.jpeg(img, q).astype(float) - img).mean() for q in (95, 75, 50)]
    assert errs[0] < errs[1] < errs[2]
    data = P.apply_encoded("jpeg75", img, np.random.default_rng(0))
    assert data[:3] == b"\xff\xd8\xff"
    assert np.array_equal(P.decode(data), P.PERTURBATIONS["jpeg75"](img, np.random.default_rng(0)))
    assert P.apply_encoded("webp80", img, np.random.default_rng(0))[8:12] == b"WEBP"
    assert P.apply_encoded("social", img, np.random.default_rng(0))[:3] == b"\xff\xd8\xff"
    assert P.apply_encoded("blur1", img, np.random.default_rng(0))[:4] == b"\x89PNG"


def test_errors() -> None:
    with pytest.raises(KeyError, match="unknown perturbation"):
        P.get("jpeg101")
    with pytest.raises(ValueError):
        P.PERTURBATIONS["jpeg75"](np.zeros((4, 4), np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError):
        P.encode(np.zeros((4, 4, 3), np.uint8), "GIF")
    with pytest.raises(ValueError):
        P.apply_to_mask("hflip", np.zeros((4, 4, 3), np.uint8))
