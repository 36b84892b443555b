from __future__ import annotations

import hashlib
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import pixelsleuth
from _util import encode, photo_like
from pixelsleuth.cli import app
from pixelsleuth.detectors import registry
from pixelsleuth.detectors.base import Context, Detector, Family
from pixelsleuth.io import load_image
from pixelsleuth.pipeline import AnalyzeOptions, analyze_image, iter_inputs, output_stems
from pixelsleuth.report import validate_report


class BoxDetector(Detector):
    """Test detector: flags a fixed box; score from an option."""

    name = "test_box"
    version = "1"
    family = Family.MANIPULATION

    def analyze(self, image, context: Context):
        m = np.zeros(image.shape, np.float32)
        m[10:40, 20:60] = 1.0
        return self.evidence(score=context.opt("test_box", "score", 0.9), map=m)


class Broken(Detector):
    name = "test_broken"
    version = "1"

    def analyze(self, image, context):
        raise RuntimeError("boom")


def test_analyze_api_returns_valid_report(tmp_path: Path):
    p = tmp_path / "x.jpg"
    p.write_bytes(encode(photo_like(), "JPEG", quality=90))
    rep = pixelsleuth.analyze(p)
    validate_report(rep.data)
    assert rep.label in {"no_evidence_found", "manipulated", "ai_generated", "inconclusive"}
    assert rep.data["image"]["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert rep.data["image"]["width"] == 256 and rep.data["image"]["height"] == 192


def test_detector_map_flows_to_fused_map_and_label():
    img = load_image(encode(photo_like(), "PNG"))
    rep = analyze_image(img, AnalyzeOptions(), detectors=[BoxDetector()])
    validate_report(rep.data)
    assert rep.label == "manipulated"
    assert rep.map is not None and rep.map.shape == img.shape
    assert rep.map[20, 30] >= 0.5 and rep.map[100, 100] < 0.5
    low = analyze_image(
        img, AnalyzeOptions(detector_options={"test_box": {"score": 0.05}}), detectors=[BoxDetector()]
    )
    assert low.label == "no_evidence_found"
    assert low.map is not None and low.map.max() < 0.5


def test_broken_detector_does_not_kill_analysis():
    img = load_image(encode(photo_like(), "PNG"))
    rep = analyze_image(img, AnalyzeOptions(), detectors=[Broken(), BoxDetector()])
    validate_report(rep.data)
    d = {x["detector"]: x for x in rep.data["detectors"]}
    assert d["test_broken"]["skipped"].startswith("internal error: RuntimeError")
    assert rep.label == "manipulated"


def test_output_stems_unique(tmp_path: Path):
    files = [tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg", tmp_path / "y.png"]
    stems = output_stems(files)
    assert len(set(stems)) == 3 and stems[2] == "y"


def test_iter_inputs_sniffs_and_skips_outputs(tmp_path: Path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "noext").write_bytes(encode(photo_like(32, 32), "PNG"))
    (tmp_path / "in" / "notes.txt").write_text("hello")
    (tmp_path / "in" / "out").mkdir()
    (tmp_path / "in" / "out" / "old.png").write_bytes(encode(photo_like(32, 32), "PNG"))
    files = iter_inputs([tmp_path / "in"], exclude_dir=tmp_path / "in" / "out")
    assert [f.name for f in files] == ["noext"]
    with pytest.raises(FileNotFoundError):
        iter_inputs([tmp_path / "missing"])


def test_entry_point_plugin_is_discovered(tmp_path: Path, monkeypatch):
    (tmp_path / "ps_plugin_demo.py").write_text(
        textwrap.dedent(
            """
            from pixelsleuth.detectors.base import Detector, Family
            class DemoPlugin(Detector):
                name = "demo_plugin"
                version = "0.1"
                family = Family.MANIPULATION
                profiles = frozenset({"fast"})
                def analyze(self, image, context):
                    return self.evidence(score=0.1)
            """
        )
    )
    di = tmp_path / "ps_plugin_demo-0.1.dist-info"
    di.mkdir()
    (di / "METADATA").write_text("Metadata-Version: 2.1\nName: ps-plugin-demo\nVersion: 0.1\n")
    (di / "entry_points.txt").write_text("[pixelsleuth.detectors]\ndemo = ps_plugin_demo:DemoPlugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_loaded", False)
    try:
        assert "demo_plugin" in registry.all_detectors()
        assert "demo_plugin" in [d.name for d in registry.detectors_for("fast")]
    finally:
        registry._REGISTRY.pop("demo_plugin", None)
        sys.modules.pop("ps_plugin_demo", None)


def _make_batch(folder: Path, n_ok: int, n_bad: int) -> list[Path]:
    folder.mkdir(parents=True)
    bad = []
    for i in range(n_ok):
        fmt, ext = [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")][i % 3]
        (folder / f"img{i:03d}.{ext}").write_bytes(encode(photo_like(64, 80, seed=i), fmt))
    good = encode(photo_like(64, 80, seed=999), "JPEG")
    for i in range(n_bad):
        kind = i % 5
        p = folder / f"bad{i:02d}.jpg"
        if kind == 0:
            p.write_bytes(b"")
        elif kind == 1:
            p.write_bytes(good[: len(good) // 3])
        elif kind == 2:
            p.write_bytes(b"this is not an image at all" * 10)
        elif kind == 3:
            p.write_bytes(good[:20] + bytes(200))
        else:
            # PNG header declaring 100000 x 100000 pixels
            import struct
            import zlib

            ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
            chunk = b"IHDR" + ihdr
            p.write_bytes(
                b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
            )
        bad.append(p)
    return bad


def test_cli_batch_200_with_10_corrupt(tmp_path: Path):
    src = tmp_path / "in"
    bad = _make_batch(src, 190, 10)
    before = {p: p.read_bytes() for p in src.iterdir()}
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["analyze", str(src), "--out", str(out), "--profile", "fast", "--no-html"])
    assert res.exit_code == 2, res.output
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 200
    errors = [r for r in rows if r["error"]]
    assert sorted(Path(r["source"]).name for r in errors) == sorted(p.name for p in bad)
    assert all(r["error"]["message"] for r in errors)
    ok = [r for r in rows if not r["error"]]
    assert len(ok) == 190 and all(r["label"] for r in ok)
    assert (out / "index.html").exists()
    assert all(p.read_bytes() == b for p, b in before.items())  # inputs untouched
    assert not list(out.glob(".*"))  # no temporary or partial files left behind
    rep = json.loads((out / "img000.json").read_text())
    validate_report(rep)
    m = np.asarray(Image.open(out / "img000.map.png"))
    assert m.shape == (64, 80) and m.dtype == np.uint8


def test_cli_single_image_outputs_and_json_lines(tmp_path: Path):
    p = tmp_path / "photo.png"
    p.write_bytes(encode(photo_like(), "PNG"))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["analyze", str(p), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    line = json.loads(res.stdout.strip().splitlines()[-1])
    assert line["name"] == "photo.png" and line["error"] is None
    for suffix in (".json", ".map.png", ".overlay.png", ".html"):
        assert (out / f"photo{suffix}").exists(), suffix
    ov = np.asarray(Image.open(out / "photo.overlay.png"))
    assert ov.shape == (192, 256, 3)
    html = (out / "photo.html").read_text()
    assert "<img" in html and "opacity" in html and "http://" not in html.replace("http://www.w3.org", "")


def test_cli_rejects_unknown_profile_and_detector(tmp_path: Path):
    p = tmp_path / "p.png"
    p.write_bytes(encode(photo_like(32, 32), "PNG"))
    r = CliRunner().invoke(app, ["analyze", str(p), "--profile", "nope"])
    assert r.exit_code == 2
    r = CliRunner().invoke(app, ["analyze", str(p), "--detectors", "nope"])
    assert r.exit_code == 2
    r = CliRunner().invoke(app, ["analyze", str(tmp_path / "missing.jpg")])
    assert r.exit_code == 2


def test_published_schema_matches_package():
    root = Path(__file__).resolve().parents[1]
    pub = json.loads((root / "docs" / "report.schema.json").read_text())
    from pixelsleuth.report import load_schema

    assert pub == load_schema()


class _Rendezvous(Detector):
    """Test detector that can only finish while its twin runs at the same time (a 2-party barrier)."""

    version = "1"

    def __init__(self, name: str, barrier) -> None:
        self.name = name  # type: ignore[misc]
        self.barrier = barrier

    def analyze(self, image, context):
        self.barrier.wait()
        return self.evidence(score=0.1)


def _rendezvous_pair(timeout: float):
    import threading

    b = threading.Barrier(2, timeout=timeout)
    return [_Rendezvous("test_meet_a", b), _Rendezvous("test_meet_b", b)]


def test_detectors_of_one_image_run_concurrently_in_order():
    img = load_image(encode(photo_like(), "PNG"))
    rep = analyze_image(img, AnalyzeOptions(threads=2), detectors=_rendezvous_pair(10.0))
    assert [d["detector"] for d in rep.data["detectors"]] == ["test_meet_a", "test_meet_b"]
    assert all(d["skipped"] is None for d in rep.data["detectors"]), rep.data["detectors"]
    # one thread: the first detector waits for a twin that never comes, and its error is captured, not raised
    seq = analyze_image(img, AnalyzeOptions(threads=1), detectors=_rendezvous_pair(0.2))
    assert seq.data["detectors"][0]["skipped"].startswith("internal error: BrokenBarrierError")


def test_very_large_images_run_detectors_one_at_a_time(monkeypatch):
    import pixelsleuth.pipeline as pipeline

    monkeypatch.setattr(pipeline, "THREADED_MAX_MP", 0.01)
    img = load_image(encode(photo_like(), "PNG"))
    rep = analyze_image(img, AnalyzeOptions(threads=2), detectors=_rendezvous_pair(0.2))
    assert rep.data["detectors"][0]["skipped"].startswith("internal error: BrokenBarrierError")


@pytest.mark.parametrize("profile", ["fast", "default"])
def test_threaded_and_sequential_reports_are_identical(profile):
    img = load_image(encode(photo_like(), "JPEG", quality=88))
    a = analyze_image(img, AnalyzeOptions(profile=profile, threads=1))
    b = analyze_image(img, AnalyzeOptions(profile=profile, threads=2))

    def strip(d):
        d = json.loads(json.dumps(d))
        d.pop("timing"), d.pop("created")
        for det in d["detectors"]:
            det.pop("elapsed_s", None)
        return d

    assert strip(a.data) == strip(b.data)
    assert (a.map is None) == (b.map is None)
    if a.map is not None:
        assert np.array_equal(a.map, b.map)
    for ea, eb in zip(a.evidence, b.evidence, strict=True):
        for attr in ("map", "reliability"):
            ma, mb = getattr(ea, attr, None), getattr(eb, attr, None)
            assert (ma is None) == (mb is None)
            if ma is not None:
                assert np.array_equal(ma, mb), (ea.detector, attr)


def test_threads_option_is_validated(tmp_path: Path):
    with pytest.raises(ValueError, match="threads"):
        AnalyzeOptions(threads=-1)
    p = tmp_path / "x.png"
    p.write_bytes(encode(photo_like(), "PNG"))
    res = CliRunner().invoke(app, ["analyze", str(p), "--threads", "-1"])
    assert res.exit_code != 0 and "threads" in res.output.lower()
