"""Quality metrics computed from arrays: the numbers that :class:`QualityMonitor` exports.

Definitions follow scikit-learn, so a window's values equal ``sklearn.metrics`` on the same rows:

* binary: ``precision``/``recall``/``f1`` of the positive class (code 1), 0.0 when undefined
  (scikit-learn's ``zero_division`` default);
* multiclass: the macro average over the classes present in ``y_true`` or ``y_pred``;
* ``auc``: ROC AUC from the positive-class scores (ties averaged), only for binary tasks and
  only when both classes are present;
* ``calibration_error``: the expected calibration error (ECE) of the top-label confidence over
  ``bins`` equal-width bins of [0, 1]: ``sum_b |correct_b - confidence_b| / n``.

>>> import numpy as np
>>> summarize_classification(np.array([1, 0, 1]), np.array([1, 0, 0]), n_classes=2,
...                          binary=True)["accuracy"]
0.6666666666666666
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Values = dict[str, float | None]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "auc",
                          "calibration_error", "low_confidence_share", "positive_rate")
REGRESSION_METRICS = ("mae", "rmse")


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else 0.0


def confusion_matrix(y_true: IntArray, y_pred: IntArray, n_classes: int) -> IntArray:
    """``cm[t, p]``: how many rows had true class ``t`` and predicted class ``p``."""
    flat = y_true * n_classes + y_pred
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def scores_from_confusion(cm: IntArray, binary: bool) -> Values:
    """Accuracy, precision, recall and F1 (binary: class 1; multiclass: macro)."""
    total = int(cm.sum())
    if total == 0:
        return {"accuracy": None, "precision": None, "recall": None, "f1": None}
    true_positive = np.diag(cm).astype(np.float64)
    actual = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    accuracy = float(true_positive.sum()) / total
    if binary:
        tp, fp, fn = true_positive[1], predicted[1] - true_positive[1], actual[1] - true_positive[1]
        return {"accuracy": accuracy, "precision": _ratio(tp, tp + fp),
                "recall": _ratio(tp, tp + fn), "f1": _ratio(2 * tp, 2 * tp + fp + fn)}
    present = (actual > 0) | (predicted > 0)
    tp, act, pred = true_positive[present], actual[present], predicted[present]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred > 0, tp / pred, 0.0)
        recall = np.where(act > 0, tp / act, 0.0)
        f1 = np.where(act + pred > 0, 2 * tp / (act + pred), 0.0)
    return {"accuracy": accuracy, "precision": float(precision.mean()),
            "recall": float(recall.mean()), "f1": float(f1.mean())}


def roc_auc(is_positive: NDArray[np.bool_], scores: FloatArray) -> float | None:
    """ROC AUC (Mann-Whitney U with average ranks for ties); None without both classes."""
    n = int(scores.size)
    n_pos = int(np.count_nonzero(is_positive))
    n_neg = n - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, n])
    ranks = np.repeat(starts + (counts + 1) / 2.0, counts)
    rank_sum = float(ranks[is_positive[order]].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def expected_calibration_error(confidence: FloatArray, correct: NDArray[np.bool_],
                               bins: int = 10) -> float | None:
    """ECE over ``bins`` equal-width bins of [0, 1] (a confidence of 1.0 goes in the last)."""
    n = int(confidence.size)
    if n == 0:
        return None
    clipped = np.clip(confidence, 0.0, 1.0)
    index = np.minimum((clipped * bins).astype(np.int64), bins - 1)
    confidence_sum = np.bincount(index, weights=clipped, minlength=bins)
    correct_sum = np.bincount(index, weights=correct.astype(np.float64), minlength=bins)
    return float(np.abs(correct_sum - confidence_sum).sum()) / n


def top_label_confidence(y_pred: IntArray, scores: FloatArray, binary: bool) -> FloatArray:
    """Confidence in the predicted label: binary scores are P(class 1), others are already it."""
    if binary:
        return np.where(y_pred == 1, scores, 1.0 - scores)
    return scores


def summarize_classification(
    y_true: IntArray, y_pred: IntArray, *, n_classes: int, binary: bool,
    scores: FloatArray | None = None, low_confidence: float = 0.6, bins: int = 10,
) -> Values:
    """Every classification metric for one group of rows (see the module docstring)."""
    values = scores_from_confusion(confusion_matrix(y_true, y_pred, n_classes), binary)
    values.update(auc=None, calibration_error=None, low_confidence_share=None)
    values["positive_rate"] = (float(np.count_nonzero(y_pred == 1)) / y_pred.size
                               if binary and y_pred.size else None)
    if scores is not None:
        scored = ~np.isnan(scores)
        if scored.any():
            s, t, p = scores[scored], y_true[scored], y_pred[scored]
            confidence = top_label_confidence(p, s, binary)
            values["calibration_error"] = expected_calibration_error(confidence, t == p, bins)
            values["low_confidence_share"] = (
                float(np.count_nonzero(confidence < low_confidence)) / confidence.size)
            if binary:
                values["auc"] = roc_auc(t == 1, s)
    return values


def summarize_regression(y_true: FloatArray, y_pred: FloatArray) -> Values:
    """MAE and RMSE for one group of rows."""
    if y_true.size == 0:
        return {"mae": None, "rmse": None}
    error = y_pred - y_true
    return {"mae": float(np.abs(error).mean()), "rmse": math.sqrt(float((error * error).mean()))}


def parity_differences(
    positive_rate: Sequence[float | None], true_positive_rate: Sequence[float | None],
    counts: Sequence[int], positives: Sequence[int], min_count: int,
) -> tuple[float | None, float | None]:
    """(demographic-parity difference, equal-opportunity difference) across groups.

    Demographic parity: max - min of the positive-prediction rate over the groups with at least
    ``min_count`` rows. Equal opportunity: max - min of the true-positive rate over the groups
    with at least ``min_count`` actual positives. None when fewer than two groups qualify.
    """
    rates = [r for r, c in zip(positive_rate, counts, strict=True)
             if r is not None and c >= min_count]
    tprs = [r for r, p in zip(true_positive_rate, positives, strict=True)
            if r is not None and p >= min_count]
    parity = max(rates) - min(rates) if len(rates) >= 2 else None
    opportunity = max(tprs) - min(tprs) if len(tprs) >= 2 else None
    return parity, opportunity
