"""combine_ai: learned stacking + calibration, watermark/provenance claims, bands."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsleuth.detectors.base import Evidence, Family, Finding, Severity, Supports
from pixelsleuth.fusion.ai_calibration import BANDS, combine_ai, explain_ai, fusion_config


def _learned(name: str, logit: float) -> Evidence:
    return Evidence(detector=name, version="1", family=Family.AI_GENERATED, score=0.5, extra={"logit": logit})


def test_config_has_both_variants_and_sane_thresholds() -> None:
    cfg = fusion_config()["variants"]
    assert "art_only" in cfg
    for v in cfg.values():
        assert 0.0 < v["threshold_inconclusive"] <= v["threshold_ai"] < 1.0
        if v.get("combine", "linear") == "linear":
            assert len(v["stack_coef"]) == len(v["inputs"])
        else:
            assert v["combine"] == "max_z" and len(v["center"]) == len(v["scale"]) == len(v["inputs"])
            assert all(s > 0 for s in v["scale"])


def test_no_evidence() -> None:
    assert combine_ai([]) == (0.0, "no_evidence")
    skipped = Evidence(
        detector="ai_clip_probe", version="1", family=Family.AI_GENERATED, skipped="model missing"
    )
    assert combine_ai([skipped]) == (0.0, "no_evidence")


def test_learned_monotonic_and_bands() -> None:
    scores = [combine_ai([_learned("ai_artifact", z)])[0] for z in (-6, -2, 0, 2, 6)]
    assert scores == sorted(scores)
    assert combine_ai([_learned("ai_artifact", -8)])[1] == "no_evidence"
    assert combine_ai([_learned("ai_artifact", 8)])[1] == "ai_generated"
    for z in (-8, 0, 8):
        s, band = combine_ai([_learned("ai_artifact", z)])
        assert 0.0 <= s <= 1.0 and band in BANDS


def test_uses_clip_variant_when_available() -> None:
    cfg = fusion_config()["variants"]
    if "art_clip" not in cfg:
        pytest.skip("no CLIP variant trained")
    _, _, parts = explain_ai([_learned("ai_artifact", 1.0), _learned("ai_clip_probe", 1.0)])
    assert parts["variant"] == "art_clip"
    _, _, parts = explain_ai([_learned("ai_artifact", 1.0)])
    assert parts["variant"] == "art_only"


def test_watermark_is_decisive() -> None:
    wm = Evidence(detector="sd_watermark", version="1", family=Family.AI_GENERATED, score=0.99)
    s, band = combine_ai([_learned("ai_artifact", -8), wm])
    assert band == "ai_generated" and s >= 0.99
    absent = Evidence(detector="sd_watermark", version="1", family=Family.AI_GENERATED, score=0.01)
    assert combine_ai([_learned("ai_artifact", -8), absent])[1] == "no_evidence"


@pytest.mark.parametrize("claim", [True, {"generator": "Midjourney"}, 0.9])
def test_metadata_claim_is_decisive(claim: object) -> None:
    meta = Evidence(detector="metadata", version="1", family=Family.METADATA, extra={"ai_generated": claim})
    s, band = combine_ai([meta])
    assert band == "ai_generated" and s >= 0.9


def test_metadata_strong_finding_counts() -> None:
    f = Finding("C2PA says trainedAlgorithmicMedia.", Severity.STRONG, Supports.AI_GENERATED)
    meta = Evidence(detector="c2pa", version="1", family=Family.PROVENANCE, findings=[f])
    assert combine_ai([meta])[1] == "ai_generated"
    weak = Finding("Made with an editor.", Severity.WEAK, Supports.MANIPULATED)
    assert combine_ai([Evidence(detector="c2pa", version="1", family=Family.PROVENANCE, findings=[weak])])[
        1
    ] == ("no_evidence")


def test_unknown_ai_detector_only_inconclusive() -> None:
    other = Evidence(detector="someone_else", version="1", family=Family.AI_GENERATED, score=0.9)
    s, band = combine_ai([other])
    assert band == "inconclusive" and 0.3 < s < 0.9


def test_metadata_probability_with_baseline() -> None:
    """The metadata detector's numeric probability starts from a prior: the prior alone is no evidence."""

    def meta(p: float) -> Evidence:
        return Evidence(
            detector="metadata",
            version="1",
            family=Family.METADATA,
            score=p,
            extra={"ai_generated": p, "baseline": {"ai_generated": 0.12}},
        )

    assert combine_ai([meta(0.12)]) == (0.0, "no_evidence")
    s_weak, band_weak = combine_ai([meta(0.43)])
    assert band_weak == "no_evidence" and 0.2 < s_weak < 0.5
    assert combine_ai([meta(0.96)])[1] == "ai_generated"


def test_isotonic_calibrator_interpolates_and_platt_is_the_fallback() -> None:
    from pixelsleuth.fusion.ai_calibration import calibrate

    v = {"platt": [1.0, 0.0], "isotonic": {"x": [-1.0, 0.0, 2.0], "y": [0.1, 0.4, 0.9]}}
    assert calibrate(v, -5.0) == pytest.approx(0.1) and calibrate(v, 5.0) == pytest.approx(0.9)
    assert calibrate(v, -0.5) == pytest.approx(0.25) and calibrate(v, 1.0) == pytest.approx(0.65)
    assert calibrate({"platt": [2.0, -1.0]}, 0.5) == pytest.approx(0.5)


def test_shipped_isotonic_maps_are_monotone_probabilities() -> None:
    from pixelsleuth.fusion.ai_calibration import calibrate, fusion_config

    variants = fusion_config()["variants"]
    assert any("isotonic" in v for v in variants.values())  # the no-registry fusion uses one (lower ECE)
    for v in variants.values():
        if "isotonic" in v:
            x, y = np.asarray(v["isotonic"]["x"]), np.asarray(v["isotonic"]["y"])
            assert np.all(np.diff(x) > 0) and np.all(np.diff(y) >= 0)
            assert 0.0 < y[0] <= y[-1] < 1.0
            zs = np.linspace(x[0] - 1, x[-1] + 1, 200)
            ps = [calibrate(v, float(z)) for z in zs]
            assert np.all(np.diff(ps) >= -1e-12)
        assert 0.0 < v["threshold_inconclusive"] < v["threshold_ai"] < 1.0
