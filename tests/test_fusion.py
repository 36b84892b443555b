from __future__ import annotations

import numpy as np

from pixelsleuth.detectors.base import Evidence, Family, Finding, Severity, Supports
from pixelsleuth.fusion import fuse


def ev(name: str, score: float | None, family: Family = Family.MANIPULATION, m=None, **kw) -> Evidence:
    return Evidence(detector=name, version="1", family=family, score=score, map=m, **kw)


def test_threshold_semantics():
    shape = (8, 8)
    low = fuse([ev("a", 0.2), ev("b", 0.45)], shape)
    assert low.scores["manipulated"] < 0.5
    assert low.label == "inconclusive"  # 0.45 is close to the threshold
    none = fuse([ev("a", 0.05), ev("b", 0.1)], shape)
    assert none.label == "no_evidence_found"
    assert "does not prove" in none.explanation[0]["text"]
    one = fuse([ev("a", 0.7), ev("b", 0.1)], shape)
    assert one.scores["manipulated"] >= 0.5 and one.label == "manipulated"
    two = fuse([ev("a", 0.7), ev("b", 0.7)], shape)
    assert two.scores["manipulated"] > one.scores["manipulated"]


def test_weight_zero_ignores_detector():
    v = fuse([ev("a", 0.9)], (4, 4), weights={"a": 0.0})
    assert v.scores["manipulated"] < 0.5


def test_ai_label_from_metadata_extra():
    md = ev("metadata", 0.9, Family.METADATA, extra={"ai_generated": 0.95, "manipulated": 0.1})
    md.findings.append(
        Finding(
            "PNG parameters chunk names a generator.", Severity.STRONG, Supports.AI_GENERATED, code="m.gen"
        )
    )
    v = fuse([md], (4, 4))
    assert v.scores["ai_generated"] >= 0.5
    assert v.label == "ai_generated"
    assert v.explanation[0]["detector"] == "metadata"


def test_fused_map_gated_and_reliability_weighted():
    shape = (10, 10)
    m = np.zeros(shape, np.float32)
    m[2:5, 2:5] = 1.0
    rel = np.ones(shape, np.float32)
    rel[2:5, 2:3] = 0.0
    strong = fuse([ev("a", 0.9, m=m, reliability=rel)], shape)
    assert strong.map is not None
    assert strong.map[3, 3] == 1.0 and strong.map[3, 2] == 0.0 and strong.map[0, 0] == 0.0
    weak = fuse([ev("a", 0.1, m=m)], shape)
    assert weak.map is not None and weak.map.max() < 0.5  # a detector that found nothing cannot flag pixels


def test_skipped_detectors_are_explained_not_scored():
    v = fuse([ev("a", None, skipped="not a JPEG")], (4, 4))
    assert v.scores["manipulated"] == 0.0
    assert any("did not run" in s["text"] for s in v.explanation)


def test_trust_weight_raises_the_bar_without_crossing_it():
    shape = (4, 4)
    assert fuse([ev("x", 0.6)], shape, weights={"x": 0.5}).label != "manipulated"  # 0.6 ** 2 = 0.36
    assert fuse([ev("x", 0.9)], shape, weights={"x": 0.5}).label == "manipulated"  # 0.81
    assert fuse([ev("x", 0.6)], shape, weights={"x": 1.0}).label == "manipulated"
    assert fuse([ev("x", 0.0)], shape).scores["manipulated"] == 0.0
