from __future__ import annotations

import cv2
import numpy as np
import pytest

from _util import wrap_rgb
from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.resampling import ResamplingDetector, block_spectra, residual_magnitude

_wrap = wrap_rgb


def _scene(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    acc = np.zeros((h, w), np.float32)
    for s, amp in ((2, 25), (8, 30), (32, 40)):
        small = rng.normal(0, 1, (h // s + 2, w // s + 2)).astype(np.float32)
        acc += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    acc += rng.normal(0, 4, (h, w))
    g = np.clip(128 + acc, 0, 255)
    return np.repeat(g[..., None], 3, axis=2).astype(np.uint8)


@pytest.fixture(scope="module")
def case() -> dict:
    img = _scene(512, 512, 1)
    m = np.zeros((512, 512), bool)
    m[160:352, 192:384] = True
    up = cv2.resize(img, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)[:512, :512]
    forged = img.copy()
    forged[m] = up[m]
    det = ResamplingDetector()
    return {
        "img": img,
        "forged": forged,
        "mask": m,
        "ev_f": det.run(_wrap(forged), Context()),
        "ev_a": det.run(_wrap(img), Context()),
    }


def test_resampled_region_is_marked(case: dict) -> None:
    ev = case["ev_f"]
    assert ev.skipped is None and ev.map is not None and ev.map.shape == (512, 512)
    m = case["mask"]
    inner = np.zeros_like(m)
    inner[192:320, 224:352] = True
    assert ev.map[inner].mean() > 3 * ev.map[~m].mean() + 0.05
    assert ev.score is not None and ev.score >= 0.5
    assert any(f.code == "resampling.region" for f in ev.findings)


def test_untouched_image_scores_low(case: dict) -> None:
    ev = case["ev_a"]
    assert ev.score is not None and ev.score < 0.5
    assert ev.score < case["ev_f"].score
    assert float((ev.map >= 0.5).mean()) < 0.05


def test_spectrum_of_upscaled_texture_has_a_peak() -> None:
    g = _scene(256, 256, 2)[..., 0].astype(np.float32)
    up = cv2.resize(g, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)[:256, :256]
    peak_plain = block_spectra(residual_magnitude(g), 64, 64).max(axis=-1).mean()
    peak_up = block_spectra(residual_magnitude(up), 64, 64).max(axis=-1).mean()
    assert peak_up > peak_plain + 0.5


def test_small_image_has_no_opinion() -> None:
    ev = ResamplingDetector().run(_wrap(np.zeros((60, 60, 3), np.uint8)), Context())
    assert ev.skipped is None and ev.score is None


def test_flat_image_has_no_opinion_and_says_why() -> None:
    ev = ResamplingDetector().run(_wrap(np.full((300, 300, 3), 90, np.uint8)), Context())
    assert ev.skipped is None and ev.score is None
    assert any(f.code == "resampling.low_signal" for f in ev.findings)
    assert ev.reliability is not None and float(ev.reliability.max()) <= 0.3
