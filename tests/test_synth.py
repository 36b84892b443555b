"""Forgery synthesizer: exact masks, reproducibility, split, manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pixelsleuth.bench import synth as S


def _photo(seed: int, h: int = 128, w: int = 160) -> np.ndarray:
    """A photo-like test scene: smooth gradient, a few shapes, texture and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w * 200, yy / h * 180, 90 + 60 * np.sin(xx / 9.0 + seed)], axis=2)
    for _ in range(4):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(8, 30)), c, -1)
    img += rng.normal(0, 5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    for i in range(6):
        Image.fromarray(_photo(i)).save(d / f"p{i}.png")
    return d


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def synth_run(photo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("synth")
    rows = S.synthesize(photo_dir, out, n=len(S.SYNTH_TYPES), seed=11, max_side=None)
    return out, rows


def test_every_type_produced_with_exact_masks(synth_run: tuple[Path, list[dict]], photo_dir: Path) -> None:
    out, rows = synth_run
    assert {r["type"] for r in rows if r["label"] == 1} == set(S.SYNTH_TYPES)
    assert any(r["label"] == 0 and r["type"] == "authentic" for r in rows)
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == len(rows)
    for r in rows:
        img = np.asarray(Image.open(out / r["image"]).convert("RGB"))
        mask = np.asarray(Image.open(out / r["mask"]))
        assert mask.shape == img.shape[:2] == (r["height"], r["width"])
        assert set(np.unique(mask)) <= {0, 255}
        if r["label"] == 0:
            assert not mask.any()
            continue
        assert mask.any(), r["type"]
        if r["type"] == "double_jpeg":
            assert (out / r["image"]).read_bytes()[:3] == b"\xff\xd8\xff"
            assert {"q1", "q2", "aligned", "shift"} <= set(r["params"])
            continue
        # PNG save: far from the mask, the forgery equals the source photo exactly
        src = np.asarray(Image.open(r["source"]).convert("RGB"))
        far = cv2.dilate(mask, np.ones((15, 15), np.uint8)) == 0
        assert np.array_equal(img[far], src[far]), r["type"]
        # inside the mask something changed
        changed = np.any(img != src, axis=2)
        assert changed[mask > 0].mean() > 0.2, r["type"]


def test_copymove_has_disjoint_source_mask(synth_run: tuple[Path, list[dict]]) -> None:
    out, rows = synth_run
    cm = [r for r in rows if r["type"] == "copymove"]
    assert cm
    for r in cm:
        tgt = np.asarray(Image.open(out / r["mask"])) > 0
        src = np.asarray(Image.open(out / r["source_mask"])) > 0
        assert src.any() and tgt.any()
        assert not (src & tgt).any()


def test_reproducible_and_seed_sensitive(photo_dir: Path, tmp_path: Path) -> None:
    kinds = ["splice", "copymove", "inpaint_patch", "double_jpeg"]
    S.synthesize(photo_dir, tmp_path / "a", n=4, types=kinds, seed=3, max_side=None)
    S.synthesize(photo_dir, tmp_path / "b", n=4, types=kinds, seed=3, max_side=None)
    S.synthesize(photo_dir, tmp_path / "c", n=4, types=kinds, seed=4, max_side=None)
    da, db, dc = (_digest(tmp_path / k / "images") for k in "abc")
    assert da == db
    assert da != dc
    ma = (tmp_path / "a" / "manifest.jsonl").read_text().replace(str(tmp_path / "a"), "")
    mb = (tmp_path / "b" / "manifest.jsonl").read_text().replace(str(tmp_path / "b"), "")
    assert ma == mb


def test_jpeg_output_and_quality_recorded(photo_dir: Path, tmp_path: Path) -> None:
    rows = S.synthesize(
        photo_dir, tmp_path, n=2, types=["blur"], seed=1, fmt="jpeg", quality=77, max_side=None
    )
    for r in rows:
        assert r["format"] == "JPEG" and r["params"]["quality"] == 77
        assert (tmp_path / r["image"]).read_bytes()[:3] == b"\xff\xd8\xff"
    assert (tmp_path / "manifest.csv").read_text().startswith("id,image,mask")


def test_split_is_stable_and_about_30_percent() -> None:
    names = [f"img{i:04d}.jpg" for i in range(2000)]
    test = [n for n in names if S.split_of(n) == "test"]
    assert 0.26 < len(test) / len(names) < 0.34
    assert S.split_of("/a/b/img0001.jpg") == S.split_of("img0001.jpg")
    expect = "test" if int(hashlib.sha256(b"img0001.jpg").hexdigest()[:8], 16) % 100 < 30 else "train"
    assert S.split_of("img0001.jpg") == expect


def test_split_filter_and_donors_from_same_split(tmp_path: Path) -> None:
    d = tmp_path / "ph"
    d.mkdir()
    for i in range(20):
        Image.fromarray(_photo(i, 64, 80)).save(d / f"q{i}.png")
    tr = S.list_photos(d, "train")
    te = S.list_photos(d, "test")
    assert tr and te and not set(tr) & set(te) and len(tr) + len(te) == 20
    rows = S.synthesize(d, tmp_path / "o", n=3, types=["splice"], seed=0, split="test", max_side=None)
    for r in rows:
        assert r["split"] == "test"
        if r["donor"]:
            assert S.split_of(r["donor"]) == "test"


def test_errors(photo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown forgery types"):
        S.synthesize(photo_dir, tmp_path, n=1, types=["warp"])
    with pytest.raises(FileNotFoundError):
        S.synthesize(tmp_path / "nope", tmp_path / "o", n=1)
    with pytest.raises(ValueError):
        S.make_forgery("splice", _photo(0), np.random.default_rng(0))


def test_exemplar_fill_fills_only_the_hole() -> None:
    img = _photo(2)
    hole = np.zeros(img.shape[:2], bool)
    hole[50:70, 60:85] = True
    out = S.exemplar_fill(img, hole, patch=7)
    assert np.array_equal(out[~hole], img[~hole])
    # filled pixels come from the image (no black holes)
    assert out[hole].mean() > 20


def test_mask_shapes_hit_their_area() -> None:
    rng = np.random.default_rng(0)
    for fn in (S.blob_mask, S.polygon_mask, S.rect_mask):
        m = fn((200, 300), rng, 0.05)
        assert 0.02 < m.mean() < 0.1, fn.__name__
    om = S.object_mask(_photo(1, 200, 300), rng, 0.05)
    assert om.any() and om.mean() < 0.2


def test_cli_synth(photo_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pixelsleuth.cli import app

    res = CliRunner().invoke(
        app, ["synth", "--src", str(photo_dir), "--out", str(tmp_path), "--n", "2", "--types", "blur,median"]
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert {r["type"] for r in rows} >= {"blur", "median"}
    bad = CliRunner().invoke(
        app, ["synth", "--src", str(photo_dir), "--out", str(tmp_path), "--types", "nope"]
    )
    assert bad.exit_code == 2
