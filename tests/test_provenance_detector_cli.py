from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixelsleuth.cli import app
from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.registry import get_detector
from pixelsleuth.io import load_image
from pixelsleuth.provenance import open_index
from pixelsleuth.provenance.index import ReferenceIndex
from test_provenance_helpers import jpeg, textured


def _save(img: np.ndarray, path: Path, quality: int | None = None) -> Path:
    if quality:
        Image.fromarray(img).save(path, quality=quality)
    else:
        Image.fromarray(img).save(path)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("provcli")
    refs = root / "refs"
    refs.mkdir()
    for s in range(5):
        _save(textured(s), refs / f"r{s}.png")
    (refs / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    ix = root / "ix"
    r = CliRunner().invoke(app, ["index", "create", str(ix)])
    assert r.exit_code == 0, r.output
    return root, ix


def test_cli_index_lifecycle(built: tuple[Path, Path]) -> None:
    root, ix = built
    runner = CliRunner()
    r = runner.invoke(app, ["index", "add", str(ix), str(root / "refs"), "--tag", "bank1", "--json"])
    assert r.exit_code == 2  # one unreadable file is reported, the others are committed
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 5
    r = runner.invoke(app, ["index", "stats", str(ix), "--json"])
    assert r.exit_code == 0
    st = json.loads(r.stdout)
    assert st["references"] == 5 and st["tags"] == {"bank1": 5}
    q = _save(jpeg(textured(2), 60), root / "q.jpg", None)
    r = runner.invoke(app, ["search", str(q), "--index", str(ix), "--top-k", "2", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["matches"][0]["reference"]["uri"].endswith("r2.png") and out["matches"][0]["confirmed"]
    # export / import PDQ lists
    csv_path = root / "h.csv"
    assert runner.invoke(app, ["index", "export-pdq", str(ix), str(csv_path)]).exit_code == 0
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 5 and all(len(x["pdq"]) == 64 for x in rows)
    ix2 = root / "ix2"
    assert runner.invoke(app, ["index", "create", str(ix2)]).exit_code == 0
    r = runner.invoke(app, ["index", "import-pdq", str(ix2), str(csv_path), "--tag", "ncmec"])
    assert r.exit_code == 0 and "imported 5" in r.stdout
    r = runner.invoke(app, ["search", str(q), "--index", str(ix2), "--json"])
    best = json.loads(r.stdout.strip().splitlines()[-1])["matches"][0]
    assert best["reference"]["uri"].endswith("r2.png") and best["pdq_distance"] <= 20
    # manifest add, remove, compact
    man = root / "man.txt"
    _save(textured(40), root / "m40.png")
    man.write_text("m40.png\n# comment\n")
    assert runner.invoke(app, ["index", "add", str(ix), "--manifest", str(man)]).exit_code == 0
    r = runner.invoke(app, ["index", "remove", str(ix), "1", "--uri", str((root / "m40.png").resolve())])
    assert r.exit_code == 0 and "removed 2" in r.stdout
    assert runner.invoke(app, ["index", "compact", str(ix)]).exit_code == 0
    with open_index(ix) as ro:
        assert len(ro) == 4


def test_cli_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["search", str(tmp_path / "x.jpg"), "--index", str(tmp_path)])
    assert r.exit_code == 2 and "not a reference index" in " ".join(r.output.split())
    r = runner.invoke(app, ["index", "add", str(tmp_path / "nope"), str(tmp_path / "missing.png")])
    assert r.exit_code == 2 and "no such file" in " ".join(r.output.split())


def test_detector_turns_differences_into_evidence(tmp_path: Path) -> None:
    det = get_detector("provenance")()
    ref = textured(11)
    with ReferenceIndex.create(tmp_path / "ix") as ix:
        ix.add(ref, "orig.png", "s11")
        ix.add(textured(12), "other.png", "s12")
        ix.save_snapshot()
    edited = jpeg(ref, 85).copy()
    edited[120:200, 200:320] = textured(77)[:80, :120]
    with open_index(tmp_path / "ix") as ro:
        ctx = Context(resources={"index": ro})
        img = load_image(_save(edited, tmp_path / "e.jpg", 92))
        ev = det.run(img, ctx)
        assert ev.skipped is None and ev.score is not None and ev.score > 0.5
        assert ev.map is not None and ev.map.shape == img.shape
        assert ev.map[130:190, 210:310].mean() > 0.6 and ev.map[:80, :150].mean() < 0.05
        assert any(f.code == "provenance.region_differs" for f in ev.findings)
        clean = det.run(load_image(_save(ref, tmp_path / "c.jpg", 90)), ctx)
        assert clean.score is not None and clean.score < 0.5
        stranger = det.run(load_image(_save(textured(99), tmp_path / "s.png")), ctx)
        assert stranger.score is None and stranger.findings[0].code == "provenance.no_match"
        json.dumps(ev.to_dict())
    skipped = det.run(img, Context())
    assert skipped.skipped is not None and "index" in skipped.skipped
