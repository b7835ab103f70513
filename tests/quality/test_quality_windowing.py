"""Property tests: whatever the batching and label order, the window is the last
``window_size`` labelled rows and windows close exactly at multiples of ``window_size``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from quality_streams import Clock

import aiobs_otel as aiobs
from aiobs_otel.quality.alerts import AlertTracker
from aiobs_otel.testing import capture


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 400))
    window = draw(st.integers(1, 120))
    seed = draw(st.integers(0, 2**31))
    cuts = sorted(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=6)))
    label_cuts = sorted(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=6)))
    return n, window, seed, cuts, label_cuts


def _batches(n, cuts):
    edges = [0, *sorted(set(c for c in cuts if 0 < c < n)), n]
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_window_is_the_last_window_size_joined_rows(scenario):
    n, window, seed, cuts, label_cuts = scenario
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, n)
    y_pred = rng.integers(0, 2, n)
    ids = rng.permutation(n * 3)[:n]  # unique, unordered ids
    label_order = rng.permutation(n)
    closed = []
    with capture():
        quality = aiobs.QualityMonitor("w", window_size=window, min_samples=0, clock=Clock())
        original = quality._alerts.update

        def spy(window_index, group, values, count):
            closed.append((window_index, count))
            return original(window_index, group, values, count)

        quality._alerts.update = spy
        for part in _batches(n, cuts):
            quality.record_predictions(ids[part], y_pred[part])
        for part in _batches(n, label_cuts):
            rows = label_order[part]
            quality.record_labels(ids[rows], y_true[rows])
        result = quality.metrics()
    last = label_order[-min(n, window):]
    assert result["rows"] == min(n, window)
    assert result["window"] == n // window
    assert result["overall"]["accuracy"] == pytest.approx(np.mean(y_true[last] == y_pred[last]))
    assert [w for w, _ in closed] == list(range(1, n // window + 1))
    assert all(count == window for _, count in closed)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40),
       st.integers(1, 4), st.integers(1, 4))
def test_alerts_fire_once_per_episode(values, alert_after, recover_after):
    from aiobs_otel.quality.alerts import Rule

    tracker = AlertTracker([Rule("accuracy", True, 0.1)], min_samples=1, baseline_windows=1,
                           alert_after=alert_after, recover_after=recover_after)
    tracker.update(0, (None, None), {"accuracy": 0.9}, 100)
    kinds = []
    for index, value in enumerate(values, start=1):
        kinds += [t.kind for t in tracker.update(index, (None, None), {"accuracy": value}, 100)]
    # transitions alternate, starting with a degradation
    assert all(k == ("degraded" if i % 2 == 0 else "recovered") for i, k in enumerate(kinds))
    breaching = [v < 0.8 for v in values]
    if any(all(breaching[i:i + alert_after]) for i in range(len(values) - alert_after + 1)):
        assert kinds and kinds[0] == "degraded"
    else:
        assert kinds == []
