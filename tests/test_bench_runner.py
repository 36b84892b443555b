"""Runner + report with stand-in detectors registered only for the test."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

from pixelsleuth.bench.datasets import load_dataset
from pixelsleuth.bench.report import summary_rows, write_report
from pixelsleuth.bench.runner import BASELINE, run_benchmark
from pixelsleuth.detectors import registry
from pixelsleuth.detectors.base import Context, Detector, Family
from pixelsleuth.io import ImageData


class RedFinder(Detector):
    """Flags strongly red pixels: a perfect detector for the test set below."""

    name: ClassVar[str] = "_test_red"
    family: ClassVar[Family] = Family.MANIPULATION

    def analyze(self, image: ImageData, context: Context):  # noqa: ANN201
        rgb = image.rgb.astype(np.int16)
        m = ((rgb[..., 0] > 150) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)).astype(np.float32)
        return self.evidence(score=0.9 if m.mean() > 0.005 else 0.1, map=m)


class FormatProbe(Detector):
    """Score 1 when it is handed a JPEG file, else 0 (checks perturbed files are real re-encodings)."""

    name: ClassVar[str] = "_test_fmt"
    family: ClassVar[Family] = Family.MANIPULATION

    def analyze(self, image: ImageData, context: Context):  # noqa: ANN201
        return self.evidence(score=1.0 if image.format == "JPEG" else 0.0)


class JpegOnly(Detector):
    name: ClassVar[str] = "_test_jpeg_only"
    family: ClassVar[Family] = Family.MANIPULATION
    requires: ClassVar[frozenset[str]] = frozenset({"jpeg"})

    def analyze(self, image: ImageData, context: Context):  # noqa: ANN201
        return self.evidence(score=0.5)


@pytest.fixture
def fake_detectors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    registry._load_all()
    for cls in (RedFinder, FormatProbe, JpegOnly):
        monkeypatch.setitem(registry._REGISTRY, cls.name, cls)
    return [RedFinder.name, FormatProbe.name, JpegOnly.name]


@pytest.fixture
def red_dataset(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(6):
        img = (rng.random((64, 96, 3)) * 80 + 60).astype(np.uint8)
        mask = np.zeros((64, 96), np.uint8)
        label = i % 2
        if label:
            y, x = 10 + 3 * i, 20 + 4 * i
            img[y : y + 16, x : x + 24] = (230, 20, 20)
            mask[y : y + 16, x : x + 24] = 255
        Image.fromarray(img).save(tmp_path / f"{i}.png")
        Image.fromarray(mask).save(tmp_path / f"{i}_m.png")
        rows.append(
            {
                "image": f"{i}.png",
                "mask": f"{i}_m.png",
                "label": label,
                "type": "red" if label else "authentic",
            }
        )
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path


def test_runner_scores_detectors_baseline_and_perturbations(
    fake_detectors: list[str], red_dataset: Path
) -> None:
    ds = load_dataset(red_dataset)
    calls: list[int] = []
    res = run_benchmark(
        ds, detectors=fake_detectors, perturbations=["jpeg75", "hflip"], progress=lambda: calls.append(1)
    )
    assert len(calls) == 6 * 3
    assert res.methods[: len(fake_detectors)] == fake_detectors and res.methods[-1] == BASELINE
    rows = {(r["condition"], r["method"]): r for r in summary_rows(res)}
    red = rows[("clean", "_test_red")]
    assert red["auc"] == 1.0 and red["f1"] == pytest.approx(1.0) and red["n_pix"] == 3
    assert red["fp_area"] == 0.0
    base = rows[("clean", BASELINE)]
    assert base["auc"] == 0.5 and base["bal_acc"] == 0.5
    assert base["f1"] == pytest.approx(np.mean([2 * p / (1 + p) for p in [16 * 24 / (64 * 96)] * 3]))
    assert base["fp_area"] == 1.0
    # the mask follows hflip, so the perfect detector stays perfect
    assert rows[("hflip", "_test_red")]["f1"] == pytest.approx(1.0)
    assert rows[("jpeg75", "_test_red")]["f1"] > 0.9
    # detectors see the encoder's real file: JPEG under jpeg75, PNG otherwise
    fmt = [r for r in res.records if r["method"] == "_test_fmt"]
    assert all(r["score"] == 1.0 for r in fmt if r["condition"] == "jpeg75")
    assert all(r["score"] == 0.0 for r in fmt if r["condition"] != "jpeg75")
    # a JPEG-only detector is skipped on PNG and runs on the JPEG condition
    jo = rows[("clean", "_test_jpeg_only")]
    assert jo["n_skipped"] == 6 and jo["n_scored"] == 0
    assert rows[("jpeg75", "_test_jpeg_only")]["n_scored"] == 6
    assert "_test_jpeg_only" in res.skipped_reasons
    assert res.peak_memory.get("_test_red", 0) > 0


def test_runner_is_deterministic_and_parallel_matches(fake_detectors: list[str], red_dataset: Path) -> None:
    ds = load_dataset(red_dataset)
    a = run_benchmark(ds, detectors=["_test_red"], perturbations=["combo"], seed=4, fusion=False)
    b = run_benchmark(ds, detectors=["_test_red"], perturbations=["combo"], seed=4, fusion=False, workers=2)

    def key(res):  # noqa: ANN001, ANN202
        return [(r["item"], r["condition"], r["method"], r["score"], r.get("f1")) for r in res.records]

    assert key(a) == key(b)


def test_report_files_and_unknown_names(fake_detectors: list[str], red_dataset: Path, tmp_path: Path) -> None:
    ds = load_dataset(red_dataset)
    res = run_benchmark(ds, detectors=["_test_red"], perturbations=["jpeg85", "jpeg75", "blur1"])
    paths = write_report(res, tmp_path / "out")
    names = {p.name for p in paths}
    assert {
        "records.csv",
        "summary.csv",
        "summary.md",
        "run.json",
        "robustness_jpeg_auc.png",
        "conditions_f1.png",
    } <= names
    for p in paths:
        assert p.stat().st_size > 0
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "| clean | _test_red |" in md and "baseline" in md
    with open(tmp_path / "out" / "summary.csv") as fh:
        srows = list(csv.DictReader(fh))
    assert len(srows) == 4 * len(res.methods)
    with pytest.raises(KeyError):
        run_benchmark(ds, detectors=["no_such_detector"])
    with pytest.raises(KeyError):
        run_benchmark(ds, detectors=["_test_red"], perturbations=["jpeg101"])


def test_bench_cli(fake_detectors: list[str], red_dataset: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pixelsleuth.cli import app

    r = CliRunner().invoke(
        app,
        [
            "bench",
            "run",
            "--dataset",
            str(red_dataset),
            "--detectors",
            "_test_red",
            "--perturb",
            "jpeg75",
            "--out",
            str(tmp_path / "o"),
            "--limit",
            "4",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o" / "summary.md").exists()
    bad = CliRunner().invoke(app, ["bench", "run", "--dataset", str(red_dataset), "--perturb", "nope"])
    assert bad.exit_code == 2
    bad = CliRunner().invoke(app, ["bench", "run", "--dataset", str(tmp_path / "missing")])
    assert bad.exit_code == 2
    bad = CliRunner().invoke(app, ["bench", "run", "--dataset", str(red_dataset), "--detectors", "nope"])
    assert bad.exit_code == 2


def test_copy_move_source_masks_give_f1_both(
    fake_detectors: list[str], red_dataset: Path, tmp_path: Path
) -> None:
    rows = [json.loads(x) for x in (red_dataset / "manifest.jsonl").read_text().splitlines()]
    src = np.zeros((64, 96), np.uint8)
    src[40:56, 0:24] = 255  # a "source" region the red finder does not mark
    Image.fromarray(src).save(red_dataset / "src.png")
    for r in rows:
        if r["label"] == 1:
            r["source_mask"] = "src.png"
    (red_dataset / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    res = run_benchmark(
        load_dataset(red_dataset), detectors=["_test_red"], perturbations=["hflip"], fusion=False
    )
    srow = {(r["condition"], r["method"]): r for r in summary_rows(res)}
    for cond in ("clean", "hflip"):
        red = srow[(cond, "_test_red")]
        assert red["f1"] == pytest.approx(1.0)
        assert red["n_both"] == 3
        # target found, source (same size) missed: F1 = 2*384 / (2*384 + 384) = 2/3
        assert red["f1_both"] == pytest.approx(2 / 3)
    paths = write_report(res, tmp_path / "o")
    assert "f1_both" in (tmp_path / "o" / "summary.md").read_text()
    assert paths


def test_cli_lists_perturbations() -> None:
    from typer.testing import CliRunner

    from pixelsleuth.bench.perturbations import PERTURBATIONS
    from pixelsleuth.cli import app

    r = CliRunner().invoke(app, ["bench", "perturbations"])
    assert r.exit_code == 0
    assert len(r.output.strip().splitlines()) == len(PERTURBATIONS)
    assert "geometric" in r.output and "jpeg75" in r.output
