"""Tests for the `noise` detector (synthetic images only)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.noise import (
    NBINS,
    NoiseDetector,
    analyze_noise,
    cooc_tile_hist,
    gauss_uniform_em,
    noise_level_tiles,
    reliability_tiles,
)
from pixelsleuth.detectors.registry import all_detectors
from pixelsleuth.io.loader import load_image


def _scene(h: int, w: int, seed: int, sigma: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 120 + 45 * np.sin(xx / 41.0 + rng.uniform(0, 6)) * np.cos(yy / 29.0 + rng.uniform(0, 6))
    for _ in range(10):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(15, 70)
        base += rng.uniform(-30, 30) * (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r)
    img = np.stack([base, base * 0.95 + 5, base * 0.85 + 15], axis=2)
    img += rng.normal(0, sigma, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _png(rgb: np.ndarray) -> bytes:
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, format="PNG")
    return b.getvalue()


def _noisy_region(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    img = _scene(384, 384, seed)
    mask = np.zeros(img.shape[:2], bool)
    mask[96:224, 160:304] = True
    rng = np.random.default_rng(seed + 1)
    out = img.astype(np.float32) + rng.normal(0, 8.0, img.shape) * mask[..., None]
    return np.clip(out, 0, 255).astype(np.uint8), mask


def test_registered_all_profiles() -> None:
    assert "noise" in all_detectors()
    assert {"fast", "default", "thorough"} == set(NoiseDetector.profiles)


def test_noise_level_estimate_tracks_sigma() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((256, 256), 128.0, np.float32)
    for s in (1.0, 3.0, 8.0):
        est = np.median(noise_level_tiles(flat + rng.normal(0, s, flat.shape).astype(np.float32)))
        assert est == pytest.approx(s, rel=0.15)


def test_reliability_low_on_dark_saturated_flat() -> None:
    g = np.full((64, 64), 128.0, np.float32) + np.random.default_rng(0).normal(0, 2, (64, 64)).astype(
        np.float32
    )
    g[:32, :32] = 2.0  # dark
    g[:32, 32:] = 255.0  # saturated
    g[32:, :32] = 128.0  # perfectly flat
    rel = reliability_tiles(g, noise_level_tiles(g))
    assert rel[:2, :2].max() < 0.2 and rel[:2, 2:].max() < 0.2 and rel[2:, :2].max() < 0.2
    assert rel[2:, 2:].min() > 0.8


def test_cooc_histogram_counts() -> None:
    g = np.random.default_rng(1).normal(128, 3, (64, 96)).astype(np.float32)
    h = cooc_tile_hist(g, 2.0, 4, 6)
    assert h.shape == (4, 6, 2 * NBINS)
    # every code position is counted exactly once per direction
    assert h[:, :, :NBINS].sum() == 64 * (96 - 6)
    assert h[:, :, NBINS:].sum() == (64 - 6) * 96


def test_gauss_uniform_em_finds_outliers() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (900, 4)), rng.normal(6, 1, (100, 4))])
    post, _ = gauss_uniform_em(x, np.ones(len(x)))
    assert post[900:].mean() > 0.8 and post[:900].mean() < 0.1


@pytest.mark.parametrize("profile", ["fast", "default"])
def test_noisy_region_localized(profile: str) -> None:
    img, mask = _noisy_region(0)
    res = analyze_noise(np.asarray(load_image(_png(img)).gray, dtype=np.float32), profile)
    m = res["map"]
    # upsample tile map to pixels and compare with the mask: IoU well above chance
    px = np.kron(m, np.ones((16, 16)))[: mask.shape[0], : mask.shape[1]]
    pred = px > 0.5
    iou = (pred & mask).sum() / max(1, (pred | mask).sum())
    chance = mask.mean()
    assert iou > max(0.4, 2 * chance)


def test_detector_flags_strong_noise_splice() -> None:
    img, mask = _noisy_region(2)
    ev = NoiseDetector().run(load_image(_png(img)), Context(profile="default"))
    assert ev.skipped is None and ev.map is not None and ev.map.shape == mask.shape
    assert ev.reliability is not None and ev.reliability.shape == mask.shape
    assert ev.map[mask].mean() > ev.map[~mask].mean()
    assert ev.score is not None and ev.score > 0.5
    assert any(f.code == "noise.inconsistent_region" for f in ev.findings)
    import json

    json.dumps(ev.to_dict())


@pytest.mark.parametrize("seed", [10, 11])
def test_authentic_low_score(seed: int) -> None:
    ev = NoiseDetector().run(load_image(_png(_scene(384, 384, seed))), Context(profile="default"))
    assert ev.score is not None and ev.score < 0.5
    assert ev.map is not None and float((ev.map > 0.5).mean()) < 0.02


def test_tiny_image_skipped() -> None:
    ev = NoiseDetector().run(load_image(_png(_scene(64, 64, 0))), Context())
    assert ev.skipped is not None
