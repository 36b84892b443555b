from __future__ import annotations

import cv2
import numpy as np
import pytest

from _util import wrap_rgb
from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.cfa import CFADetector, lattice_log_ratio

_wrap = wrap_rgb


def _scene(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    acc = np.zeros((h, w, 3), np.float32)
    for s, amp in ((3, 30), (12, 40), (40, 40)):
        small = rng.normal(0, 1, (h // s + 2, w // s + 2, 3)).astype(np.float32)
        acc += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(128 + acc, 0, 255).astype(np.uint8)


def _bayer_bilinear(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    f = rgb.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    r_m = ((yy % 2 == 0) & (xx % 2 == 0)).astype(np.float32)
    b_m = ((yy % 2 == 1) & (xx % 2 == 1)).astype(np.float32)
    g_m = 1 - r_m - b_m
    k_g = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float32) / 4
    k_rb = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 4
    out = np.zeros_like(f)
    for c, msk, k in ((0, r_m, k_rb), (1, g_m, k_g), (2, b_m, k_rb)):
        out[..., c] = cv2.filter2D(f[..., c] * msk, -1, k, borderType=cv2.BORDER_REFLECT_101)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def case() -> dict:
    scene = _scene(384, 384, 7)
    camera = _bayer_bilinear(scene)
    m = np.zeros((384, 384), bool)
    m[96:224, 160:320] = True
    forged = camera.copy()
    forged[m] = _scene(384, 384, 8)[m]  # pasted content without a demosaicing trace
    det = CFADetector()
    return {
        "camera": camera,
        "forged": forged,
        "mask": m,
        "ev_f": det.run(_wrap(forged), Context()),
        "ev_a": det.run(_wrap(camera), Context()),
        "scene": scene,
    }


def test_lattice_ratio_sign_follows_bayer_phase(case: dict) -> None:
    r, _ = lattice_log_ratio(case["camera"][..., 1], 32)
    # RGGB: green is acquired where x + y is odd, so lattice A (x + y even) is the interpolated one
    assert np.median(r) < -1.0
    r_shift, _ = lattice_log_ratio(case["camera"][:, 1:, 1], 32)
    assert np.median(r_shift) > 1.0


def test_pasted_region_lacking_trace_is_flagged(case: dict) -> None:
    ev = case["ev_f"]
    assert ev.skipped is None and ev.score is not None and ev.score >= 0.5
    pred = ev.map >= 0.5
    m = case["mask"]
    iou = (pred & m).sum() / max((pred | m).sum(), 1)
    assert iou > 0.5, iou
    assert any(f.code == "cfa.inconsistent_region" for f in ev.findings)


def test_consistent_camera_image_scores_low(case: dict) -> None:
    ev = case["ev_a"]
    assert ev.score is not None and ev.score < 0.5
    assert float((ev.map >= 0.5).mean()) < 0.02


def test_no_trace_gives_no_opinion_and_low_reliability(case: dict) -> None:
    ev = CFADetector().run(_wrap(case["scene"]), Context())
    assert ev.score is None
    assert any(f.code == "cfa.absent" for f in ev.findings)
    assert ev.reliability is not None and float(ev.reliability.max()) < 0.11
