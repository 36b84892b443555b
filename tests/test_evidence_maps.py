"""Evidence map sanitising and the tile-score painter shared by the AI detectors."""

from __future__ import annotations

import numpy as np

from pixelsleuth.detectors.base import Evidence, Family
from pixelsleuth.models.ai_common import TILE, tiles_to_map


def test_evidence_sanitises_maps() -> None:
    m = np.array([[np.nan, np.inf, -np.inf, 0.5, -3.0, 7.0]])
    e = Evidence("x", "1", Family.AI_GENERATED, score=float("nan"), map=m, reliability=m.astype(np.float32))
    for a in (e.map, e.reliability):
        assert a.dtype == np.float32
        assert np.array_equal(a, np.array([[0.0, 1.0, 0.0, 0.5, 0.0, 1.0]], np.float32))
    assert e.score == 0.0
    src = np.full((4, 4), 0.25, np.float32)
    e2 = Evidence("x", "1", Family.AI_GENERATED, map=src)
    e2.map[0, 0] = 1.0
    assert src[0, 0] == 0.25  # the detector's own array is never aliased


def _painted_naively(shape, scale, corners, values):  # noqa: ANN001, ANN202
    h, w = shape
    acc = np.zeros((h, w), np.float32)
    cnt = np.zeros((h, w), np.float32)
    for (y, x), v in zip(corners, values, strict=True):
        y0, x0 = int(y / scale), int(x / scale)
        y1, x1 = min(h, int(np.ceil((y + TILE) / scale))), min(w, int(np.ceil((x + TILE) / scale)))
        acc[y0:y1, x0:x1] += v
        cnt[y0:y1, x0:x1] += 1
    return np.where(cnt > 0, acc / np.maximum(cnt, 1), 0.0).astype(np.float32)


def test_tiles_to_map_equals_pixelwise_painting() -> None:
    rng = np.random.default_rng(0)
    for shape, scale in (
        ((3000, 4000), 512 / 3000),
        ((512, 512), 1.0),
        ((300, 400), 1.0),
        ((1000, 700), 0.73),
    ):
        nh, nw = round(shape[0] * scale), round(shape[1] * scale)
        for n in (1, 3, 5, 9):
            corners = [
                (int(rng.integers(0, max(1, nh - TILE + 1))), int(rng.integers(0, max(1, nw - TILE + 1))))
                for _ in range(n)
            ]
            values = rng.random(n).tolist()
            got = tiles_to_map(shape, scale, corners, values)
            want = _painted_naively(shape, scale, corners, values)
            assert got.shape == shape and got.dtype == np.float32
            assert np.array_equal(got, want)
