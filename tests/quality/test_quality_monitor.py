"""QualityMonitor end to end: delayed labels, segments, expiry, exports, alerts, fairness."""

from __future__ import annotations

import numpy as np
import pytest
from quality_streams import classifier_stream
from sklearn import metrics as skm

import aiobs_otel as aiobs
from aiobs_otel import semconv
from aiobs_otel._core import errors


def _stream_delayed(quality, stream, clock, *, batch=500, lag_batches=3, seed=1):
    """Predictions in batches; each batch's labels arrive, shuffled, ``lag_batches`` later.

    Returns the ids in the order their labels were recorded (the join order).
    """
    rng = np.random.default_rng(seed)
    n = stream.ids.size
    starts = list(range(0, n, batch))
    order = []
    for step in range(len(starts) + lag_batches):
        if step < len(starts):
            s = slice(starts[step], starts[step] + batch)
            quality.record_predictions(stream.ids[s], stream.y_pred[s], scores=stream.scores[s],
                                       segments={"region": stream.region[s]})
        clock.advance(60.0)
        done = step - lag_batches
        if done >= 0:
            rows = np.arange(starts[done], min(starts[done] + batch, n))
            rows = rng.permutation(rows)
            quality.record_labels(stream.ids[rows], stream.y_true[rows])
            order.extend(rows.tolist())
    return np.array(order)


def _check_against_sklearn(values, y_true, y_pred, scores):
    assert values["count"] == y_true.size
    assert values["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert values["precision"] == pytest.approx(skm.precision_score(y_true, y_pred,
                                                                    zero_division=0))
    assert values["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, zero_division=0))
    assert values["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, zero_division=0))
    assert values["auc"] == pytest.approx(skm.roc_auc_score(y_true, scores))


def test_delayed_out_of_order_labels_match_sklearn_per_segment(aiobs_capture, clock):
    stream = classifier_stream(6000, seed=3, accuracy={"eu": 0.95, "us": 0.8})
    quality = aiobs.QualityMonitor("fraud", window_size=2000, clock=clock)
    order = _stream_delayed(quality, stream, clock)
    window = order[-2000:]
    result = quality.metrics()
    assert result["window"] == 3 and result["rows"] == 2000
    _check_against_sklearn(result["overall"], stream.y_true[window], stream.y_pred[window],
                           stream.scores[window])
    regions = result["segments"]["region"]
    assert set(regions) == {"eu", "us", "apac", "latam"}
    for name, values in regions.items():
        rows = window[stream.region[window] == name]
        _check_against_sklearn(values, stream.y_true[rows], stream.y_pred[rows],
                               stream.scores[rows])
        assert values["label_coverage"] == pytest.approx(1.0)
    assert result["overall"]["label_delay_mean"] == pytest.approx(4 * 60.0)
    assert result["labels"] == {"joined": 6000, "unknown": 0}
    assert result["pending"] == 0

    # the exported gauges carry exactly the same numbers
    exported = {p.attributes.get(semconv.MODEL_SEGMENT_VALUE): p.value
                for p in aiobs_capture.metrics(semconv.MODEL_ACCURACY)}
    assert exported[None] == result["overall"]["accuracy"]
    for name, values in regions.items():
        assert exported[name] == values["accuracy"]
    point = aiobs_capture.metrics(semconv.MODEL_AUC)[0]
    assert point.attributes[semconv.MODEL_NAME] == "fraud"
    predictions = {p.attributes.get(semconv.MODEL_SEGMENT_VALUE): p.value
                   for p in aiobs_capture.metrics(semconv.MODEL_PREDICTIONS)}
    assert predictions[None] == 6000
    assert sum(v for k, v in predictions.items() if k is not None) == 6000


def test_unknown_and_repeated_label_ids_are_counted(aiobs_capture, clock):
    quality = aiobs.QualityMonitor("m", window_size=100, min_samples=1, clock=clock)
    quality.record_predictions(["a", "b", "c"], [1, 0, 1], scores=[0.9, 0.2, 0.7])
    quality.record_labels(["c", "zzz", "a", "a"], [1, 0, 0, 1])
    quality.record_labels(["c"], [1])  # already labelled
    result = quality.metrics()
    assert result["labels"] == {"joined": 2, "unknown": 3}
    assert result["pending"] == 1
    assert result["overall"]["count"] == 2
    assert result["overall"]["accuracy"] == pytest.approx(0.5)  # "a" joined with its first label
    statuses = {p.attributes[semconv.MODEL_LABEL_STATUS]: p.value
                for p in aiobs_capture.metrics(semconv.MODEL_LABELS)
                if semconv.MODEL_SEGMENT_KEY not in p.attributes}
    assert statuses == {"joined": 2, "unknown": 3}


def test_expired_predictions_are_counted_and_their_labels_unknown(aiobs_capture, clock):
    quality = aiobs.QualityMonitor("m", label_ttl=3600, max_pending=1000, clock=clock)
    quality.record_predictions(np.arange(10), np.ones(10, dtype=int))
    clock.advance(1800)
    quality.record_predictions(np.arange(10, 15), np.ones(5, dtype=int))
    clock.advance(2000)  # the first ten are now older than an hour
    quality.record_labels(np.arange(15), np.ones(15, dtype=int))
    result = quality.metrics()
    assert result["expired"]["ttl"] == 10
    assert result["labels"] == {"joined": 5, "unknown": 10}
    assert result["pending"] == 0
    expired = {p.attributes[semconv.MODEL_EXPIRY_REASON]: p.value
               for p in aiobs_capture.metrics(semconv.MODEL_EXPIRED)}
    assert expired["ttl"] == 10 and expired["capacity"] == 0


def test_capacity_bound_evicts_oldest_and_memory_stays_bounded(aiobs_capture, clock):
    quality = aiobs.QualityMonitor("m", max_pending=5000, window_size=1000, clock=clock)
    quality.record_predictions(np.arange(1000), np.ones(1000, dtype=int))
    first = quality.memory_bytes()
    for batch in range(1, 30):
        ids = np.arange(batch * 1000, batch * 1000 + 1000)
        quality.record_predictions(ids, np.ones(1000, dtype=int), scores=np.full(1000, 0.7),
                                   segments={"region": np.full(1000, "eu")})
    result = quality.metrics()
    assert result["pending"] == 5000
    assert result["expired"]["capacity"] == 25_000
    assert quality.memory_bytes() < first * 40  # bounded by max_pending, not by the stream


def test_small_and_empty_segments(aiobs_capture, clock):
    quality = aiobs.QualityMonitor("m", window_size=1000, min_samples=50, clock=clock)
    regions = np.array(["eu"] * 400 + ["tiny"] * 10)
    y = np.ones(410, dtype=int)
    quality.record(y, y, segments={"region": regions})
    quality.record(np.ones(5, dtype=int), np.ones(5, dtype=int))  # rows without a segment
    quality.record([], [], segments={"region": []})  # an empty batch is fine
    result = quality.metrics()
    assert result["overall"]["count"] == 415
    tiny = result["segments"]["region"]["tiny"]
    assert tiny["count"] == 10 and tiny["accuracy"] is None
    assert result["segments"]["region"]["eu"]["accuracy"] == 1.0
    exported = {p.attributes.get(semconv.MODEL_SEGMENT_VALUE)
                for p in aiobs_capture.metrics(semconv.MODEL_ACCURACY)}
    assert "tiny" not in exported and "eu" in exported
    rows = {p.attributes.get(semconv.MODEL_SEGMENT_VALUE): p.value
            for p in aiobs_capture.metrics(semconv.MODEL_WINDOW_ROWS)}
    assert rows["tiny"] == 10
    # a segment whose rows have all left the window is no longer reported
    quality.record(np.ones(1000, dtype=int), np.ones(1000, dtype=int),
                   segments={"region": np.full(1000, "eu")})
    assert set(quality.metrics()["segments"]["region"]) == {"eu"}


def test_segment_cap_folds_the_rest_into_other(aiobs_capture, clock):
    rng = np.random.default_rng(5)
    n = 3000
    values = rng.choice(np.array(["a", "b", "c", "d", "e"]), n)
    values[:3] = ["a", "b", "c"]  # the first three seen keep their names
    y_true = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < 0.8, y_true, 1 - y_true)
    quality = aiobs.QualityMonitor("m", window_size=n, max_segment_values=3, clock=clock)
    quality.record(y_true, y_pred, segments={"shop": values})
    shops = quality.metrics()["segments"]["shop"]
    assert set(shops) == {"a", "b", "c", semconv.OTHER_VALUE}
    other = np.isin(values, ["d", "e"])
    assert shops[semconv.OTHER_VALUE]["accuracy"] == pytest.approx(
        skm.accuracy_score(y_true[other], y_pred[other]))
    assert shops[semconv.OTHER_VALUE]["count"] == int(other.sum())


def test_one_degradation_event_for_the_segment_that_drops(aiobs_capture, clock):
    n = 14_000
    stream = classifier_stream(n, seed=11, drop_region="eu", drop_after=n // 2)
    quality = aiobs.QualityMonitor("fraud", window_size=1000, clock=clock)
    _stream_delayed(quality, stream, clock)
    events = aiobs_capture.logs(semconv.MODEL_QUALITY_DEGRADED_EVENT)
    assert len(events) == 1
    record = events[0].log_record
    attributes = dict(record.attributes)
    assert attributes[semconv.MODEL_SEGMENT_KEY] == "region"
    assert attributes[semconv.MODEL_SEGMENT_VALUE] == "eu"
    assert attributes[semconv.MODEL_METRIC] == "accuracy"
    assert attributes[semconv.MODEL_WINDOW] >= 8
    assert attributes[semconv.MODEL_VALUE] < attributes[semconv.MODEL_REFERENCE] - 0.05
    assert "quality degraded" in record.body and "region=eu" in record.body
    degraded = {(p.attributes[semconv.MODEL_SEGMENT_VALUE]): p.value
                for p in aiobs_capture.metrics(semconv.MODEL_DEGRADED)}
    assert degraded == {"eu": 1, "us": 0, "apac": 0, "latam": 0}
    assert quality.metrics()["degraded"] == [
        {"metric": "accuracy", "segment_key": "region", "segment_value": "eu"}]


def test_recovery_after_hysteresis_and_whole_window_alerts(aiobs_capture, clock):
    rng = np.random.default_rng(8)
    quality = aiobs.QualityMonitor("m", window_size=500, recover_after=2, clock=clock)
    for accuracy in [0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.9, 0.9, 0.9]:
        y_true = rng.integers(0, 2, 500)
        y_pred = np.where(rng.random(500) < accuracy, y_true, 1 - y_true)
        quality.record(y_true, y_pred)
    degraded = aiobs_capture.logs(semconv.MODEL_QUALITY_DEGRADED_EVENT)
    recovered = aiobs_capture.logs(semconv.MODEL_QUALITY_RECOVERED_EVENT)
    assert len(degraded) == 1 and len(recovered) == 1
    assert degraded[0].log_record.attributes[semconv.MODEL_WINDOW] == 5  # 2nd bad window
    assert semconv.MODEL_SEGMENT_KEY not in degraded[0].log_record.attributes
    assert recovered[0].log_record.attributes[semconv.MODEL_WINDOW] == 8


def test_fixed_threshold_alert(aiobs_capture, clock):
    quality = aiobs.QualityMonitor("m", window_size=200, thresholds={"accuracy": 0.95},
                                   alert_after=1, clock=clock)
    y = np.ones(200, dtype=int)
    quality.record(y, np.where(np.arange(200) < 20, 0, 1))  # 0.90 < 0.95
    events = aiobs_capture.logs(semconv.MODEL_QUALITY_DEGRADED_EVENT)
    assert len(events) == 1
    assert events[0].log_record.attributes[semconv.MODEL_REFERENCE] == 0.95


def test_fairness_across_the_sensitive_segment(aiobs_capture, clock):
    rng = np.random.default_rng(4)
    n = 4000
    group = rng.choice(np.array(["f", "m", "x"]), n, p=[0.49, 0.49, 0.02])
    y_true = rng.integers(0, 2, n)
    bias = np.where(group == "f", 0.7, 0.9)
    y_pred = np.where(rng.random(n) < bias, y_true, 1 - y_true)
    quality = aiobs.QualityMonitor("m", window_size=n, sensitive_segment="group",
                                   min_samples=100, clock=clock)
    quality.record(y_true, y_pred, segments={"group": group})
    fairness = quality.metrics()["fairness"]["group"]
    rates = {g: y_pred[group == g].mean() for g in ("f", "m")}  # "x" has < 100 rows
    tprs = {g: skm.recall_score(y_true[group == g], y_pred[group == g]) for g in ("f", "m")}
    assert fairness["demographic_parity_difference"] == pytest.approx(
        max(rates.values()) - min(rates.values()))
    assert fairness["equal_opportunity_difference"] == pytest.approx(
        max(tprs.values()) - min(tprs.values()))
    point = aiobs_capture.metrics(semconv.MODEL_EQUAL_OPPORTUNITY)[0]
    assert point.attributes[semconv.MODEL_SEGMENT_KEY] == "group"
    assert point.value == pytest.approx(fairness["equal_opportunity_difference"])


def test_fairness_needs_minimum_counts(aiobs_capture, clock):
    quality = aiobs.QualityMonitor("m", sensitive_segment="group", min_samples=100, clock=clock)
    quality.record([1, 0, 1, 1], [1, 0, 0, 1], segments={"group": ["a", "a", "b", "b"]})
    assert quality.metrics()["fairness"]["group"] == {
        "demographic_parity_difference": None, "equal_opportunity_difference": None}
    assert aiobs_capture.metrics(semconv.MODEL_DEMOGRAPHIC_PARITY) == []


def test_confidence_metrics_and_score_distribution(aiobs_capture, clock):
    scores = np.array([0.05, 0.15, 0.55, 0.95, 1.0] * 20)
    y_pred = (scores >= 0.5).astype(int)
    quality = aiobs.QualityMonitor("m", min_samples=10, clock=clock)
    quality.record(y_pred, y_pred, scores=scores)
    overall = quality.metrics()["overall"]
    confidence = np.where(y_pred == 1, scores, 1 - scores)
    assert overall["low_confidence_share"] == pytest.approx(np.mean(confidence < 0.6))
    assert overall["calibration_error"] == pytest.approx(np.mean(1 - confidence))
    [histogram] = aiobs_capture.metrics(semconv.MODEL_SCORE_DISTRIBUTION)
    assert histogram.instrument_kind == "Histogram"
    assert list(histogram.point.explicit_bounds) == list(semconv.MODEL_SCORE_BUCKETS)
    # buckets are (b[i-1], b[i]]: 0.05 -> (-inf, 0.1], 0.15 -> (0.1, 0.2], 0.55 -> (0.5, 0.6]
    assert list(histogram.point.bucket_counts) == [20, 20, 0, 0, 0, 20, 0, 0, 0, 40]
    assert histogram.count == 100 and histogram.sum == pytest.approx(scores.sum())
    assert aiobs_capture.metrics(semconv.MODEL_SCORE_DISTRIBUTION) == []  # delta: sent once


def test_score_distribution_per_segment(aiobs_capture, clock):
    quality = aiobs.QualityMonitor("m", clock=clock)
    quality.record_predictions([1, 2, 3, 4], [1, 0, 1, 1], scores=[0.9, 0.3, 0.3, np.nan],
                               segments={"region": ["eu", "us", "eu", "eu"]})
    points = {p.attributes.get(semconv.MODEL_SEGMENT_VALUE): p
              for p in aiobs_capture.metrics(semconv.MODEL_SCORE_DISTRIBUTION)}
    assert set(points) == {None, "eu", "us"}
    assert points[None].count == 3 and points["eu"].count == 2 and points["us"].count == 1
    assert points["eu"].point.min == pytest.approx(0.3) and points["eu"].point.max == 0.9


def test_multiclass_with_string_labels_matches_sklearn(aiobs_capture, clock):
    rng = np.random.default_rng(6)
    classes = np.array(["cat", "dog", "bird"])
    y_true = rng.choice(classes, 1200)
    y_pred = np.where(rng.random(1200) < 0.75, y_true, rng.choice(classes, 1200))
    quality = aiobs.QualityMonitor("animals", task="multiclass", window_size=1000, clock=clock)
    quality.record_predictions(np.arange(1200), y_pred.tolist(), scores=rng.random(1200))
    quality.record_labels(np.arange(1200), y_true)
    overall = quality.metrics()["overall"]
    last = slice(200, 1200)
    assert overall["accuracy"] == pytest.approx(skm.accuracy_score(y_true[last], y_pred[last]))
    assert overall["f1"] == pytest.approx(skm.f1_score(y_true[last], y_pred[last],
                                                       average="macro"))
    assert "auc" not in overall or overall["auc"] is None


def test_regression(aiobs_capture, clock):
    rng = np.random.default_rng(7)
    y_true = rng.normal(size=800)
    y_pred = y_true + rng.normal(scale=0.5, size=800)
    quality = aiobs.QualityMonitor("price", task="regression", clock=clock)
    quality.record_predictions(np.arange(800), y_pred)
    quality.record_labels(np.arange(800)[::-1], y_true[::-1])
    overall = quality.metrics()["overall"]
    assert overall["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred))
    assert overall["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y_true, y_pred)))
    assert aiobs_capture.metrics(semconv.MODEL_RMSE)[0].value == pytest.approx(overall["rmse"])


def test_pandas_series_inputs(aiobs_capture, clock):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "pred": [1, 0, 1, 1],
                          "region": pd.Categorical(["eu", "us", "eu", "us"])})
    quality = aiobs.QualityMonitor("m", min_samples=1, clock=clock)
    quality.record_predictions(frame["id"], frame["pred"], segments=frame[["region"]])
    quality.record_labels(frame["id"], pd.Series([1, 0, 0, 1]))
    assert quality.metrics()["segments"]["region"]["eu"]["accuracy"] == 0.5


def test_bad_inputs_raise_only_at_construction_or_in_strict_mode(aiobs_capture, clock):
    with pytest.raises(ValueError):
        aiobs.QualityMonitor("m", task="ranking")
    with pytest.raises(ValueError):
        aiobs.QualityMonitor("m", task="regression", alert_metrics=["accuracy"])
    quality = aiobs.QualityMonitor("m", clock=clock)
    with pytest.raises(errors.InternalError):  # strict mode in tests; silent in production
        quality.record_predictions([1, 2], [1])


def test_disabled_records_nothing(aiobs_capture, clock, monkeypatch):
    from aiobs_otel._core import state
    quality = aiobs.QualityMonitor("m", clock=clock)
    monkeypatch.setattr(state, "disabled", True)
    quality.record_predictions([1], [1])
    monkeypatch.setattr(state, "disabled", False)
    assert quality.metrics()["predictions"] == 0


def test_replayed_timestamps_drive_delay_and_ttl(aiobs_capture, clock):
    quality = aiobs.QualityMonitor("replay", label_ttl=7200, min_samples=1, clock=clock)
    quality.record_predictions([1, 2], [1, 1], timestamp=1_000.0)
    quality.record_predictions([3], [1], timestamp=5_000.0)
    quality.record_labels([1, 2, 3], [1, 0, 1], timestamp=9_000.0)  # 1 and 2 are 8000 s old
    result = quality.metrics()
    assert result["expired"]["ttl"] == 2 and result["labels"]["unknown"] == 2
    assert result["overall"]["label_delay_mean"] == 4_000.0


def test_every_exported_gauge_equals_metrics(aiobs_capture, clock):
    stream = classifier_stream(3000, seed=2)
    quality = aiobs.QualityMonitor("same-numbers", window_size=1000, sensitive_segment="region",
                                   clock=clock)
    quality.record_predictions(stream.ids, stream.y_pred, scores=stream.scores,
                               segments={"region": stream.region})
    clock.advance(30)
    quality.record_labels(stream.ids[::-1], stream.y_true[::-1])
    result = quality.metrics()
    names = {"accuracy": semconv.MODEL_ACCURACY, "precision": semconv.MODEL_PRECISION,
             "recall": semconv.MODEL_RECALL, "f1": semconv.MODEL_F1, "auc": semconv.MODEL_AUC,
             "calibration_error": semconv.MODEL_CALIBRATION_ERROR,
             "low_confidence_share": semconv.MODEL_LOW_CONFIDENCE_SHARE,
             "positive_rate": semconv.MODEL_POSITIVE_RATE, "count": semconv.MODEL_WINDOW_ROWS,
             "label_delay_mean": semconv.MODEL_LABEL_DELAY_MEAN,
             "label_delay_p95": semconv.MODEL_LABEL_DELAY_P95,
             "label_coverage": semconv.MODEL_LABEL_COVERAGE}
    for key, name in names.items():
        exported = {p.attributes.get(semconv.MODEL_SEGMENT_VALUE): p.value
                    for p in aiobs_capture.metrics(name)}
        expected = {None: result["overall"][key]}
        expected.update({v: g[key] for v, g in result["segments"]["region"].items()})
        assert exported == pytest.approx(expected), key
    parity = aiobs_capture.metrics(semconv.MODEL_DEMOGRAPHIC_PARITY)[0].value
    assert parity == pytest.approx(result["fairness"]["region"]["demographic_parity_difference"])


def test_concurrent_recording_from_threads(aiobs_capture, clock):
    import threading

    quality = aiobs.QualityMonitor("threads", window_size=1000, clock=clock)
    stream = classifier_stream(8000, seed=9)

    def worker(part):
        rows = slice(part * 1000, part * 1000 + 1000)
        quality.record_predictions(stream.ids[rows], stream.y_pred[rows],
                                   segments={"region": stream.region[rows]})
        quality.record_labels(stream.ids[rows], stream.y_true[rows])
        aiobs_capture.metrics(semconv.MODEL_ACCURACY)  # collection while others record

    threads = [threading.Thread(target=worker, args=(p,)) for p in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = quality.metrics()
    assert result["labels"] == {"joined": 8000, "unknown": 0}
    assert result["window"] == 8 and result["pending"] == 0
