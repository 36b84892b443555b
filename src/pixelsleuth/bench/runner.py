"""Benchmark runner: detectors (+ fusion, + trivial baselines) on a dataset, clean and perturbed.

For every item and every *condition* (``clean`` plus each requested perturbation) the runner builds the file
the detectors will see -- the original file for ``clean``; for a perturbation the decoded image is perturbed
(seeded), re-encoded in memory (the lossy encoder's own bytes for JPEG/WEBP/social, PNG otherwise) and loaded
through :func:`pixelsleuth.io.load_image`, so JPEG-domain detectors see real files -- runs each detector via
``Detector.run`` and scores its map and score against the (equally transformed) ground truth.

Methods always include ``baseline`` (all-ones map, constant score 0.5) and, when :mod:`pixelsleuth.fusion`
provides ``fuse``, ``fusion`` (its manipulated score and fused map over the same evidence).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixelsleuth.bench.datasets import Dataset, Item, display_size, load_mask
from pixelsleuth.bench.metrics import measure_peak_memory, pixel_f1, pixel_f1_best, pixel_metrics
from pixelsleuth.bench.perturbations import PERTURBATIONS, apply_to_mask, encode
from pixelsleuth.detectors.base import Context, Detector, Evidence, Family

BASELINE = "baseline"
FUSION = "fusion"


@dataclass
class BenchConfig:
    detectors: list[str]
    profile: str = "default"
    perturbations: list[str] = field(default_factory=list)
    seed: int = 0
    fusion: bool = True
    memory_items: int = 2  # items (clean condition) on which each detector is re-run under tracemalloc
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchResult:
    dataset: str
    kind: str
    config: BenchConfig
    records: list[dict[str, Any]]
    errors: list[tuple[str, str]]
    methods: list[str]
    conditions: list[str]
    peak_memory: dict[str, int] = field(
        default_factory=dict
    )  # method -> peak bytes (max over measured items)
    skipped_reasons: dict[str, dict[str, int]] = field(default_factory=dict)  # method -> reason -> count


def resolve_detectors(
    names: Sequence[str] | None, profile: str, family: str | None = "manipulation"
) -> list[str]:
    """Detector names to run: exactly ``names`` (validated), or the profile's detectors of ``family``
    (``None``/``"all"`` = every family)."""
    from pixelsleuth.detectors.registry import all_detectors, detectors_for

    if names:
        detectors_for(profile, only=list(names))  # raises KeyError for unknown names
        return list(names)
    dets = detectors_for(profile)
    if family and family != "all":
        fam = Family(family)
        dets = [d for d in dets if d.family == fam]
    known = all_detectors()
    return [d.name for d in dets if d.name in known]


# --------------------------------------------------------------------------------------------- per item work

_DETS: dict[tuple[str, ...], list[Detector]] = {}


def _instances(names: Sequence[str]) -> list[Detector]:
    key = tuple(names)
    if key not in _DETS:
        from pixelsleuth.detectors.registry import get_detector

        _DETS[key] = [get_detector(n)() for n in names]
    return _DETS[key]


def _fuse() -> Callable[..., Any] | None:
    try:
        from pixelsleuth.fusion import fuse
    except ImportError:
        return None
    return fuse  # type: ignore[no-any-return]


def _fused(fuse: Callable[..., Any], evs: list[Evidence], shape: tuple[int, int]) -> tuple[float | None, Any]:
    try:
        v = fuse(evs, shape)
    except TypeError:
        return None, None
    scores = getattr(v, "scores", None) or (v.get("scores") if isinstance(v, dict) else None) or {}
    fmap = getattr(v, "map", None) if not isinstance(v, dict) else v.get("map")
    s = scores.get("manipulated")
    return (None if s is None else float(s)), fmap


def _record(
    item: Item,
    cond: str,
    method: str,
    score: float | None,
    fmap: np.ndarray | None,
    gt: np.ndarray | None,
    both: np.ndarray | None = None,
    **kw: Any,
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "item": item.id,
        "group": item.group,
        "label": item.label,
        "type": item.meta.get("type", ""),
        "condition": cond,
        "method": method,
        "score": score,
        "has_map": fmap is not None,
        **kw,
    }
    if fmap is not None and gt is not None:
        if fmap.shape != gt.shape:
            r["error"] = f"map {fmap.shape} vs mask {gt.shape}"
        elif item.label == 1 and gt.any():
            r.update(pixel_metrics(fmap, gt))
            if both is not None and both.shape == fmap.shape:  # copy-move: source + target regions
                r["f1_both"] = pixel_f1(fmap, both)
                r["f1_best_both"] = pixel_f1_best(fmap, both)[0]
        elif item.label == 0:
            r["fp_area"] = float(np.mean(fmap >= 0.5))
    elif fmap is not None and item.label == 0:
        r["fp_area"] = float(np.mean(fmap >= 0.5))
    return r


def process_item(item: Item, index: int, cfg: BenchConfig) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """All conditions x methods for one item. Returns records and {detector: peak bytes} (memory pass)."""
    from pixelsleuth.errors import PixelsleuthError
    from pixelsleuth.io import load_image

    dets = _instances(cfg.detectors)
    fuse = _fuse() if cfg.fusion else None
    ctx = Context(profile=cfg.profile, options=cfg.options)
    records: list[dict[str, Any]] = []
    peaks: dict[str, int] = {}
    try:
        data = item.image.read_bytes()
        base = load_image(data)
    except (OSError, PixelsleuthError) as e:
        return [
            {"item": item.id, "condition": c, "method": "*", "error": f"{type(e).__name__}: {e}"}
            for c in ["clean", *cfg.perturbations]
        ], peaks
    gt0: np.ndarray | None = None
    if item.mask is not None:
        try:
            gt0 = load_mask(item.mask, base.shape)
        except PixelsleuthError as e:
            gt0 = None
            records.append({"item": item.id, "condition": "clean", "method": "*", "error": str(e)})
    elif item.label == 0:
        gt0 = np.zeros(base.shape, bool)
    both0: np.ndarray | None = None
    if item.source_mask is not None and gt0 is not None and item.source_mask.exists():
        try:
            both0 = gt0 | load_mask(item.source_mask, base.shape)
        except PixelsleuthError as e:
            records.append(
                {"item": item.id, "condition": "clean", "method": "*", "error": f"source mask: {e}"}
            )
    for ci, cond in enumerate(["clean", *cfg.perturbations]):
        if cond == "clean":
            image, gt, both = base, gt0, both0
        else:
            rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, index, ci]))
            m8 = None if gt0 is None else gt0.astype(np.uint8) * 255
            res = PERTURBATIONS[cond].run(np.asarray(base.rgb), rng, m8)
            blob = res.data if res.data is not None else encode(res.image, "PNG")
            image = load_image(blob)
            gt = None if res.mask is None else res.mask > 127
            both = None
            if both0 is not None:  # same seed -> same geometry as the image
                rng2 = np.random.default_rng(np.random.SeedSequence([cfg.seed, index, ci]))
                both = apply_to_mask(cond, both0.astype(np.uint8) * 255, rng2) > 127
        mp = image.megapixels
        evs: list[Evidence] = []
        for d in dets:
            ev = d.run(image, ctx)
            evs.append(ev)
            records.append(
                _record(
                    item,
                    cond,
                    d.name,
                    ev.score,
                    ev.map,
                    gt,
                    both,
                    elapsed_s=ev.elapsed_s,
                    megapixels=mp,
                    skipped=ev.skipped,
                )
            )
            if cond == "clean" and index < cfg.memory_items:
                _, peak = measure_peak_memory(lambda d=d, im=image: d.run(im, ctx))
                peaks[d.name] = max(peaks.get(d.name, 0), peak)
        if fuse is not None:
            s, fmap = _fused(fuse, evs, image.shape)
            fm = None if fmap is None else np.asarray(fmap, np.float32)
            if fm is not None and fm.shape != image.shape:
                fm = None
            el = float(sum(e.elapsed_s for e in evs))
            records.append(
                _record(item, cond, FUSION, s, fm, gt, both, elapsed_s=el, megapixels=mp, skipped=None)
            )
        ones = np.ones(image.shape, np.float32)
        records.append(
            _record(item, cond, BASELINE, 0.5, ones, gt, both, elapsed_s=0.0, megapixels=mp, skipped=None)
        )
    return records, peaks


def _worker(args: tuple[Item, int, BenchConfig]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    return process_item(*args)


def run_benchmark(
    ds: Dataset,
    detectors: Sequence[str] | None = None,
    profile: str = "default",
    perturbations: Sequence[str] = (),
    workers: int = 1,
    seed: int = 0,
    fusion: bool = True,
    family: str | None = "manipulation",
    memory_items: int = 2,
    options: dict[str, Any] | None = None,
    progress: Callable[[], None] | None = None,
) -> BenchResult:
    """Run the benchmark; ``progress`` is called once per (item, condition)."""
    unknown = [p for p in perturbations if p not in PERTURBATIONS]
    if unknown:
        raise KeyError(f"unknown perturbations: {', '.join(unknown)}; known: {', '.join(PERTURBATIONS)}")
    names = resolve_detectors(detectors, profile, family)
    cfg = BenchConfig(
        names, profile, list(perturbations), seed, fusion and _fuse() is not None, memory_items, options or {}
    )
    records: list[dict[str, Any]] = []
    peaks: dict[str, int] = {}
    n_cond = 1 + len(cfg.perturbations)
    jobs = [(it, i, cfg) for i, it in enumerate(ds.items)]

    def take(out: tuple[list[dict[str, Any]], dict[str, int]]) -> None:
        recs, pk = out
        records.extend(recs)
        for k, v in pk.items():
            peaks[k] = max(peaks.get(k, 0), v)
        if progress:
            for _ in range(n_cond):
                progress()

    if workers <= 1 or len(jobs) <= 1:
        for j in jobs:
            take(_worker(j))
    else:
        import multiprocessing as mp

        ctx = mp.get_context("fork") if os.name == "posix" else mp.get_context()
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            futs = {ex.submit(_worker, j): j[1] for j in jobs}
            done: dict[int, tuple[list[dict[str, Any]], dict[str, int]]] = {}
            for f in as_completed(futs):
                done[futs[f]] = f.result()
                if progress:
                    for _ in range(n_cond):
                        progress()
            for i in sorted(done):  # keep dataset order regardless of completion order
                recs, pk = done[i]
                records.extend(recs)
                for k, v in pk.items():
                    peaks[k] = max(peaks.get(k, 0), v)
    methods = [*names] + ([FUSION] if cfg.fusion else []) + [BASELINE]
    skipped: dict[str, dict[str, int]] = {}
    for r in records:
        if r.get("skipped"):
            reason = str(r["skipped"])[:120]
            skipped.setdefault(r["method"], {}).setdefault(reason, 0)
            skipped[r["method"]][reason] += 1
    errors = list(ds.errors) + [(r["item"], r["error"]) for r in records if r.get("error")]
    return BenchResult(
        ds.name, ds.kind, cfg, records, errors, methods, ["clean", *cfg.perturbations], peaks, skipped
    )


def mask_of(item: Item) -> np.ndarray | None:
    """The item's ground-truth mask at the image's display size, or None."""
    if item.mask is None:
        return None
    w, h = display_size(item.image)
    return load_mask(item.mask, (h, w))


def finite(x: Any) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(x)
