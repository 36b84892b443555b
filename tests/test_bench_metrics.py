"""Metrics on hand-computed cases (see docs/metrics.md) and against scikit-learn on random data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pixelsleuth.bench import metrics as M
from pixelsleuth.errors import MaskMismatchError

# 4 pixels: scores 0.9 0.6 0.4 0.1, truth 1 0 1 0. At 0.5: TP=1 FP=1 FN=1 TN=1.
PRED = np.array([[0.9, 0.6], [0.4, 0.1]], np.float32)
GT = np.array([[1, 0], [1, 0]], np.uint8)


def test_pixel_threshold_metrics_hand_computed() -> None:
    assert M.pixel_f1(PRED, GT) == pytest.approx(0.5)  # 2*1 / (2*1 + 1 + 1)
    assert M.pixel_iou(PRED, GT) == pytest.approx(1 / 3)  # 1 / (1 + 1 + 1)
    assert M.pixel_mcc(PRED, GT) == pytest.approx(0.0)  # (1*1 - 1*1) / sqrt(2*2*2*2)
    # threshold 0.3 -> predicted {0.9, 0.6, 0.4}: TP=2 FP=1 FN=0 TN=1
    assert M.pixel_f1(PRED, GT, 0.3) == pytest.approx(0.8)
    assert M.pixel_iou(PRED, GT, 0.3) == pytest.approx(2 / 3)
    assert M.pixel_mcc(PRED, GT, 0.3) == pytest.approx((2 * 1 - 1 * 0) / math.sqrt(3 * 2 * 2 * 1))


def test_pixel_best_f1_and_auc_hand_computed() -> None:
    f1, thr = M.pixel_f1_best(PRED, GT)
    # thresholds 0.9: 2/3, 0.6: 1/2, 0.4: 4/5, 0.1: 2/3
    assert f1 == pytest.approx(0.8)
    assert thr == pytest.approx(0.4)
    # positive/negative pairs: (0.9>0.6) (0.9>0.1) (0.4<0.6) (0.4>0.1) -> 3/4
    assert M.pixel_auc(PRED, GT) == pytest.approx(0.75)
    allm = M.pixel_metrics(PRED, GT)
    assert allm["f1"] == pytest.approx(0.5) and allm["f1_best"] == pytest.approx(0.8)


def test_pixel_perfect_inverted_and_constant_maps() -> None:
    gt = np.zeros((10, 10), bool)
    gt[2:5, 3:7] = True
    assert M.pixel_f1(gt.astype(np.float32), gt) == 1.0
    assert M.pixel_mcc(gt.astype(np.float32), gt) == pytest.approx(1.0)
    assert M.pixel_auc(gt.astype(np.float32), gt) == 1.0
    inv = 1.0 - gt.astype(np.float32)
    assert M.pixel_f1(inv, gt) == 0.0
    assert M.pixel_mcc(inv, gt) == pytest.approx(-1.0)
    assert M.pixel_auc(inv, gt) == 0.0
    ones = np.ones((10, 10), np.float32)
    p = gt.mean()
    assert M.pixel_f1(ones, gt) == pytest.approx(2 * p / (1 + p))  # the all-ones baseline
    assert M.pixel_mcc(ones, gt) == 0.0  # constant prediction: defined as 0
    assert M.pixel_auc(ones, gt) == 0.5  # all ties


def test_pixel_metrics_undefined_and_shape_errors() -> None:
    empty = np.zeros((4, 4), bool)
    assert math.isnan(M.pixel_f1(np.zeros((4, 4)), empty))
    assert math.isnan(M.pixel_auc(np.zeros((4, 4)), empty))
    assert math.isnan(M.pixel_f1(np.zeros((4, 4)), ~empty))
    with pytest.raises(MaskMismatchError):
        M.pixel_f1(np.zeros((4, 5)), empty)
    with pytest.raises(MaskMismatchError):
        M.pixel_metrics(np.zeros((5, 4)), empty)


def test_image_metrics_hand_computed() -> None:
    s = [0.9, 0.6, 0.4, 0.1]
    y = [1, 0, 1, 0]
    assert M.roc_auc(s, y) == pytest.approx(0.75)
    # ranked: + (P=1, R=.5), -, + (P=2/3, R=1), -  -> AP = .5*1 + .5*2/3
    assert M.average_precision(s, y) == pytest.approx(0.5 + 1 / 3)
    assert M.balanced_accuracy(s, y) == pytest.approx(0.5)  # predicted 1 1 0 0
    assert M.balanced_accuracy(s, y, threshold=0.3) == pytest.approx((1.0 + 0.5) / 2)
    assert M.tpr_at_fpr(s, y, 0.01) == pytest.approx(0.5)  # threshold 0.9: FPR 0, TPR .5
    assert M.tpr_at_fpr(s, y, 0.5) == pytest.approx(1.0)  # threshold 0.4: FPR .5, TPR 1
    assert M.roc_auc([0.5, 0.5], [1, 0]) == 0.5  # tie counts one half
    assert math.isnan(M.roc_auc([0.1, 0.2], [1, 1]))
    assert math.isnan(M.average_precision([0.1, 0.2], [0, 0]))
    with pytest.raises(ValueError):
        M.roc_auc([0.1], [2])
    with pytest.raises(ValueError):
        M.roc_auc([0.1, 0.2], [1])


def test_constant_score_baseline() -> None:
    y = [1, 1, 0, 0, 0]
    s = [0.5] * 5
    m = M.image_metrics(s, y)
    assert m["auc"] == 0.5
    assert m["ap"] == pytest.approx(0.4)  # prevalence
    assert m["bal_acc"] == 0.5
    assert m["tpr_at_fpr5"] == 0.0


def test_against_sklearn_random() -> None:
    from sklearn.metrics import average_precision_score, f1_score, matthews_corrcoef, roc_auc_score

    rng = np.random.default_rng(3)
    for _ in range(5):
        y = rng.integers(0, 2, 300)
        s = np.round(rng.random(300) + 0.3 * y, 2)  # rounding makes ties
        assert M.roc_auc(s, y) == pytest.approx(roc_auc_score(y, s))
        assert M.average_precision(s, y) == pytest.approx(average_precision_score(y, s))
        gt = y.reshape(15, 20)
        pm = s.reshape(15, 20) / s.max()
        assert M.pixel_f1(pm, gt) == pytest.approx(f1_score(gt.ravel(), pm.ravel() >= 0.5))
        assert M.pixel_mcc(pm, gt) == pytest.approx(matthews_corrcoef(gt.ravel(), pm.ravel() >= 0.5))
        best = max(f1_score(gt.ravel(), pm.ravel() >= t) for t in np.unique(pm))
        assert M.pixel_f1_best(pm, gt)[0] == pytest.approx(best)


def test_cost_helpers() -> None:
    assert M.time_per_megapixel([1.0, 3.0], [0.5, 1.5]) == pytest.approx(2.0)
    assert math.isnan(M.time_per_megapixel([1.0], [0.0]))
    out, peak = M.measure_peak_memory(lambda: np.ones(2_000_000, np.float64).sum())
    assert out == 2_000_000
    assert peak >= 15_000_000  # the 16 MB temporary array is seen
    assert M.nanmean([1.0, math.nan, 3.0]) == 2.0
    assert M.summarize([{"f1": 0.5}, {"f1": math.nan}, {}], "f1") == (0.5, 1)
