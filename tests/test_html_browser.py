"""The HTML report opens offline in headless Chromium: screenshot it and check the rendered page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _util import encode, photo_like
from pixelsleuth.io import load_image
from pixelsleuth.pipeline import AnalyzeOptions, analyze_image
from pixelsleuth.report.writer import write_index, write_outputs
from test_pipeline import BoxDetector

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed")
    profile = tmp / "chrome-profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_page_renders(tmp_path: Path):
    img = load_image(encode(photo_like(240, 320, seed=3), "PNG"))
    rep = analyze_image(img, AnalyzeOptions(), detectors=[BoxDetector()])
    out = tmp_path / "out"
    write_outputs(rep, out, "sample")
    write_index(
        out,
        [
            {
                "name": "sample.png",
                "label": rep.label,
                "scores": rep.scores,
                "html": "sample.html",
                "error": None,
            }
        ],
    )
    page = (out / "sample.html").resolve()

    dom = _chromium(["--virtual-time-budget=3000", "--dump-dom", page.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'id="label"' in html and "manipulated" in html
    assert 'id="explanation"' in html and "test_box" in html
    assert 'id="opacity"' in html and 'id="findings"' in html and 'id="metadata"' in html

    shot = tmp_path / "shot.png"
    r = _chromium(["--window-size=1200,1400", f"--screenshot={shot}", page.as_uri()], tmp_path)
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    px = np.asarray(Image.open(shot).convert("RGB")).astype(np.float32)
    assert px.shape[0] >= 1000 and px.shape[1] >= 1000
    # the dark header band and the report's red overlay tint must both be visible in the rendered page
    assert px[:40].mean() < 90
    red = (px[..., 0] > 180) & (px[..., 1] < 90) & (px[..., 2] < 110)
    assert red.sum() > 200

    idx = _chromium(["--dump-dom", (out / "index.html").resolve().as_uri()], tmp_path)
    assert "sample.html" in idx.stdout and 'id="results"' in idx.stdout
