"""Benchmark metrics, each defined in docs/metrics.md.

Pixel-level metrics compare a detector map (float in [0, 1], H x W) with a binary ground-truth mask of the same
shape; they are defined for images whose mask has at least one tampered and one untouched pixel and return
``nan`` otherwise (callers average with ``nanmean`` and report how many images counted). A shape mismatch raises
:class:`~pixelsleuth.errors.MaskMismatchError`: masks are never resized here.

Image-level metrics take per-image scores and 0/1 labels; they return ``nan`` when a class is missing.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from pixelsleuth.errors import MaskMismatchError

T = TypeVar("T")

PIXEL_THRESHOLD = 0.5
SCORE_THRESHOLD = 0.5


# --------------------------------------------------------------------------------------------- helpers


def _prep(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred)
    g = np.asarray(gt)
    if p.shape != g.shape:
        raise MaskMismatchError(f"map shape {p.shape} differs from mask shape {g.shape}")
    return p.astype(np.float64, copy=False).ravel(), (g.ravel() > 0)


def _confusion(p: np.ndarray, g: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    pos = p >= threshold
    tp = int(np.count_nonzero(pos & g))
    fp = int(np.count_nonzero(pos & ~g))
    fn = int(np.count_nonzero(~pos & g))
    tn = int(g.size - tp - fp - fn)
    return tp, fp, fn, tn


def _defined(g: np.ndarray) -> bool:
    n = int(np.count_nonzero(g))
    return 0 < n < g.size


# --------------------------------------------------------------------------------------------- pixel level


def pixel_f1(pred: np.ndarray, gt: np.ndarray, threshold: float = PIXEL_THRESHOLD) -> float:
    """F1 of ``pred >= threshold`` against the mask: 2TP / (2TP + FP + FN)."""
    p, g = _prep(pred, gt)
    if not _defined(g):
        return math.nan
    tp, fp, fn, _ = _confusion(p, g, threshold)
    return 2 * tp / (2 * tp + fp + fn)


def pixel_f1_best(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """Best F1 over all thresholds for this one image (an oracle, optimistic by design) and that threshold.

    Thresholds are the distinct map values: predicting ``pred >= t``.
    """
    p, g = _prep(pred, gt)
    if not _defined(g):
        return math.nan, math.nan
    order = np.argsort(-p, kind="mergesort")
    ps, gs = p[order], g[order]
    tp = np.cumsum(gs)
    k = np.arange(1, ps.size + 1)
    last = np.r_[ps[1:] != ps[:-1], True]  # last index of each run of equal values
    tp, k, thr = tp[last], k[last], ps[last]
    f1 = 2 * tp / (k + int(g.sum()))
    i = int(np.argmax(f1))
    return float(f1[i]), float(thr[i])


def pixel_iou(pred: np.ndarray, gt: np.ndarray, threshold: float = PIXEL_THRESHOLD) -> float:
    """Intersection over union of ``pred >= threshold`` and the mask: TP / (TP + FP + FN)."""
    p, g = _prep(pred, gt)
    if not _defined(g):
        return math.nan
    tp, fp, fn, _ = _confusion(p, g, threshold)
    return tp / (tp + fp + fn)


def pixel_mcc(pred: np.ndarray, gt: np.ndarray, threshold: float = PIXEL_THRESHOLD) -> float:
    """Matthews correlation coefficient of ``pred >= threshold``; 0 when the prediction is constant."""
    p, g = _prep(pred, gt)
    if not _defined(g):
        return math.nan
    tp, fp, fn, tn = _confusion(p, g, threshold)
    den = math.sqrt(float(tp + fp) * float(tp + fn) * float(tn + fp) * float(tn + fn))
    if den == 0:
        return 0.0
    return (tp * tn - fp * fn) / den


def pixel_auc(pred: np.ndarray, gt: np.ndarray) -> float:
    """ROC AUC over the pixels of one image (ties count one half)."""
    p, g = _prep(pred, gt)
    if not _defined(g):
        return math.nan
    return roc_auc(p, g.astype(np.int8))


def pixel_metrics(pred: np.ndarray, gt: np.ndarray, threshold: float = PIXEL_THRESHOLD) -> dict[str, float]:
    """All pixel metrics of one image in one pass over the sort."""
    f1b, thr = pixel_f1_best(pred, gt)
    return {
        "f1": pixel_f1(pred, gt, threshold),
        "f1_best": f1b,
        "f1_best_threshold": thr,
        "iou": pixel_iou(pred, gt, threshold),
        "mcc": pixel_mcc(pred, gt, threshold),
        "pixel_auc": pixel_auc(pred, gt),
    }


# --------------------------------------------------------------------------------------------- image level


def _xy(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(np.int64)
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return s, y


def roc_auc(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count one half)."""
    s, y = _xy(scores, labels)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    from scipy.stats import rankdata

    r = rankdata(s)  # average ranks handle ties
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def roc_curve(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FPR, TPR and thresholds (predict positive when ``score >= threshold``), starting at (0, 0)."""
    s, y = _xy(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    ss, ys = s[order], y[order]
    last = np.r_[ss[1:] != ss[:-1], True]
    tp = np.cumsum(ys)[last]
    fp = np.cumsum(1 - ys)[last]
    n1, n0 = max(int(y.sum()), 1), max(int(y.size - y.sum()), 1)
    return np.r_[0.0, fp / n0], np.r_[0.0, tp / n1], np.r_[np.inf, ss[last]]


def average_precision(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """AP = sum over thresholds of (R_k - R_{k-1}) * P_k (step-wise, no interpolation)."""
    s, y = _xy(scores, labels)
    n1 = int(y.sum())
    if n1 == 0:
        return math.nan
    order = np.argsort(-s, kind="mergesort")
    ss, ys = s[order], y[order]
    last = np.r_[ss[1:] != ss[:-1], True]
    tp = np.cumsum(ys)[last]
    k = np.arange(1, s.size + 1)[last]
    prec = tp / k
    rec = tp / n1
    return float(np.sum(np.diff(np.r_[0.0, rec]) * prec))


def balanced_accuracy(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[int] | np.ndarray,
    threshold: float = SCORE_THRESHOLD,
) -> float:
    """Mean of TPR and TNR when predicting positive for ``score >= threshold``."""
    s, y = _xy(scores, labels)
    if y.sum() == 0 or y.sum() == y.size:
        return math.nan
    pred = s >= threshold
    tpr = float(np.mean(pred[y == 1]))
    tnr = float(np.mean(~pred[y == 0]))
    return (tpr + tnr) / 2


def tpr_at_fpr(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, max_fpr: float
) -> float:
    """Highest TPR over thresholds whose FPR is at most ``max_fpr`` (no interpolation between thresholds)."""
    s, y = _xy(scores, labels)
    if y.sum() == 0 or y.sum() == y.size:
        return math.nan
    fpr, tpr, _ = roc_curve(s, y)
    ok = fpr <= max_fpr + 1e-12
    return float(tpr[ok].max())


def image_metrics(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[int] | np.ndarray,
    threshold: float = SCORE_THRESHOLD,
) -> dict[str, float]:
    return {
        "auc": roc_auc(scores, labels),
        "ap": average_precision(scores, labels),
        "bal_acc": balanced_accuracy(scores, labels, threshold),
        "tpr_at_fpr1": tpr_at_fpr(scores, labels, 0.01),
        "tpr_at_fpr5": tpr_at_fpr(scores, labels, 0.05),
    }


# --------------------------------------------------------------------------------------------- cost


@dataclass
class Cost:
    seconds: float
    megapixels: float
    peak_bytes: int | None = None

    @property
    def s_per_mp(self) -> float:
        return self.seconds / self.megapixels if self.megapixels > 0 else math.nan


def time_per_megapixel(seconds: Sequence[float], megapixels: Sequence[float]) -> float:
    """Total seconds divided by total megapixels (so large images weigh by their size)."""
    mp = float(np.sum(megapixels))
    return float(np.sum(seconds)) / mp if mp > 0 else math.nan


def measure_peak_memory(fn: Callable[[], T]) -> tuple[T, int]:
    """Run ``fn`` under tracemalloc; return its result and the peak bytes allocated *during* the call.

    tracemalloc sees Python and NumPy allocations; memory allocated inside native libraries that do not report
    to it (e.g. ONNX Runtime arenas, OpenCV internals) is not counted.
    """
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was:
            tracemalloc.stop()
    return out, max(0, peak - base)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def nanmean(values: Sequence[float] | np.ndarray) -> float:
    a = np.asarray([v for v in values if v is not None], dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else math.nan


def summarize(records: Sequence[dict[str, Any]], key: str) -> tuple[float, int]:
    """nan-mean of ``key`` over records and how many records had a finite value."""
    vals = [r.get(key) for r in records]
    fin = [float(v) for v in vals if v is not None and np.isfinite(v)]
    return (float(np.mean(fin)) if fin else math.nan), len(fin)
