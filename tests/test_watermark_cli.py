"""CLI: pixelsleuth watermark embed/detect/scan and credentials errors."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from _wm_images import photo  # tests/ is on sys.path (conftest.py)
from pixelsleuth.cli import app

runner = CliRunner()


def test_embed_detect_roundtrip(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(photo(320, 400, seed=2)).save(src)
    out = tmp_path / "out.jpg"
    r = runner.invoke(app, ["watermark", "embed", str(src), str(out), "-p", "0xabc123", "-k", "clikey"])
    assert r.exit_code == 0, r.output
    assert out.exists()
    r = runner.invoke(
        app, ["watermark", "detect", str(out), "-k", "clikey", "--json", "--map", str(tmp_path / "m.png")]
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["detected"] and d["payload_hex"] == "00abc123"
    assert (tmp_path / "m.png").exists()
    r = runner.invoke(app, ["watermark", "detect", str(out), "-k", "wrong"])
    assert r.exit_code == 1


def test_errors_exit_2(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(photo(200, 200)).save(src)
    r = runner.invoke(app, ["watermark", "embed", str(src), str(tmp_path / "o.png"), "-p", "zz", "-k", "k"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["watermark", "detect", str(tmp_path / "missing.png"), "-k", "k"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["watermark", "embed", str(src), str(tmp_path / "o.gifx"), "-k", "k"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["credentials", "sign", str(src), str(tmp_path / "s.png"), "--cert", str(tmp_path / "nope.pem"),
                            "--private-key", str(tmp_path / "nope.key")])  # fmt: skip
    assert r.exit_code == 2


def test_credentials_read_absent(tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    Image.fromarray(photo(200, 200)).save(src, quality=90)
    r = runner.invoke(app, ["credentials", "read", str(src), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["status"] == "absent"
