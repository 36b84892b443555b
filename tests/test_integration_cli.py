"""End to end through the CLI: provenance and watermark evidence reach `analyze` reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from _util import encode, photo_like
from pixelsleuth.cli import app


def _report(out: Path, stem: str) -> dict:
    return json.loads((out / f"{stem}.json").read_text())


def test_analyze_with_index_marks_region_that_differs_from_known_original(tmp_path: Path):
    orig = photo_like(320, 400, seed=11)
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "original.png").write_bytes(encode(orig, "PNG"))
    edited = orig.copy()
    edited[100:180, 150:260] = np.clip(edited[100:180, 150:260].astype(int) * 0 + [30, 200, 40], 0, 255)
    q = tmp_path / "query.jpg"
    q.write_bytes(encode(edited, "JPEG", quality=92))
    idx = tmp_path / "idx"
    r = CliRunner().invoke(app, ["index", "create", str(idx)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["index", "add", str(idx), str(tmp_path / "refs")])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["analyze", str(q), "--index", str(idx), "--out", str(out), "--no-html"])
    assert r.exit_code == 0, r.output
    rep = _report(out, "query")
    prov = [d for d in rep["detectors"] if d["detector"] == "provenance"]
    assert prov and prov[0]["skipped"] is None, prov
    assert prov[0]["score"] is not None and prov[0]["score"] >= 0.5, json.dumps(prov)[:3000]
    assert rep["scores"]["manipulated"] >= 0.5  # (the procedural test image may also look generated)
    m = np.asarray(Image.open(out / "query.map.png")).astype(float) / 255
    inside = m[100:180, 150:260].mean()
    outside = np.concatenate([m[:80].ravel(), m[200:].ravel()]).mean()
    assert inside > 0.5 > outside


def test_analyze_with_watermark_key_reports_the_mark(tmp_path: Path):
    src = tmp_path / "photo.png"
    src.write_bytes(encode(photo_like(512, 512, seed=5), "PNG"))
    marked = tmp_path / "marked.png"
    r = CliRunner().invoke(
        app, ["watermark", "embed", str(src), str(marked), "--key", "s3cret", "--payload", "0x1234abcd"]
    )
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app, ["analyze", str(marked), "--watermark-key", "s3cret", "--out", str(out), "--no-html"]
    )
    assert r.exit_code == 0, r.output
    rep = _report(out, "marked")
    wm = next(d for d in rep["detectors"] if d["detector"] == "watermark")
    assert wm["skipped"] is None
    assert any(
        "0x1234abcd" in json.dumps(f).lower() or "1234abcd" in json.dumps(wm["extra"]).lower()
        for f in wm["findings"]
    )
    # without the key the detector is skipped with a reason, and nothing else breaks
    out2 = tmp_path / "out2"
    r = CliRunner().invoke(app, ["analyze", str(marked), "--out", str(out2), "--no-html"])
    assert r.exit_code == 0, r.output
    wm2 = next(d for d in _report(out2, "marked")["detectors"] if d["detector"] == "watermark")
    assert wm2["skipped"]
