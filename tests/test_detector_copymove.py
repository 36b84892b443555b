from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from _util import wrap_rgb
from pixelsleuth.detectors._cm_geometry import describe_affine, g2nn_pairs, sequential_ransac
from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.copymove import CopyMoveDetector
from pixelsleuth.detectors.registry import all_detectors

_wrap = wrap_rgb


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """A natural-ish colour texture: noise summed over several scales plus a few shapes."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((h, w, 3), np.float32)
    for s, amp in ((4, 60), (12, 50), (32, 40)):
        small = rng.normal(0, 1, (h // s + 2, w // s + 2, 3)).astype(np.float32)
        acc += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    acc += rng.normal(0, 3, (h, w, 3))
    img = np.clip(128 + acc, 0, 255).astype(np.uint8)
    for _ in range(25):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(4, 20)), c, -1)
    return img


def _copy(img: np.ndarray, M: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = mask.shape
    warped = cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR)
    tmask = cv2.warpAffine(mask, M, (w, h), flags=cv2.INTER_NEAREST) > 0
    out = img.copy()
    out[tmask] = warped[tmask]
    return out, tmask


@pytest.fixture(scope="module")
def forged_case() -> dict:
    img = _texture(360, 420, seed=3)
    h, w = img.shape[:2]
    # translated copy of a 60x60 square
    m1 = np.zeros((h, w), np.uint8)
    m1[40:100, 40:100] = 1
    M1 = np.array([[1, 0, 250], [0, 1, 20]], np.float64)
    out, t1 = _copy(img, M1, m1)
    # rotated (30 degrees counter-clockwise on screen) copy of a disc
    m2 = np.zeros((h, w), np.uint8)
    cv2.circle(m2, (90, 270), 38, 1, -1)
    M2 = cv2.getRotationMatrix2D((90, 270), 30, 1.0)
    M2[0, 2] += 200
    M2[1, 2] += 0
    out, t2 = _copy(out, M2, m2)
    gt = (m1 > 0) | t1 | (m2 > 0) | t2
    ev = CopyMoveDetector().run(_wrap(out), Context(profile="default"))
    return {"img": img, "out": out, "gt": gt, "ev": ev}


def test_registered() -> None:
    cls = all_detectors()["copymove"]
    assert "default" in cls.profiles and "thorough" in cls.profiles


def test_copymove_map_marks_source_and_target(forged_case: dict) -> None:
    ev = forged_case["ev"]
    assert ev.skipped is None
    assert ev.map is not None and ev.map.shape == forged_case["gt"].shape and ev.map.dtype == np.float32
    pred = ev.map >= 0.5
    gt = forged_case["gt"]
    iou = (pred & gt).sum() / max((pred | gt).sum(), 1)
    assert iou > 0.5, iou
    assert ev.score is not None and ev.score >= 0.5


def test_copymove_reports_transforms(forged_case: dict) -> None:
    regions = [f.data for f in forged_case["ev"].findings if f.code == "copymove.region"]
    assert len(regions) >= 2
    # the translated square: displacement (250, 20), no rotation (or its inverse)
    shifts = [
        (r["transform"]["tx"], r["transform"]["ty"], r["transform"]["rotation_deg"], r["transform"]["scale"])
        for r in regions
    ]
    assert any(
        abs(abs(tx) - 250) < 4 and abs(abs(ty) - 20) < 4 and abs(rot) < 3 and abs(sc - 1) < 0.05
        for tx, ty, rot, sc in shifts
    ), shifts
    # the rotated disc: rotation of 30 degrees (either direction, depending on which copy is called the source)
    assert any(abs(abs(rot) - 30) < 4 and abs(abs(tx) - 200) < 8 for tx, ty, rot, sc in shifts), shifts


def test_copymove_authentic_scores_low(forged_case: dict) -> None:
    ev = CopyMoveDetector().run(_wrap(forged_case["img"]), Context(profile="default"))
    assert ev.skipped is None
    assert ev.score is not None and ev.score < 0.5
    assert float((ev.map >= 0.5).mean()) < 0.01


def test_copymove_small_image_is_handled() -> None:
    ev = CopyMoveDetector().run(_wrap(np.full((20, 20, 3), 128, np.uint8)), Context())
    assert ev.skipped is None
    assert ev.map is not None and ev.map.shape == (20, 20)
    assert ev.score == 0.0


def test_g2nn_and_ransac_recover_affine() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(20, 120, (40, 2))
    A = np.array([[math.cos(0.3), -math.sin(0.3), 200], [math.sin(0.3), math.cos(0.3), 50]])
    dst = src @ A[:, :2].T + A[:, 2]
    # unordered pairs: half of them reversed, plus outliers
    P = np.concatenate([src[:20], dst[20:], rng.uniform(0, 300, (15, 2))])
    Q = np.concatenate([dst[:20], src[20:], rng.uniform(0, 300, (15, 2))])
    models = sequential_ransac(P, Q, rng, thresh=2.0, min_inliers=6, min_shift=10)
    assert models
    Ab, s, d = models[0]
    assert len(s) >= 38
    tr = describe_affine(Ab, False, 1.0)
    # either direction is acceptable; the rotation magnitude must match 0.3 rad
    assert abs(abs(tr["rotation_deg"]) - math.degrees(0.3)) < 1.0
    desc = rng.normal(size=(30, 128)).astype(np.float32)
    desc = np.concatenate([desc, desc[:5] + 0.001])
    pts = rng.uniform(0, 500, (35, 2))
    pairs = g2nn_pairs(desc, desc, pts, pts, ratio=0.6, min_dist=1.0)
    assert {tuple(p) for p in pairs.tolist()} >= {(i, 30 + i) for i in range(5)}


def test_thorough_profile_finds_mirrored_copy() -> None:
    img = _texture(300, 400, seed=11)
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (90, 150), (45, 35), 0, 0, 360, 1, -1)
    # mirror about x = 90, then shift right by 210
    M = np.array([[-1.0, 0.0, 2 * 90 + 210], [0.0, 1.0, 0.0]])
    out, tmask = _copy(img, M, m)
    gt = (m > 0) | tmask
    ev = CopyMoveDetector().run(_wrap(out), Context(profile="thorough"))
    assert ev.score is not None and ev.score >= 0.5
    regions = [f.data for f in ev.findings if f.code == "copymove.region"]
    assert regions and regions[0]["transform"]["flip"] is True
    pred = ev.map >= 0.5
    assert (pred & gt).sum() / max((pred | gt).sum(), 1) > 0.4
    ev_default = CopyMoveDetector().run(_wrap(out), Context(profile="default"))
    assert ev_default.score is not None and ev_default.score <= ev.score
