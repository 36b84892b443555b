"""ai_cnn: the shipped ONNX model, the detector contract, the fusion variant, and format-swap behaviour."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pixelsleuth.detectors.ai_cnn import AICnn, cnn_logits, meta
from pixelsleuth.detectors.base import Context, Evidence, Family
from pixelsleuth.fusion.ai_calibration import combined_logit, explain_ai, fusion_config
from pixelsleuth.models.registry import trained_path
from test_ai_artifact import _img, _jpeg, _png  # tests/ is on sys.path (conftest.py)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")


def _scene(seed: int, h: int = 256, w: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (h // 4, w // 4, 3)).astype(np.float32), (0, 0), 1.5)
    base = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 4, (h, w, 3))
    return _jpeg(np.clip(base, 0, 255).astype(np.uint8), 92)


def test_shipped_model_matches_its_record() -> None:
    m = meta()
    assert hashlib.sha256(trained_path("ai_cnn.onnx").read_bytes()).hexdigest() == m["sha256"]
    assert m["n_params"] < 2_000_000  # "keep each small": a few MB in the package
    assert trained_path("ai_cnn.onnx").stat().st_size < 8_000_000
    mu, sd = m["real_logit_mean_sd"]
    assert np.isfinite(mu) and sd > 0


def test_logits_finite_deterministic_any_tile_size() -> None:
    t = _scene(0)[:224, :224]
    a = cnn_logits([t, t.copy()])
    assert a.shape == (2,) and np.isfinite(a).all() and a[0] == a[1]
    b = cnn_logits([_scene(1, 160, 200)])  # fully convolutional: other sizes work too
    assert b.shape == (1,) and np.isfinite(b).all()
    flat = np.full((224, 224, 3), 128, np.uint8)
    assert np.isfinite(cnn_logits([flat])).all()


@pytest.mark.parametrize("shape", [(90, 70), (256, 256), (300, 517), (1100, 900)])
def test_detector_contract(shape: tuple[int, int]) -> None:
    rgb = cv2.resize(_scene(2), shape[::-1])
    ev = AICnn().run(_img(rgb), Context())
    assert ev.skipped is None, ev.skipped
    assert ev.family == Family.AI_GENERATED
    assert ev.map is not None and ev.map.shape == shape and ev.map.dtype == np.float32
    assert 0.0 <= ev.score <= 1.0 and isinstance(ev.extra["logit"], float)
    assert ev.findings


def test_max_z_combination_and_variant_choice() -> None:
    v = {"combine": "max_z", "center": [1.0, -2.0], "scale": [2.0, 0.5]}
    assert combined_logit(v, [3.0, -2.0]) == pytest.approx(1.0)  # (3-1)/2 vs 0
    assert combined_logit(v, [1.0, -1.0]) == pytest.approx(2.0)  # either cue alone raises it
    lin = {"stack_coef": [0.5, 2.0], "stack_intercept": -1.0}
    assert combined_logit(lin, [2.0, 1.0]) == pytest.approx(2.0)
    cfg = fusion_config()["variants"]
    if "art_cnn" not in cfg:
        pytest.skip("no art_cnn variant trained")

    def learned(name: str, z: float) -> Evidence:
        return Evidence(detector=name, version="1", family=Family.AI_GENERATED, score=0.5, extra={"logit": z})

    _, _, parts = explain_ai([learned("ai_artifact", 0.0), learned("ai_cnn", 0.0)])
    assert parts["variant"] == "art_cnn"
    if "art_clip" in cfg:  # with the CLIP probe the registry variant decides
        ev = [learned("ai_artifact", 0.0), learned("ai_cnn", 0.0), learned("ai_clip_probe", 0.0)]
        assert explain_ai(ev)[2]["variant"] == "art_clip"
    lo = explain_ai([learned("ai_artifact", -5.0), learned("ai_cnn", -5.0)])[2]["learned_p"]
    hi_cnn = explain_ai([learned("ai_artifact", -5.0), learned("ai_cnn", 8.0)])[2]["learned_p"]
    assert hi_cnn > lo


def test_png_of_a_jpeg_gives_the_same_answer() -> None:
    """PNG is lossless: a camera JPEG saved as PNG has the same pixels, hence the same score."""
    det = AICnn()
    for s in range(3):
        cam = _scene(10 + s)
        assert det.run(_img(cam, "JPEG"), Context()).score == pytest.approx(
            det.run(_img(_png(cam), "PNG"), Context()).score
        )


@pytest.mark.slow
def test_format_swap_on_shared_data() -> None:
    """Generated images saved as JPEG 90 and real photos saved as PNG: decisions flip for at most 15%."""

    def files(sub: str, n: int) -> list[Path]:
        d = DATA / sub
        if not d.exists():
            pytest.skip(f"{d} not available")
        fs = sorted(p for p in d.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        return fs[:: max(1, len(fs) // n)][:n]

    det = AICnn()
    flips = total = 0
    for f in files("aigen/ldif", 10) + files("aigen/dmin", 10) + files("aigen/disco", 10):
        rgb = np.asarray(Image.open(f).convert("RGB"))
        a = det.run(_img(rgb), Context()).score >= 0.5
        b = det.run(_img(_jpeg(rgb, 90), "JPEG"), Context()).score >= 0.5
        flips += a != b
        total += 1
    assert flips / total <= 0.15, flips / total


def test_fast_profile_reads_the_central_tile() -> None:
    rgb = cv2.resize(_scene(5), (700, 512))
    fast = AICnn().run(_img(rgb), Context(profile="fast"))
    assert len(fast.extra["tile_scores"]) == 1
    assert len(AICnn().run(_img(rgb), Context()).extra["tile_scores"]) == 9
    centre = rgb[(512 - 224) // 2 : (512 + 224) // 2, (700 - 224) // 2 : (700 + 224) // 2]
    assert fast.extra["logit"] == pytest.approx(
        float(cnn_logits([np.ascontiguousarray(centre)])[0]), abs=1e-6
    )
