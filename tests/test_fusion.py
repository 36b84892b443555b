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


# ------------------------------------------------------------------ fitted manipulation calibration (fusion_fit.py)


def test_shipped_calibration_is_valid_and_used():
    from pixelsleuth.fusion.fuse import CALIBRATION_FILE, _trust, load_calibration

    cal = load_calibration()
    assert set(cal) >= {"trust", "map_trust", "gate_power"}
    assert all(0.0 <= w <= 1.0 for w in cal["trust"].values())
    assert all(v >= 0.0 for v in cal["map_trust"].values())
    assert cal["gate_power"] >= 1.0
    if CALIBRATION_FILE.exists():
        assert {"ela", "noise", "jpeg", "copymove"} <= set(cal["trust"])
    for name, w in cal["trust"].items():
        assert _trust(name, {}) == w  # fitted trust applies when no weights are given
        assert _trust(name, {name: 0.3}) == 0.3  # explicit weights win


def test_calibration_override_changes_image_score():
    shape = (4, 4)
    cal = {"trust": {"x": 0.5}, "map_trust": {}, "gate_power": 1.0}
    assert fuse([ev("x", 0.6)], shape, calibration=cal).label != "manipulated"
    assert fuse([ev("x", 0.6)], shape, calibration={"trust": {}, "map_trust": {}}).label == "manipulated"
    assert fuse([ev("x", 0.6)], shape, weights={"x": 1.0}, calibration=cal).label == "manipulated"


def test_map_trust_drops_or_boosts_a_map():
    from pixelsleuth.fusion.fuse import fuse_maps

    shape = (6, 6)
    m = np.zeros(shape, np.float32)
    m[1:3, 1:3] = 0.25
    base = {"trust": {}, "gate_power": 1.0}
    same = fuse_maps([ev("a", 0.9, m=m)], shape, calibration={**base, "map_trust": {"a": 1.0}})
    assert same is not None and np.allclose(same, m)
    boosted = fuse_maps([ev("a", 0.9, m=m)], shape, calibration={**base, "map_trust": {"a": 2.0}})
    assert boosted is not None and np.isclose(boosted[1, 1], 0.5) and boosted[0, 0] == 0.0
    dropped = fuse_maps([ev("a", 0.9, m=m)], shape, calibration={**base, "map_trust": {"a": 0.0}})
    assert dropped is None


def test_gate_power_damps_maps_of_detectors_that_did_not_flag():
    from pixelsleuth.fusion.fuse import fuse_maps

    shape = (4, 4)
    m = np.ones(shape, np.float32)
    lin = fuse_maps([ev("a", 0.4, m=m)], shape, calibration={"trust": {}, "map_trust": {}, "gate_power": 1.0})
    sq = fuse_maps([ev("a", 0.4, m=m)], shape, calibration={"trust": {}, "map_trust": {}, "gate_power": 2.0})
    assert lin is not None and sq is not None
    assert np.allclose(lin, 0.4) and np.allclose(sq, 0.16)


def test_no_flagged_pixel_without_a_flagged_image_random_evidence():
    """Property of the shipped fusion: a pixel reaches 0.5 only when the image is labelled manipulated."""
    rng = np.random.default_rng(3)
    shape = (12, 16)
    names = ["ela", "noise", "jpeg", "copymove", "resampling", "cfa", "other"]
    for _ in range(200):
        evs = []
        for n in rng.choice(names, size=int(rng.integers(1, 5)), replace=False):
            rel = rng.random(shape).astype(np.float32) if rng.random() < 0.5 else None
            evs.append(
                ev(str(n), float(rng.random()), m=rng.random(shape).astype(np.float32), reliability=rel)
            )
        v = fuse(evs, shape)
        assert v.map is not None and v.map.dtype == np.float32 and v.map.shape == shape
        assert 0.0 <= float(v.map.min()) and float(v.map.max()) <= 1.0
        if v.scores["manipulated"] < 0.5:
            assert float(v.map.max()) < 0.5
        assert (v.label == "manipulated") == (v.scores["manipulated"] >= 0.5)


def test_fused_map_localizes_a_flagging_detector_among_quiet_ones():
    """A flagging detector's region survives fusion; quiet detectors' noisy maps stay below threshold."""
    rng = np.random.default_rng(0)
    shape = (32, 32)
    gt = np.zeros(shape, bool)
    gt[8:20, 10:24] = True
    hit = np.where(gt, 0.9, 0.05).astype(np.float32)
    evs = [ev("resampling", 0.95, m=hit)]
    for n in ("noise", "cfa"):
        evs.append(ev(n, 0.2, m=rng.random(shape).astype(np.float32)))
    # with the "raw" gate a quiet detector's map is scaled by its own score (0.2 here), so random maps stay low;
    # the "const" gate (scale 0.499 whatever the score) lets two agreeing quiet maps cross 0.5 under noisy-OR
    for comb in ("max", "noisy_or"):
        cal = {"trust": {}, "map_trust": {}, "gate_power": 1.0, "gate_score": "raw", "map_combine": comb}
        v = fuse(evs, shape, weights={"resampling": 1.0}, calibration=cal)
        assert v.label == "manipulated" and v.map is not None
        flagged = v.map >= 0.5
        assert (flagged & gt).sum() / flagged.sum() > 0.95
        assert float(v.map[~gt].max()) < 0.5
    v = fuse(evs, shape, weights={"resampling": 1.0})  # the shipped calibration still localizes the region
    assert v.label == "manipulated" and v.map is not None
    assert float(v.map[gt].mean()) > float(v.map[~gt].mean()) + 0.3


def test_discounted_score_is_explained():
    cal = {"trust": {"x": 0.5}, "map_trust": {}, "gate_power": 1.0}
    v = fuse([ev("x", 0.6)], (4, 4), calibration=cal)
    assert v.label != "manipulated"
    notes = [s for s in v.explanation if s["code"] == "fusion.discounted"]
    assert len(notes) == 1 and "0.71" in notes[0]["text"] and notes[0]["detector"] == "x"
    v = fuse([ev("x", 0.6)], (4, 4), calibration={"trust": {"x": 0.0}, "map_trust": {}})
    assert any("is not counted" in s["text"] for s in v.explanation)
    assert not any(
        s["code"] == "fusion.discounted" for s in fuse([ev("x", 0.9)], (4, 4), calibration=cal).explanation
    )


def test_noisy_or_map_combination_rewards_agreement_and_keeps_the_contract():
    from pixelsleuth.fusion.fuse import fuse_maps, parse_calibration

    shape = (4, 4)
    cal = parse_calibration({"map_combine": "noisy_or"})
    assert cal["map_combine"] == "noisy_or" and parse_calibration({})["map_combine"] == "max"
    a = np.full(shape, 0.4, np.float32)
    b = np.full(shape, 0.4, np.float32)
    # both flag the image: 1 - 0.6 * 0.6 = 0.64, above either map alone (max would give 0.4)
    both = fuse_maps([ev("a", 0.9, m=a), ev("b", 0.9, m=b)], shape, calibration=cal)
    assert both is not None and np.allclose(both, 0.64)
    mx = fuse_maps([ev("a", 0.9, m=a), ev("b", 0.9, m=b)], shape, calibration=parse_calibration({}))
    assert mx is not None and np.allclose(mx, 0.4)
    # neither flags: gated maps may agree, but the result stays below 0.5
    quiet = fuse_maps([ev(n, 0.49, m=np.ones(shape, np.float32)) for n in "abc"], shape, calibration=cal)
    assert quiet is not None and float(quiet.max()) < 0.5


def test_no_flagged_pixel_without_a_flagged_image_noisy_or():
    rng = np.random.default_rng(5)
    shape = (10, 12)
    cal = {"trust": {}, "map_trust": {}, "gate_power": 1.0, "gate_score": "raw", "map_combine": "noisy_or"}
    for _ in range(200):
        evs = [ev(f"d{k}", float(rng.random()), m=rng.random(shape).astype(np.float32)) for k in range(4)]
        v = fuse(evs, shape, calibration=cal)
        assert v.map is not None and 0.0 <= float(v.map.min()) and float(v.map.max()) <= 1.0
        if v.scores["manipulated"] < 0.5:
            assert float(v.map.max()) < 0.5


def _stack_cal(dets: list[str], w: list[float], b: float = 0.0) -> dict:
    from pixelsleuth.fusion.fuse import parse_calibration

    return parse_calibration(
        {
            "trust": {},
            "map_trust": {},
            "map_combine": "noisy_or",
            "gate_score": "raw",
            "map_stack": {"detectors": dets, "windows": [0.05, 0.2], "w": w, "b": b},
        }
    )


def test_map_stack_ranks_pixels_but_keeps_the_flagged_area():
    from pixelsleuth.fusion.fuse import base_map, fuse_maps

    rng = np.random.default_rng(0)
    shape = (40, 60)
    a = rng.random(shape).astype(np.float32)
    b = rng.random(shape).astype(np.float32)
    # the stack trusts only b's map: it re-ranks the pixels by b
    cal = _stack_cal(["a", "b"], [0, 0, 0, 0, 5.0, 0, 0, 0, 0, 0, 0])
    evs = [ev("a", 0.9, m=a), ev("b", 0.3, m=b)]
    base = base_map(evs, shape, calibration=cal)
    out = fuse_maps(evs, shape, calibration=cal)
    assert out is not None and base is not None and out.dtype == np.float32
    assert int((out >= 0.5).sum()) == int((base >= 0.5).sum()) > 0
    assert np.all((out >= 0.5) <= (b >= np.sort(b.ravel())[-int((base >= 0.5).sum())]))  # the top of b
    order = np.argsort(b.ravel())
    assert np.all(np.diff(out.ravel()[order]) >= -1e-6)  # monotone in the stack's score
    # the contract holds: no detector flagged the image -> no pixel reaches 0.5
    quiet = fuse_maps([ev("a", 0.2, m=a), ev("b", 0.3, m=b)], shape, calibration=cal)
    assert quiet is not None and quiet.max() < 0.5
    # a detector the stack names is missing (e.g. the fast profile): the base map, unchanged
    only_a = fuse_maps([ev("a", 0.9, m=a)], shape, calibration=cal)
    np.testing.assert_array_equal(only_a, base_map([ev("a", 0.9, m=a)], shape, calibration=cal))


def test_map_stack_large_image_runs_at_working_size():
    from pixelsleuth.fusion.fuse import base_map, fuse_maps

    shape = (700, 1100)  # above STACK_WORK_SIDE
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    a = ((yy > 200) & (yy < 400) & (xx > 300) & (xx < 600)).astype(np.float32)
    cal = _stack_cal(["a"], [1.0, 4.0, 0, 0, 0, 0, 0])
    evs = [ev("a", 0.9, m=a)]
    out = fuse_maps(evs, shape, calibration=cal)
    assert out is not None and out.shape == shape
    assert int((out >= 0.5).sum()) == int((base_map(evs, shape, calibration=cal) >= 0.5).sum())
    assert out[300, 450] >= 0.5 and out[50, 50] < 0.5


def test_map_stack_invalid_entries_are_ignored():
    from pixelsleuth.fusion.fuse import load_calibration, parse_calibration

    good = {"detectors": ["a"], "windows": [0.05, 0.2], "w": [0.0] * 7, "b": 0.0}
    assert "map_stack" in parse_calibration({"map_stack": good})
    for bad in (
        {**good, "w": [0.0] * 6},  # wrong length
        {**good, "windows": [0.05]},
        {**good, "windows": [0.05, 2.0]},
        {**good, "detectors": []},
        {**good, "b": "x"},
        {**good, "w": [float("nan")] * 7},
        "not a dict",
    ):
        assert "map_stack" not in parse_calibration({"map_stack": bad})
    # the shipped calibration carries a valid stack over the seven manipulation detectors
    st = load_calibration()["map_stack"]
    assert len(st["detectors"]) == 7 and st["w"].shape == (4 * 7 + 3,)


def test_stack_logit_equals_the_feature_matrix_product():
    from pixelsleuth.fusion.fuse import stack_features, stack_logit

    rng = np.random.default_rng(1)
    shape = (30, 50)
    maps = [(rng.random(shape).astype(np.float32), 0.7), (rng.random(shape).astype(np.float32), 0.2)]
    base = rng.random(shape).astype(np.float32)
    w = rng.normal(size=4 * 2 + 3)
    x = stack_features(maps, base, [0.1, 0.3])
    assert x.shape == (30 * 50, 11)
    np.testing.assert_allclose(stack_logit(maps, base, [0.1, 0.3], w, 0.4), (x @ w + 0.4).reshape(shape), atol=1e-5)


def test_map_stack_keep_base_never_lowers_a_base_pixel():
    from pixelsleuth.fusion.fuse import base_map, fuse_maps

    shape = (32, 32)
    a = np.zeros(shape, np.float32)
    a[4:10, 4:10] = 1.0  # a verified region of detector a
    b = np.zeros(shape, np.float32)
    b[20:30, 20:30] = 1.0  # the stack trusts only b
    w = [0, 0, 0, 0, 8.0, 0, 0, 0, 0, 0, 0]
    evs = [ev("a", 0.9, m=a), ev("b", 0.3, m=b)]
    plain = fuse_maps(evs, shape, calibration=_stack_cal(["a", "b"], w))
    cal = _stack_cal(["a", "b"], w)
    cal["map_stack"]["keep_base"] = True
    kept = fuse_maps(evs, shape, calibration=cal)
    base = base_map(evs, shape, calibration=cal)
    assert plain is not None and kept is not None and base is not None
    assert plain[6, 6] < 0.5 <= base[6, 6]  # the stack alone pushes a's region out
    assert kept[6, 6] >= 0.5  # with keep_base it stays flagged
    assert int((kept >= 0.5).sum()) == int((base >= 0.5).sum())


def test_default_profile_analysis_uses_the_shipped_stack(monkeypatch):
    """Every detector the shipped stack names runs in the default profile, so the stack is applied (a renamed or
    dropped detector would silently switch it off); the fast profile falls back to the base map."""
    import io
    import sys

    from PIL import Image

    import pixelsleuth.fusion.fuse  # noqa: F401
    from pixelsleuth.api import analyze

    mod = sys.modules["pixelsleuth.fusion.fuse"]
    calls: list[tuple[int, int]] = []
    real = mod.stack_map

    def spy(evidence, base, stack):
        calls.append(base.shape)
        return real(evidence, base, stack)

    monkeypatch.setattr(mod, "stack_map", spy)
    rng = np.random.default_rng(3)
    img = (rng.random((160, 200, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=90)
    analyze(buf.getvalue(), "default")
    assert calls == [(160, 200)]
    calls.clear()
    analyze(buf.getvalue(), "fast")
    assert calls == []
