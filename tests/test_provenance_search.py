from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pixelsleuth.provenance.index import ReferenceIndex
from pixelsleuth.provenance.localize import difference_map
from pixelsleuth.provenance.search import search
from test_provenance_helpers import jpeg, rotate, textured

N_REFS = 12


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> ReferenceIndex:
    d = tmp_path_factory.mktemp("prov") / "ix"
    ix = ReferenceIndex.create(d)
    for s in range(N_REFS):
        ix.add(textured(s), f"mem://{s}", f"sha{s}", ["synthetic"])
    ix.save_snapshot()
    yield ix
    ix.close()


def _best(ix: ReferenceIndex, q: np.ndarray, **kw: object):  # noqa: ANN202
    res = search(ix, q, top_k=3, **kw)
    assert res.matches
    return res.best


@pytest.mark.parametrize(
    "name,make",
    [
        ("jpeg30", lambda im: jpeg(im, 30)),
        ("crop25", lambda im: cv2.resize(im[90:270, 120:360], (480, 360))),  # 25 % of the area, upscaled
        ("rot15", lambda im: rotate(im, 15, 1.1)),
        ("mirror", lambda im: np.ascontiguousarray(im[:, ::-1])),
        ("half", lambda im: cv2.resize(im, (240, 180), interpolation=cv2.INTER_AREA)),
        ("gray", lambda im: np.repeat(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)),
        (
            "pad",
            lambda im: cv2.copyMakeBorder(im, 60, 60, 80, 80, cv2.BORDER_CONSTANT, value=(255, 255, 255)),
        ),
    ],
)
def test_copies_found_at_rank_one(index: ReferenceIndex, name: str, make) -> None:  # noqa: ANN001
    seed = 3
    best = _best(index, make(textured(seed)), localize=False)
    assert best.ref.uri == f"mem://{seed}", name
    assert best.confirmed and best.copy_probability > 0.8, (name, best.copy_probability, best.inliers)
    assert best.homography is not None and len(best.polygon_query) >= 3


def test_non_copies_rejected(index: ReferenceIndex) -> None:
    for s in range(100, 104):
        res = search(index, textured(s), top_k=3, localize=False)
        assert all(m.copy_probability < 0.5 for m in res.matches), [m.copy_probability for m in res.matches]


def test_homography_and_polygon_for_crop(index: ReferenceIndex) -> None:
    ref = textured(5)
    q = ref[60:300, 100:420]  # pure crop: reference (x, y) -> query (x - 100, y - 60)
    best = _best(index, q, localize=False)
    h = best.homography / best.homography[2, 2]
    pt = h @ np.array([200.0, 150.0, 1.0])
    assert np.allclose(pt[:2] / pt[2], [100.0, 90.0], atol=3.0)
    xs = [p[0] for p in best.polygon_ref]
    ys = [p[1] for p in best.polygon_ref]
    assert min(xs) == pytest.approx(100, abs=4) and max(xs) == pytest.approx(420, abs=4)
    assert min(ys) == pytest.approx(60, abs=4) and max(ys) == pytest.approx(300, abs=4)


def test_difference_map_marks_the_edited_region(index: ReferenceIndex) -> None:
    ref = textured(7)
    q = jpeg(rotate(ref, 5, 1.05), 80).copy()
    q[100:180, 150:260] = textured(55)[0:80, 0:110]  # pasted foreign content
    best = _best(index, q, localize=True)
    assert best.ref.uri == "mem://7" and best.difference is not None
    m = best.difference.map
    assert m.shape == q.shape[:2] and m.dtype == np.float32
    truth = np.zeros(q.shape[:2], bool)
    truth[100:180, 150:260] = True
    pred = m > 0.5
    inter = (pred & truth).sum()
    f1 = 2 * inter / (pred.sum() + truth.sum())
    assert f1 > 0.7, f1
    # an unedited copy shows (almost) nothing
    clean = _best(index, jpeg(rotate(ref, 5, 1.05), 80), localize=True)
    assert clean.difference is not None and clean.difference.changed_fraction < 0.01


def test_difference_map_direct_identity() -> None:
    a = textured(9)
    b = a.copy()
    b[50:90, 60:140] = 255 - b[50:90, 60:140]
    d = difference_map(b, a, np.eye(3))
    assert d.map[60:80, 80:120].mean() > 0.8
    assert d.map[200:, 200:].mean() < 0.02
    assert 0.01 < d.changed_fraction < 0.05


def test_search_empty_index(tmp_path: Path) -> None:
    with ReferenceIndex.create(tmp_path / "e") as ix:
        res = search(ix, textured(1))
        assert res.matches == [] and res.best is None
        assert "total" in res.timings and len(res.query_pdq) == 64
