"""Evidence fusion, kept simple and replaceable.

Meaning of the outputs (the report format is docs/report.schema.json):

* ``scores.manipulated`` — strength of the evidence that the image was locally edited, in [0, 1]. 0.5 is the
  decision threshold. Each detector's calibrated score ``s`` is first tempered by its trust weight ``w`` in (0, 1]:
  ``s_eff = s ** (1 / w)`` (w = 1 keeps it; w = 0.5 needs s >= 0.71 to reach 0.5; w = 0 ignores the detector).
  The fused score is >= 0.5 exactly when at least one ``s_eff`` is >= 0.5; above 0.5, more and stronger detectors
  push it towards 1 (noisy-OR of their excess over 0.5). Below 0.5 it is the largest ``s_eff``, i.e. how close the
  image came to being flagged.
* ``scores.ai_generated`` — the same construction over AI-generation evidence (unless a calibrated combiner from
  :mod:`pixelsleuth.fusion.ai_calibration` is available, which then decides).
* ``map`` — fused localization map, float32 H x W in [0, 1], 0.5 = pixel decision threshold. Each detector's map
  is multiplied by its reliability map (where it gives one: e.g. JPEG cues on never-compressed areas, noise cues in
  very dark or saturated areas get low reliability), raised to ``1 / v`` for its map trust ``v`` (``v = 0`` drops
  the map, ``v > 1`` boosts a map whose raw values sit below its best threshold), and gated by the detector's
  tempered image score ``s_eff``: a detector that flags the image (``s_eff >= 0.5``) keeps its map; one that does
  not has its map scaled by ``g ** p`` where ``g`` is its own untempered score capped just below 0.5
  (``gate_score: raw``; ``s_eff`` with ``gate_score: tempered``; a constant just below 0.5 with ``gate_score:
  const``, which keeps the maps' own scale) and ``p >= 1`` is ``gate_power``. So a detector
  that did not flag the image still ranks pixels (useful to localise when another detector flagged it) but never
  reaches 0.5 alone. The maps are combined by their maximum (``map_combine: max``) or by a noisy-OR
  (``map_combine: noisy_or``, ``1 - prod(1 - m)``: pixels where several maps agree rise), capped just below 0.5
  when no detector flagged the image. Consequently no pixel reaches 0.5 unless at least one detector flagged the
  image (for manipulation detectors: unless ``scores.manipulated >= 0.5``). With a fitted ``map_stack`` (and every
  detector it names present in the evidence), a per-pixel logistic regression over the detectors' maps, their local
  means and the map above re-ranks the pixels, and a monotone remap gives exactly as many pixels >= 0.5 as the map
  above has: the stack decides *which* pixels, the calibrated map *how many* (:func:`stack_map`). Trust weights, map
  trusts, the gate and the map combination are fitted on synthetic forgeries of train-split photos that the
  learned ``manip_cnn`` never trained on, plus unedited photos (``manip_calibration.json``, written by
  ``benchmarks/fusion_fit.py``; test numbers in docs/bench/fusion.md).
* ``label`` — one of ``no_evidence_found``, ``manipulated``, ``ai_generated``, ``inconclusive``. We never claim an
  image is authentic: absence of evidence is reported as such.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pixelsleuth.detectors.base import Evidence, Family, Severity, Supports

LABELS = ("no_evidence_found", "manipulated", "ai_generated", "inconclusive")

THRESHOLD = 0.5
INCONCLUSIVE_LOW = 0.35  # a top score in [0.35, 0.5) is reported as inconclusive

# Per-detector trust weights in [0, 1] for the image-level combination (unknown detectors weigh 1). Lower trust for
# cues measured to raise false alarms on ordinary photos (docs/benchmarks.md): ELA fires on 13-20% of web photos.
# Values fitted in manip_calibration.json ("trust") take precedence; an explicit ``weights`` argument wins over both.
DEFAULT_WEIGHTS: dict[str, float] = {"ela": 0.5}

_BELOW = THRESHOLD - 1e-3  # largest gate of a detector that did not flag the image
CALIBRATION_FILE = Path(__file__).with_name("manip_calibration.json")


def parse_calibration(data: Any) -> dict[str, Any]:
    """Validated fusion parameters from a decoded ``manip_calibration.json`` (defaults for anything missing)."""
    if not isinstance(data, dict):
        data = {}
    out: dict[str, Any] = {"trust": {}, "map_trust": {}}
    for key in ("trust", "map_trust"):
        table = data.get(key, {})
        if isinstance(table, dict):
            out[key] = {str(k): float(v) for k, v in table.items() if isinstance(v, int | float) and v >= 0}
    gp = data.get("gate_power", 1.0)
    out["gate_power"] = float(gp) if isinstance(gp, int | float) and gp >= 1 else 1.0
    gs = data.get("gate_score")
    out["gate_score"] = gs if gs in ("raw", "const") else "tempered"
    out["map_combine"] = "noisy_or" if data.get("map_combine") == "noisy_or" else "max"
    stack = _parse_stack(data.get("map_stack"))
    if stack is not None:
        out["map_stack"] = stack
    return out


STACK_TERMS = ("map", "box_small", "box_large", "map_x_score")  # per detector, in this order; then the fused map's 3
STACK_WORK_SIDE = 256  # the stack runs at most at this long side (its fit was at 128, the 1/4-size caches)


def _parse_stack(st: Any) -> dict[str, Any] | None:
    """A validated ``map_stack`` (detectors, box windows as fractions of the long side, weights, intercept) or None."""
    if not isinstance(st, dict):
        return None
    dets, win, w, b = st.get("detectors"), st.get("windows"), st.get("w"), st.get("b")
    if not (isinstance(dets, list) and dets and all(isinstance(d, str) for d in dets)):
        return None
    if not (isinstance(win, list) and len(win) == 2 and all(isinstance(x, int | float) and 0 < x < 1 for x in win)):
        return None
    n = len(STACK_TERMS) * len(dets) + 3
    if not (isinstance(w, list) and len(w) == n and all(isinstance(x, int | float) for x in w)):
        return None
    if not isinstance(b, int | float):
        return None
    arr = np.asarray(w, np.float64)
    if not np.all(np.isfinite(arr)) or not np.isfinite(b):
        return None
    return {
        "detectors": list(dets),
        "windows": [float(x) for x in win],
        "w": arr,
        "b": float(b),
        "keep_base": bool(st.get("keep_base", False)),
    }


@lru_cache(maxsize=1)
def load_calibration() -> dict[str, Any]:
    """Fitted fusion parameters (``trust``, ``map_trust``, ...), or defaults when the file is missing or invalid."""
    try:
        data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    return parse_calibration(data)


def _trust(name: str, weights: dict[str, float], calibration: dict[str, Any] | None = None) -> float:
    if name in weights:
        return float(weights[name])
    cal = load_calibration() if calibration is None else calibration
    if name in cal.get("trust", {}):
        return float(cal["trust"][name])
    return DEFAULT_WEIGHTS.get(name, 1.0)


_SEVERITY_RANK = {Severity.STRONG: 3, Severity.MODERATE: 2, Severity.WEAK: 1, Severity.INFO: 0}


@dataclass
class Verdict:
    label: str
    scores: dict[str, float]
    map: np.ndarray | None
    explanation: list[dict[str, Any]] = field(default_factory=list)
    contributions: dict[str, dict[str, float]] = field(default_factory=dict)
    ai_band: str | None = None


def _temper(s: float, w: float) -> float:
    """Trust weight as an exponent: keeps 0 and 1 fixed, raises the score needed to reach 0.5 when w < 1."""
    if w <= 0:
        return 0.0
    return float(min(1.0, max(0.0, s)) ** (1.0 / min(w, 1.0)))


def _combine(scores: list[tuple[str, float, float]]) -> tuple[float, dict[str, float]]:
    """Noisy-OR of (score - 0.5) excess; below threshold, the max score. Returns (score, per-detector share)."""
    if not scores:
        return 0.0, {}
    eff = [(name, _temper(s, w)) for name, s, w in scores]
    excess = [(name, max(0.0, (s - THRESHOLD) / (1 - THRESHOLD))) for name, s in eff]
    prod = 1.0
    for _, e in excess:
        prod *= 1.0 - min(e, 1.0)
    total = 1.0 - prod
    if total > 0:
        fused = THRESHOLD + (1 - THRESHOLD) * total
    else:
        fused = min(max(s for _, s in eff), THRESHOLD - 1e-6)
    contrib = {n: round(e, 4) for n, e in excess if e > 0}
    return float(min(1.0, max(0.0, fused))), contrib


def _manip_score(ev: Evidence) -> float | None:
    """The detector's manipulation score: ``extra["manipulated"]`` when given, else a manipulation detector's score."""
    if ev.skipped:
        return None
    if isinstance(ev.extra.get("manipulated"), int | float):
        return float(ev.extra["manipulated"])
    if ev.family == Family.MANIPULATION and ev.score is not None:
        return float(ev.score)
    return None


def _manipulation_items(
    evidence: list[Evidence], weights: dict[str, float], calibration: dict[str, Any] | None = None
) -> list[tuple[str, float, float]]:
    items = []
    for ev in evidence:
        if ev.skipped:
            continue
        w = _trust(ev.detector, weights, calibration)
        if ev.family in (Family.MANIPULATION, Family.PROVENANCE, Family.WATERMARK) and ev.score is not None:
            if "manipulated" in ev.extra and isinstance(ev.extra["manipulated"], int | float):
                items.append((ev.detector, float(ev.extra["manipulated"]), w))
            elif ev.family in (
                Family.MANIPULATION,
                Family.PROVENANCE,
            ):  # provenance: differs from known original
                items.append((ev.detector, ev.score, w))
        elif ev.family == Family.METADATA and isinstance(ev.extra.get("manipulated"), int | float):
            items.append((ev.detector, float(ev.extra["manipulated"]), w))
    return items


def _ai_items(evidence: list[Evidence], weights: dict[str, float]) -> list[tuple[str, float, float]]:
    items = []
    for ev in evidence:
        if ev.skipped:
            continue
        w = weights.get(
            ev.detector, DEFAULT_WEIGHTS.get(ev.detector, 1.0)
        )  # AI cues: fitted trusts do not apply
        if isinstance(ev.extra.get("ai_generated"), int | float):
            items.append((ev.detector, float(ev.extra["ai_generated"]), w))
        elif ev.family == Family.AI_GENERATED and ev.score is not None:
            items.append((ev.detector, ev.score, w))
    return items


def fuse_maps(
    evidence: list[Evidence],
    shape: tuple[int, int],
    weights: dict[str, float] | None = None,
    calibration: dict[str, Any] | None = None,
) -> np.ndarray | None:
    """Fused localization map (0.5 = pixel threshold): :func:`base_map`, re-ranked by the fitted ``map_stack`` when
    the calibration has one and every detector it names is in ``evidence`` (:func:`stack_map`).

    ``weights`` are the image-level trust weights (as in :func:`fuse`); ``calibration`` replaces the fitted
    parameters of ``manip_calibration.json`` (a dict with ``trust`` and ``map_trust`` tables).
    """
    cal = load_calibration() if calibration is None else calibration
    base = base_map(evidence, shape, weights, cal)
    stack = cal.get("map_stack")
    if base is None or stack is None:
        return base
    present = {ev.detector for ev in evidence}
    if not all(d in present for d in stack["detectors"]):  # e.g. the fast profile: the stack was not fitted for it
        return base
    return stack_map(evidence, base, stack)


def _stack_maps(
    evidence: list[Evidence], shape: tuple[int, int], detectors: list[str], work: tuple[int, int] | None = None
) -> list[tuple[np.ndarray, float]]:
    """Per stacked detector: its map times its reliability, in [0, 1] (zeros without a map), and its manipulation
    score. With ``work`` (H, W), map and reliability are each area-resized to it first (as the fit caches were)."""
    import cv2

    by = {ev.detector: ev for ev in evidence}
    out_shape = shape if work is None else work

    def fit(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float32, copy=False)
        return a if work is None else cv2.resize(a, (work[1], work[0]), interpolation=cv2.INTER_AREA)

    out = []
    for d in detectors:
        ev = by.get(d)
        m = np.zeros(out_shape, np.float32)
        s = 0.0
        if ev is not None and not ev.skipped:
            if ev.map is not None and ev.map.shape == shape:
                m = fit(ev.map)
                if ev.reliability is not None and ev.reliability.shape == shape:
                    m = m * fit(ev.reliability)
            ms = _manip_score(ev)
            s = float(ms if ms is not None else ev.score or 0.0)
        out.append((np.clip(m, 0.0, 1.0).astype(np.float32), s))
    return out


def _stack_columns(maps: list[tuple[np.ndarray, float]], base: np.ndarray, windows: list[float]) -> Any:
    """The stack's feature planes, in order: per detector (map, small and large box means, map x score), then the
    same three box terms of the base map. Box sides are ``windows`` times the long side (reflected borders)."""
    import cv2

    side = max(base.shape)
    ks = [max(1, round(f * side)) for f in windows]
    for m, s in maps:
        yield m
        for k in ks:
            yield cv2.blur(m, (k, k), borderType=cv2.BORDER_REFLECT)
        yield m * np.float32(s)
    base = base.astype(np.float32)
    yield base
    for k in ks:
        yield cv2.blur(base, (k, k), borderType=cv2.BORDER_REFLECT)


def stack_features(maps: list[tuple[np.ndarray, float]], base: np.ndarray, windows: list[float]) -> np.ndarray:
    """H*W x F matrix of :func:`_stack_columns` (for fitting: benchmarks/fusion_stack_fit.py)."""
    return np.stack([c.ravel() for c in _stack_columns(maps, base, windows)], 1)


def stack_logit(
    maps: list[tuple[np.ndarray, float]], base: np.ndarray, windows: list[float], w: np.ndarray, b: float
) -> np.ndarray:
    """``stack_features(...) @ w + b`` as an H x W plane, accumulated plane by plane (no feature matrix)."""
    z = np.full(base.shape, b, np.float32)
    for wj, c in zip(w, _stack_columns(maps, base, windows), strict=True):
        if wj != 0:
            z += np.float32(wj) * c  # single precision: a ranking, not a measurement
    return z


def match_area(p: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Monotone remap of ``p`` with exactly as many values >= 0.5 as ``ref`` has (none: everything below 0.5)."""
    k = int((ref >= THRESHOLD).sum())
    top = float(p.max()) + 1e-6
    if k == 0:
        return (p / top * _BELOW).astype(np.float32)
    flat = p.ravel()
    t = float(np.partition(flat, flat.size - k)[flat.size - k])  # the k-th largest value
    up = flat > t
    out = np.where(up, THRESHOLD + 0.5 * (flat - t) / max(top - t, 1e-6), flat / max(t, 1e-6) * _BELOW)
    need = k - int(up.sum())
    if need > 0:  # ties at t: the pixels ranked highest by ``ref`` among them reach exactly 0.5
        tied = np.flatnonzero(flat == t)
        pick = tied[np.argsort(-ref.ravel()[tied], kind="stable")[:need]]
        out[pick] = THRESHOLD
    return np.clip(out, 0.0, 1.0).reshape(p.shape).astype(np.float32)


def stack_map(evidence: list[Evidence], base: np.ndarray, stack: dict[str, Any]) -> np.ndarray:
    """The stack's per-pixel probabilities (computed at a long side of at most ``STACK_WORK_SIDE``, then resized),
    remapped by :func:`match_area` to the base map's flagged area."""
    import cv2

    shape = base.shape
    side = max(shape)
    work = shape
    if side > STACK_WORK_SIDE:
        f = STACK_WORK_SIDE / side
        work = (max(1, round(shape[0] * f)), max(1, round(shape[1] * f)))
        small = cv2.resize(base.astype(np.float32), (work[1], work[0]), interpolation=cv2.INTER_AREA)
    else:
        small = base
    maps = _stack_maps(evidence, shape, stack["detectors"], work if work != shape else None)
    z = stack_logit(maps, small, stack["windows"], stack["w"], stack["b"])
    p = (1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))).astype(np.float32)
    if work != shape:
        p = cv2.resize(p, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    if stack.get("keep_base"):  # the stack can lift a pixel above the base map's value, never lower it
        p = np.maximum(p, base.astype(np.float32))
    return match_area(p, base)


def base_map(
    evidence: list[Evidence],
    shape: tuple[int, int],
    weights: dict[str, float] | None = None,
    calibration: dict[str, Any] | None = None,
) -> np.ndarray | None:
    """Reliability-weighted, score-gated maximum or noisy-OR of the detectors' maps (0.5 = pixel threshold)."""
    weights = weights or {}
    cal = load_calibration() if calibration is None else calibration
    map_trust: dict[str, float] = cal.get("map_trust", {})
    gate_power = max(1.0, float(cal.get("gate_power", 1.0)))
    noisy_or = cal.get("map_combine", "max") == "noisy_or"
    fused: np.ndarray | None = None
    flagged = False
    for ev in evidence:
        if ev.skipped or ev.map is None or ev.family == Family.AI_GENERATED:
            continue
        m = ev.map
        if m.shape != shape:
            continue
        v = float(map_trust.get(ev.detector, 1.0))
        if v <= 0:
            continue
        if ev.reliability is not None and ev.reliability.shape == shape:
            m = m * ev.reliability
        if v != 1.0:
            m = np.power(m, 1.0 / v)
        s = _manip_score(ev)
        if s is None:
            s = ev.score
        if s is not None:
            s_eff = _temper(float(s), _trust(ev.detector, weights, cal))
            if s_eff < THRESHOLD:
                mode = cal.get("gate_score", "tempered")
                g = s_eff if mode == "tempered" else _BELOW if mode == "const" else min(float(s), _BELOW)
                m = m * g**gate_power
            else:
                flagged = True
        else:
            flagged = True
        if noisy_or:  # accumulate the product of (1 - m); agreement between maps raises a pixel
            q = 1.0 - np.clip(m, 0.0, 1.0)
            fused = q if fused is None else fused * q
        else:
            fused = m if fused is None else np.maximum(fused, m)
    if fused is None:
        return None
    if noisy_or:
        fused = 1.0 - fused
        if not flagged:  # keep the contract: no pixel reaches 0.5 unless a detector flagged the image
            fused = np.minimum(fused, _BELOW)
    return np.clip(fused, 0.0, 1.0).astype(np.float32)


def _explain(
    evidence: list[Evidence],
    fused_map: np.ndarray | None,
    scores: dict[str, float],
    label: str,
    weights: dict[str, float] | None = None,
    calibration: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    sentences: list[dict[str, Any]] = []
    ranked = []
    for ev in evidence:
        for f in ev.findings:
            if f.supports == Supports.NONE or f.severity == Severity.INFO:
                continue
            ranked.append((_SEVERITY_RANK[f.severity], ev.score or 0.0, ev, f))
    ranked.sort(key=lambda t: (-t[0], -t[1]))
    for _, _, ev, f in ranked:
        sentences.append(
            {
                "text": f.message,
                "detector": ev.detector,
                "code": f.code,
                "severity": f.severity.value,
                "supports": f.supports.value,
            }
        )
    # detectors with a map and a high score, even if they produced no finding sentence
    for ev in sorted(evidence, key=lambda e: -(e.score or 0.0)):
        if ev.skipped or ev.map is None or ev.score is None or ev.score < THRESHOLD:
            continue
        if any(s["detector"] == ev.detector for s in sentences):
            continue
        area = float((ev.map >= 0.5).mean()) * 100
        sentences.append(
            {
                "text": f"The {ev.detector} detector flags {area:.1f}% of the image as inconsistent (score {ev.score:.2f}).",
                "detector": ev.detector,
                "code": f"{ev.detector}.map",
                "severity": "strong" if ev.score >= 0.8 else "moderate",
                "supports": "ai_generated" if ev.family == Family.AI_GENERATED else "manipulated",
            }
        )
    # manipulation scores over 0.5 that the fitted trust weights discounted below the threshold
    for ev in evidence:
        ms = _manip_score(ev)
        if ms is None or ms < THRESHOLD or ev.family == Family.AI_GENERATED:
            continue
        w = _trust(ev.detector, weights or {}, calibration)
        if _temper(ms, w) >= THRESHOLD:
            continue
        need = "is not counted" if w <= 0 else f"needs {THRESHOLD ** min(w, 1.0):.2f} to count"
        sentences.append(
            {
                "text": f"The {ev.detector} score ({ms:.2f}) was discounted: on unedited photos this detector alone "
                f"crosses its threshold too often, so its image score {need}.",
                "detector": ev.detector,
                "code": "fusion.discounted",
                "severity": "info",
                "supports": "none",
            }
        )
    if fused_map is not None and scores["manipulated"] >= THRESHOLD:
        area = float((fused_map >= 0.5).mean()) * 100
        sentences.append(
            {
                "text": f"The fused map marks {area:.1f}% of the image as likely edited.",
                "detector": "fusion",
                "code": "fusion.area",
                "severity": "info",
                "supports": "manipulated",
            }
        )
    skipped = [ev for ev in evidence if ev.skipped]
    if label == "no_evidence_found":
        sentences.insert(
            0,
            {
                "text": "No detector found evidence of editing or AI generation. This does not prove the image is "
                "authentic: some edits leave no trace these detectors can see.",
                "detector": "fusion",
                "code": "fusion.no_evidence",
                "severity": "info",
                "supports": "none",
            },
        )
    elif label == "inconclusive":
        sentences.insert(
            0,
            {
                "text": "The evidence is weak or conflicting; the result is inconclusive.",
                "detector": "fusion",
                "code": "fusion.inconclusive",
                "severity": "info",
                "supports": "none",
            },
        )
    for ev in skipped:
        sentences.append(
            {
                "text": f"{ev.detector} did not run: {ev.skipped}.",
                "detector": ev.detector,
                "code": f"{ev.detector}.skipped",
                "severity": "info",
                "supports": "none",
            }
        )
    return sentences


def fuse(
    evidence: list[Evidence],
    shape: tuple[int, int],
    weights: dict[str, float] | None = None,
    calibration: dict[str, Any] | None = None,
) -> Verdict:
    """Combine evidence of one image (display size ``shape`` = (H, W)) into a :class:`Verdict`.

    ``weights``: trust weights per detector overriding the defaults; ``calibration``: replaces the fitted
    manipulation parameters (``manip_calibration.json``), used by the fitting script.
    """
    weights = weights or {}
    manip, manip_contrib = _combine(_manipulation_items(evidence, weights, calibration))
    ai_band = None
    try:
        from pixelsleuth.fusion.ai_calibration import combine_ai  # provided by the AI-detection work
    except ImportError:
        combine_ai = None
    if combine_ai is not None:
        ai, ai_band = combine_ai(evidence)
        # keep the documented meaning of the score (0.5 = decision, [0.35, 0.5) = inconclusive) in step with the
        # calibrated bands, whose thresholds were chosen for a stated false-positive rate on real photos
        lo, hi = {"ai_generated": (THRESHOLD, 1.0), "inconclusive": (INCONCLUSIVE_LOW, THRESHOLD - 0.01)}.get(
            ai_band, (0.0, INCONCLUSIVE_LOW - 0.01)
        )
        ai = min(max(float(ai), lo), hi)
        ai_contrib: dict[str, float] = {}
    else:
        ai, ai_contrib = _combine(_ai_items(evidence, weights))
    fused_map = fuse_maps(evidence, shape, weights, calibration)
    scores = {"manipulated": round(manip, 4), "ai_generated": round(float(ai), 4)}
    if ai_band is not None:  # a calibrated AI combiner decides its own bands
        ai_flag, ai_unsure = ai_band == "ai_generated", ai_band == "inconclusive"
    else:
        ai_flag, ai_unsure = ai >= THRESHOLD, INCONCLUSIVE_LOW <= ai < THRESHOLD
    if ai_flag:  # generated content is not a photograph, whatever else is found in it
        label = "ai_generated"
    elif manip >= THRESHOLD:
        label = "manipulated"
    elif ai_unsure or manip >= INCONCLUSIVE_LOW:
        label = "inconclusive"
    else:
        label = "no_evidence_found"
    return Verdict(
        label=label,
        scores=scores,
        map=fused_map,
        explanation=_explain(evidence, fused_map, scores, label, weights, calibration),
        contributions={"manipulated": manip_contrib, "ai_generated": ai_contrib},
        ai_band=ai_band,
    )
