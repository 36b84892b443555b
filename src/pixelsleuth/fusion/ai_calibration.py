"""Calibrated AI-generation verdict: fuse learned detectors, generator watermarks and provenance metadata.

* Learned detectors (``ai_artifact``, ``ai_cnn``, ``ai_clip_probe``) report raw logits in
  ``Evidence.extra["logit"]``. They are combined and calibrated (Platt, or a piecewise-linear isotonic map where
  that had the lower cross-fitted ECE; class-balanced, i.e. equal priors) on held-apart (leave-one-generator-out,
  out-of-fold) data by benchmarks/ai_train.py; the result is stored in
  ``models/trained/ai_fusion.json``, one variant per set of detectors (with or without the CLIP probe). A variant
  either stacks the logits linearly (``combine: linear``, weights fitted) or takes the larger of the logits after
  standardising each by its mean and sd on real training photos (``combine: max_z``, a fixed OR-style rule: either
  cue alone can raise the score). Among the variants whose inputs all ran, the one with the highest
  ``priority`` (then the most inputs) decides.
* A decoded generator watermark (``sd_watermark``) or a provenance claim (``Evidence.extra["ai_generated"]``, set
  by the metadata/C2PA detectors) is combined by noisy-OR and is decisive on its own.
* Other AI-family detectors (unknown to this calibration) add their excess over 0.5 by noisy-OR at half weight.

Bands: ``ai_generated`` when the learned probability reaches the threshold chosen for 5% false positives on real
photos (out-of-fold) or a watermark/provenance claim is present; ``inconclusive`` above the 20%-FPR threshold
(or any unknown AI detector over 0.5); otherwise ``no_evidence``. Absence of evidence is never proof of a camera
origin.
"""

from __future__ import annotations

import bisect
import json
import math
from functools import lru_cache
from typing import Any

from pixelsleuth.detectors.base import Evidence, Family, Severity, Supports

BANDS = ("ai_generated", "inconclusive", "no_evidence")
LEARNED = {"ai_artifact": "art", "ai_cnn": "cnn", "ai_clip_probe": "clip"}
WATERMARK_DETECTORS = {"sd_watermark"}
METADATA_CLAIM_P = 0.95  # strength of an explicit provenance claim (generator tag, C2PA/IPTC source type)
UNKNOWN_WEIGHT = 0.5


@lru_cache(maxsize=1)
def fusion_config() -> dict[str, Any]:
    from pixelsleuth.models.registry import trained_path

    return json.loads(trained_path("ai_fusion.json").read_text())


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _metadata_claim(ev: Evidence) -> float:
    """Strength in [0, 1] of an 'AI-generated' claim in ev.extra['ai_generated'] (bool, number or dict)."""
    v = ev.extra.get("ai_generated") if isinstance(ev.extra, dict) else None
    if v is None or v is False:
        return 0.0
    if isinstance(v, bool):
        return METADATA_CLAIM_P
    if isinstance(v, int | float):
        # the metadata detector reports a probability from a low prior (extra["baseline"]); keep only the excess
        base = ev.extra.get("baseline", {})
        b = float(base.get("ai_generated", 0.0)) if isinstance(base, dict) else 0.0
        p = float(min(1.0, max(0.0, v)))
        return max(0.0, (p - b) / (1.0 - b)) if b < 1.0 else 0.0
    if isinstance(v, dict):
        for key in ("confidence", "score", "p"):
            if isinstance(v.get(key), int | float):
                return float(min(1.0, max(0.0, v[key])))
        if v.get("value") is False or v.get("claimed") is False:
            return 0.0
        return METADATA_CLAIM_P
    return METADATA_CLAIM_P if v else 0.0


def learned_probability(logits: dict[str, float]) -> tuple[float, dict[str, Any]] | None:
    """Calibrated P(generated) (equal priors) from raw learned-detector logits; None when none ran."""
    if not logits:
        return None
    cfg = fusion_config()["variants"]
    have = set(logits)
    best = None

    def rank(name: str) -> tuple[float, int]:
        return float(cfg[name].get("priority", 0)), len(cfg[name]["inputs"])

    for name, v in cfg.items():
        if set(v["inputs"]) <= have and (best is None or rank(name) > rank(best)):
            best = name
    if best is None:
        return None
    v = cfg[best]
    z = combined_logit(v, [logits[k] for k in v["inputs"]])
    return calibrate(v, z), {"variant": best, **v}


def calibrate(variant: dict[str, Any], z: float) -> float:
    """The variant's calibrated probability of its combined logit: a piecewise-linear isotonic map when the
    variant has one (chosen by benchmarks/ai_train.py where it had the lower cross-fitted ECE), else Platt."""
    iso = variant.get("isotonic")
    if iso:
        xs, ys = iso["x"], iso["y"]
        if z <= xs[0]:
            return float(ys[0])
        if z >= xs[-1]:
            return float(ys[-1])
        i = bisect.bisect_right(xs, z) - 1
        t = (z - xs[i]) / (xs[i + 1] - xs[i])
        return float(ys[i] + t * (ys[i + 1] - ys[i]))
    a, b = variant["platt"]
    return _sigmoid(a * z + b)


def combined_logit(variant: dict[str, Any], values: list[float]) -> float:
    """The variant's combined logit of its inputs' raw logits (in ``variant["inputs"]`` order)."""
    if variant.get("combine", "linear") == "max_z":
        return max((x - c) / s for x, c, s in zip(values, variant["center"], variant["scale"], strict=True))
    return float(variant["stack_intercept"]) + sum(
        c * x for c, x in zip(variant["stack_coef"], values, strict=True)
    )


def combine_ai(evidences: list[Evidence]) -> tuple[float, str]:
    """Fused AI-generation score in [0, 1] and band in {"ai_generated", "inconclusive", "no_evidence"}."""
    score, band, _ = explain_ai(evidences)
    return score, band


def explain_ai(evidences: list[Evidence]) -> tuple[float, str, dict[str, Any]]:
    """Like :func:`combine_ai`, plus the parts that went into it (for reports and tests)."""
    logits: dict[str, float] = {}
    claims: dict[str, float] = {}
    unknown: dict[str, float] = {}
    for ev in evidences:
        if ev.skipped is not None:
            continue
        claim = _metadata_claim(ev)
        if ev.detector in WATERMARK_DETECTORS:
            if ev.score is not None and ev.score >= 0.5:
                claim = max(claim, float(ev.score))
        elif ev.family in (Family.METADATA, Family.PROVENANCE) and claim == 0.0:
            strong = [
                f
                for f in ev.findings
                if f.supports == Supports.AI_GENERATED and f.severity == Severity.STRONG
            ]
            if strong:
                claim = METADATA_CLAIM_P
        if claim > 0:
            claims[ev.detector] = claim
        if ev.detector in LEARNED and isinstance(ev.extra.get("logit"), int | float):
            logits[LEARNED[ev.detector]] = float(ev.extra["logit"])
        elif (
            ev.family == Family.AI_GENERATED
            and ev.detector not in WATERMARK_DETECTORS
            and ev.detector not in LEARNED
            and ev.score is not None
        ):
            unknown[ev.detector] = float(ev.score)
    parts: dict[str, Any] = {"claims": claims, "learned_logits": logits, "unknown": unknown}
    learned = learned_probability(logits)
    p_learn = 0.0
    band = "no_evidence"
    if learned is not None:
        p_learn, cfg = learned
        parts["learned_p"] = p_learn
        parts["variant"] = cfg["variant"]
        if p_learn >= cfg["threshold_ai"]:
            band = "ai_generated"
        elif p_learn >= cfg["threshold_inconclusive"]:
            band = "inconclusive"
    prod = 1.0 - p_learn
    for c in claims.values():
        prod *= 1.0 - c
    for s in unknown.values():
        excess = max(0.0, (s - 0.5) / 0.5) * UNKNOWN_WEIGHT
        prod *= 1.0 - excess
        if s >= 0.5 and band == "no_evidence":
            band = "inconclusive"
    score = 1.0 - prod
    if any(c >= 0.5 for c in claims.values()):
        band = "ai_generated"
    if learned is None and not claims and not unknown:
        score, band = 0.0, "no_evidence"
    return float(min(1.0, max(0.0, score))), band, parts
