"""ELA: a pasted region with a different compression history stands out; clean images score low."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from _imagegen import encode, natural
from pixelsleuth.detectors.base import Context, Family
from pixelsleuth.detectors.ela import ElaDetector, blockiness
from pixelsleuth.detectors.registry import all_detectors
from pixelsleuth.io import load_image

REGION = (slice(83, 163), slice(91, 181))  # deliberately not aligned to the 8x8 grid


def _decode(b: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))


def _spliced(seed: int) -> tuple[bytes, np.ndarray]:
    background = _decode(encode(natural(256, 320, seed), "JPEG", quality=65))
    donor = natural(256, 320, seed + 100)  # never compressed
    comp = background.copy()
    comp[REGION] = donor[REGION]
    mask = np.zeros(comp.shape[:2], bool)
    mask[REGION] = True
    return encode(comp, "JPEG", quality=92), mask


def test_registered_and_profiles() -> None:
    d = all_detectors()
    assert "ela" in d and d["ela"].family == Family.MANIPULATION
    assert set(d["ela"].profiles) == {"fast", "default", "thorough"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spliced_region_scores_higher_and_is_localised(seed: int) -> None:
    det, ctx = ElaDetector(), Context(profile="default")
    b, mask = _spliced(seed)
    ev = det.run(load_image(b), ctx)
    clean = det.run(load_image(encode(natural(256, 320, seed), "JPEG", quality=92)), ctx)
    assert ev.skipped is None and ev.map is not None and ev.map.shape == mask.shape
    assert ev.map.dtype == np.float32 and 0.0 <= ev.map.min() and ev.map.max() <= 1.0
    assert ev.score is not None and clean.score is not None
    assert ev.score >= 0.5 > clean.score
    assert ev.score > clean.score
    # the map overlaps the region far better than chance
    inside, outside = float(ev.map[mask].mean()), float(ev.map[~mask].mean())
    assert inside > 3 * outside
    hot = ev.map >= 0.5
    precision = (hot & mask).sum() / max(hot.sum(), 1)
    assert precision > 2 * mask.mean()
    assert any(f.code == "ela.inconsistent_region" and f.supports.value == "manipulated" for f in ev.findings)
    assert ev.extra["manipulated"] == ev.score


@pytest.mark.parametrize("q", [70, 85, 95])
def test_single_compressed_scores_low(q: int) -> None:
    det = ElaDetector()
    for seed in range(3):
        ev = det.run(load_image(encode(natural(240, 300, seed + 10), "JPEG", quality=q)), Context())
        assert ev.score is not None and ev.score < 0.5, (q, seed, ev.extra)
        assert any(f.code == "ela.consistent" for f in ev.findings)


def test_never_compressed_flagged_with_low_reliability() -> None:
    ev = ElaDetector().run(load_image(encode(natural(200, 200, 4), "PNG")), Context())
    assert any(f.code == "ela.never_compressed" for f in ev.findings)
    assert ev.reliability is not None and float(ev.reliability.max()) <= 0.4 + 1e-6
    assert ev.score is not None and ev.score < 0.5
    jpeg_then_png = encode(_decode(encode(natural(200, 200, 4), "JPEG", quality=80)), "PNG")
    ev2 = ElaDetector().run(load_image(jpeg_then_png), Context())
    assert not any(f.code == "ela.never_compressed" for f in ev2.findings)


def test_blockiness_measure() -> None:
    a = natural(128, 128, 1)
    y = np.asarray(Image.fromarray(a).convert("L"))
    yj = np.asarray(Image.open(io.BytesIO(encode(Image.fromarray(y), "JPEG", quality=60))))
    assert blockiness(yj) > blockiness(y) + 0.05


@pytest.mark.parametrize("profile", ["fast", "default", "thorough"])
def test_profiles_and_odd_sizes(profile: str) -> None:
    det = ElaDetector()
    for h, w in [(8, 8), (37, 53), (130, 77)]:
        ev = det.run(load_image(encode(natural(h, w), "JPEG", quality=80)), Context(profile=profile))
        assert ev.skipped is None and ev.map is not None and ev.map.shape == (h, w)
        assert ev.reliability is not None and ev.reliability.shape == (h, w)
        assert 0.0 <= (ev.score or 0.0) <= 1.0
