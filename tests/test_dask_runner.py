from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("dask.distributed")

from _util import encode, photo_like  # noqa: E402
from pixelsleuth.pipeline import AnalyzeOptions, run_batch, run_batch_dask  # noqa: E402


def test_dask_runner_matches_local_runner(tmp_path: Path):
    src = tmp_path / "in"
    src.mkdir()
    files = []
    for i in range(4):
        p = src / f"i{i}.png"
        p.write_bytes(encode(photo_like(64, 64, seed=i), "PNG"))
        files.append(p)
    (src / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    files.append(src / "bad.jpg")
    opts = AnalyzeOptions(profile="fast")
    local = list(run_batch(files, opts, tmp_path / "a", workers=1, write_html=False))
    dask_rows = list(
        run_batch_dask(files, opts, tmp_path / "b", scheduler="local", workers=2, write_html=False)
    )
    assert [r["name"] for r in dask_rows] == [r["name"] for r in local]
    assert [r["label"] for r in dask_rows] == [r["label"] for r in local]
    assert [r["scores"] for r in dask_rows] == [r["scores"] for r in local]
    assert dask_rows[-1]["error"] is not None
    rep = json.loads((tmp_path / "b" / "i0.json").read_text())
    assert rep["label"] == local[0]["label"]
