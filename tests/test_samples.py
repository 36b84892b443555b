"""Demo samples: deterministic, self-made, consistent masks and a loadable manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelsleuth.samples import camera, make_samples


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("samples")
    make_samples(d)
    return d


def _digest(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(d).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_demo_set_contents(sample_dir: Path) -> None:
    rows = [json.loads(x) for x in (sample_dir / "manifest.jsonl").read_text().splitlines()]
    assert 8 <= len(rows) <= 12
    kinds = {r["type"] for r in rows}
    assert {"authentic", "resaved", "splice", "copymove"} <= kinds
    for r in rows:
        im = Image.open(sample_dir / r["image"])
        m = np.asarray(Image.open(sample_dir / r["mask"]))
        assert m.shape == (im.height, im.width)
        assert bool(m.any()) == (r["label"] == 1), r["image"]
        assert r["description"]
    jpgs = [r for r in rows if r["image"].endswith(".jpg")]
    assert jpgs and all((sample_dir / r["image"]).read_bytes()[:3] == b"\xff\xd8\xff" for r in jpgs)


def test_deterministic(sample_dir: Path, tmp_path: Path) -> None:
    make_samples(tmp_path)
    assert _digest(tmp_path) == _digest(sample_dir)


def test_manifest_is_a_bench_dataset(sample_dir: Path) -> None:
    from pixelsleuth.bench.datasets import load_dataset

    ds = load_dataset(sample_dir)
    assert not ds.errors
    assert ds.n_pos >= 4 and ds.n_neg >= 4


def test_camera_pipeline_keeps_channel_order() -> None:
    for c in range(3):
        img = np.zeros((32, 32, 3), np.float32)
        img[..., c] = 1.0
        rgb, data = camera(img, 0)
        assert int(np.argmax(rgb[8:24, 8:24].reshape(-1, 3).mean(0))) == c
        assert data[:3] == b"\xff\xd8\xff"


def test_cli_samples(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pixelsleuth.cli import app

    res = CliRunner().invoke(app, ["samples", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "demo" / "manifest.jsonl").exists()
