"""The metric math agrees with scikit-learn on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from aiobs_otel.quality.scoring import (
    expected_calibration_error,
    parity_differences,
    roc_auc,
    summarize_classification,
    summarize_regression,
)


def _ece_reference(confidence, correct, bins=10):
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        below = (confidence < high) if b < bins - 1 else (confidence <= high)
        inside = (confidence >= low) & below
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return total


def test_binary_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 2, 2000)
    scores = np.clip(y_true * 0.3 + rng.random(2000) * 0.7, 0, 1)
    y_pred = (scores >= 0.5).astype(np.int64)
    got = summarize_classification(y_true, y_pred, n_classes=2, binary=True, scores=scores)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y_true, y_pred))
    assert got["recall"] == pytest.approx(skm.recall_score(y_true, y_pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y_true, y_pred))
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y_true, scores))
    confidence = np.where(y_pred == 1, scores, 1 - scores)
    assert got["calibration_error"] == pytest.approx(
        _ece_reference(confidence, (y_pred == y_true).astype(float)))
    assert got["low_confidence_share"] == pytest.approx(np.mean(confidence < 0.6))
    assert got["positive_rate"] == pytest.approx(y_pred.mean())


def test_binary_zero_division_matches_sklearn():
    y_true = np.array([0, 0, 0, 0])
    y_pred = np.array([0, 0, 0, 0])
    got = summarize_classification(y_true, y_pred, n_classes=2, binary=True)
    assert got["precision"] == skm.precision_score(y_true, y_pred, zero_division=0)
    assert got["recall"] == skm.recall_score(y_true, y_pred, zero_division=0)
    assert got["f1"] == skm.f1_score(y_true, y_pred, zero_division=0)


def test_multiclass_macro_matches_sklearn_with_absent_classes():
    rng = np.random.default_rng(2)
    y_true = rng.integers(1, 5, 1500)  # code 0 (the fold) and code 5 never appear
    y_pred = np.where(rng.random(1500) < 0.7, y_true, rng.integers(1, 6, 1500))
    got = summarize_classification(y_true, y_pred, n_classes=7, binary=False)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                     ("f1", skm.f1_score)):
        assert got[name] == pytest.approx(fn(y_true, y_pred, average="macro", zero_division=0))


def test_auc_with_ties_and_single_class():
    y = np.array([0, 1, 1, 0, 1, 0, 1])
    s = np.array([0.1, 0.5, 0.5, 0.5, 0.9, 0.1, 0.2])
    assert roc_auc(y == 1, s) == pytest.approx(skm.roc_auc_score(y, s))
    assert roc_auc(np.ones(3, dtype=bool), np.array([0.1, 0.2, 0.3])) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=2, max_size=200))
def test_auc_property_equals_sklearn(rows):
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] / 20 for r in rows])
    got = roc_auc(y, s)
    if y.all() or not y.any():
        assert got is None
    else:
        assert got == pytest.approx(skm.roc_auc_score(y, s))


def test_ece_edges_and_empty():
    assert expected_calibration_error(np.array([]), np.array([], dtype=bool)) is None
    confidence = np.array([1.0, 1.0, 0.0])
    correct = np.array([True, False, False])
    assert expected_calibration_error(confidence, correct) == pytest.approx(
        _ece_reference(confidence, correct.astype(float)))


def test_regression_matches_sklearn():
    rng = np.random.default_rng(3)
    y_true = rng.normal(size=500)
    y_pred = y_true + rng.normal(scale=0.3, size=500)
    got = summarize_regression(y_true, y_pred)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y_true, y_pred)))
    assert summarize_regression(np.array([]), np.array([])) == {"mae": None, "rmse": None}


def test_parity_differences_need_two_qualifying_groups():
    parity, opportunity = parity_differences([0.2, 0.5, 0.9], [0.7, 0.6, None], [100, 100, 5],
                                             [40, 40, 1], min_count=20)
    assert parity == pytest.approx(0.3)  # the 5-row group does not count
    assert opportunity == pytest.approx(0.1)
    assert parity_differences([0.2], [0.5], [100], [50], min_count=20) == (None, None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.5, 1.5, allow_nan=False), min_size=1, max_size=100))
def test_score_buckets_equal_searchsorted(values):
    from aiobs_otel import semconv
    from aiobs_otel._core.quality_monitor import _score_buckets

    edges = np.array(semconv.MODEL_SCORE_BUCKETS)
    scores = np.r_[np.array(values), edges, np.nextafter(edges, 0), np.nextafter(edges, 1)]
    assert _score_buckets(scores).tolist() == np.searchsorted(edges, scores, "left").tolist()
