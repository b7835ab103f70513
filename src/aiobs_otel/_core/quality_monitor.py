"""``QualityMonitor``: production accuracy, calibration and fairness, joined from delayed labels.

Predictions are recorded at inference time with an id; labels arrive later (minutes, hours, out
of order) and are joined by id. Every joined row enters the *window*: the last ``window_size``
labelled predictions. ``metrics()`` and the exported ``aiobs.model.*`` gauges are computed from
that window, overall and per segment value, from the same cached snapshot, so they always agree.

The hot path (``record_predictions`` / ``record_labels``) is numpy only: no OpenTelemetry call
per batch. Counters and gauges are observable instruments read at collection time; the score
histogram is counted in numpy and handed to every metric reader by ``setup.sketch_export``.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import (
    CallbackOptions,
    Meter,
    ObservableCounter,
    ObservableGauge,
    Observation,
)

from .. import semconv
from ..quality.alerts import AlertTracker, Group, Rule, Transition
from ..quality.encoding import ValueEncoder, as_array, as_float_array
from ..quality.scoring import (
    parity_differences,
    summarize_classification,
    summarize_regression,
)
from ..quality.store import PendingStore, id_keys
from ..quality.window import LabelledWindow, group_slices
from . import errors, sketches, state
from .otel import event_logger, instrument_set

__all__ = ["QualityMonitor"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Summary = dict[str, Any]

TASKS = ("binary", "multiclass", "regression")
MAX_SEGMENT_KEYS = 8
_SCORE_BOUNDS = np.array(semconv.MODEL_SCORE_BUCKETS)
_N_BUCKETS = len(semconv.MODEL_SCORE_BUCKETS) + 1

# metric -> (higher is better, default tolerance, tolerance is relative, proportion guard)
_ALERT_RULES: dict[str, tuple[bool, float, bool, bool]] = {
    "accuracy": (True, 0.05, False, True),
    "precision": (True, 0.05, False, False),
    "recall": (True, 0.05, False, False),
    "f1": (True, 0.05, False, False),
    "auc": (True, 0.05, False, False),
    "calibration_error": (False, 0.05, False, False),
    "low_confidence_share": (False, 0.05, False, False),
    "mae": (False, 0.2, True, False),
    "rmse": (False, 0.2, True, False),
}
_CLASSIFICATION_ALERTS = ("accuracy", "precision", "recall", "f1", "auc", "calibration_error",
                          "low_confidence_share")
_REGRESSION_ALERTS = ("mae", "rmse")

# summary key -> exported gauge name
_WINDOW_GAUGES: dict[str, str] = {
    "accuracy": semconv.MODEL_ACCURACY,
    "precision": semconv.MODEL_PRECISION,
    "recall": semconv.MODEL_RECALL,
    "f1": semconv.MODEL_F1,
    "auc": semconv.MODEL_AUC,
    "calibration_error": semconv.MODEL_CALIBRATION_ERROR,
    "low_confidence_share": semconv.MODEL_LOW_CONFIDENCE_SHARE,
    "positive_rate": semconv.MODEL_POSITIVE_RATE,
    "mae": semconv.MODEL_MAE,
    "rmse": semconv.MODEL_RMSE,
    "count": semconv.MODEL_WINDOW_ROWS,
    "label_delay_mean": semconv.MODEL_LABEL_DELAY_MEAN,
    "label_delay_p95": semconv.MODEL_LABEL_DELAY_P95,
    "label_coverage": semconv.MODEL_LABEL_COVERAGE,
}
_GAUGE_UNITS: dict[str, str] = {
    "count": "{prediction}", "label_delay_mean": "s", "label_delay_p95": "s",
    "mae": "", "rmse": "",
}

_MONITORS: weakref.WeakSet[QualityMonitor] = weakref.WeakSet()
_MONITORS_LOCK = threading.Lock()


def _live_monitors() -> list[QualityMonitor]:
    with _MONITORS_LOCK:
        return list(_MONITORS)


class QualityMonitor:
    """Model quality in production: per-window, per-segment metrics from delayed labels.

    ``task`` is ``"binary"`` (labels compared with ``positive_label``; ``scores`` are the
    positive-class probability), ``"multiclass"`` (any hashable labels; ``scores`` are the
    predicted class's confidence) or ``"regression"`` (``mae``/``rmse``).

    >>> import aiobs_otel as aiobs
    >>> quality = aiobs.QualityMonitor(name="fraud-model", task="binary", window_size=5_000,
    ...                                sensitive_segment="region")       # doctest: +SKIP
    >>> quality.record_predictions(ids, y_pred, scores=probs,
    ...                            segments={"region": regions})       # doctest: +SKIP
    >>> quality.record_labels(ids, y_true)                             # doctest: +SKIP
    >>> quality.metrics()["segments"]["region"]["eu"]["accuracy"]      # doctest: +SKIP
    0.93
    """

    def __init__(
        self,
        name: str,
        task: str = "binary",
        *,
        window_size: int = 5_000,
        max_pending: int = 1_000_000,
        label_ttl: float = 24 * 3600.0,
        sensitive_segment: str | None = None,
        max_segment_values: int = 20,
        min_samples: int = 50,
        positive_label: Any = 1,
        low_confidence: float = 0.6,
        calibration_bins: int = 10,
        alert_metrics: Sequence[str] | None = None,
        tolerance: float | Mapping[str, float] | None = None,
        thresholds: Mapping[str, float] | None = None,
        baseline_windows: int = 2,
        alert_after: int = 2,
        recover_after: int = 3,
        max_classes: int = 256,
        version: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("QualityMonitor needs a non-empty name")
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        for label, value in (("window_size", window_size), ("max_pending", max_pending),
                             ("max_segment_values", max_segment_values),
                             ("calibration_bins", calibration_bins),
                             ("baseline_windows", baseline_windows),
                             ("alert_after", alert_after), ("recover_after", recover_after),
                             ("max_classes", max_classes)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{label} must be a positive integer, got {value!r}")
        if not isinstance(min_samples, int) or min_samples < 0:
            raise ValueError(f"min_samples must be a non-negative integer, got {min_samples!r}")
        if not label_ttl > 0:
            raise ValueError(f"label_ttl must be a positive number of seconds, got {label_ttl!r}")
        if not 0.0 <= low_confidence <= 1.0:
            raise ValueError(f"low_confidence must be within [0, 1], got {low_confidence!r}")
        self.name = name
        self.task = task
        self.window_size = window_size
        self.max_pending = max_pending
        self.label_ttl = float(label_ttl)
        self.sensitive_segment = sensitive_segment
        self.max_segment_values = max_segment_values
        self.min_samples = min_samples
        self.positive_label = positive_label
        self.low_confidence = float(low_confidence)
        self.calibration_bins = calibration_bins
        self.version = version
        self._clock = clock
        self._binary = task == "binary"
        self._regression = task == "regression"
        self._rules = self._alert_rules(alert_metrics, tolerance, thresholds)
        self._alerts = AlertTracker(self._rules, min_samples=max(min_samples, 1),
                                    baseline_windows=baseline_windows, alert_after=alert_after,
                                    recover_after=recover_after)

        self._lock = threading.RLock()
        self._store = PendingStore(max_pending, self.label_ttl)
        self._window = LabelledWindow(window_size)
        self._classes = ValueEncoder(max_classes, semconv.OTHER_VALUE)
        self._segment_keys: list[str] = []
        self._encoders: list[ValueEncoder] = []
        self._predictions = 0
        self._joined = 0
        self._unknown = 0
        self._predictions_by: list[IntArray] = []
        self._joined_by: list[IntArray] = []
        self._score_export: dict[int, _ScoreWindow] = {}  # per metric reader, since its collect
        self._has_scores = False
        self._version = 0
        self._cache: tuple[int, Summary] | None = None
        self._base_attributes: dict[str, str] = {semconv.MODEL_NAME: name,
                                                 semconv.MODEL_TASK: task}
        if version is not None:
            self._base_attributes[semconv.MODEL_VERSION] = str(version)
        if sensitive_segment is not None:
            self._segment_index(sensitive_segment)
        with _MONITORS_LOCK:
            _MONITORS.add(self)
        if not self._regression:
            sketches.register(self)
        self._touch_instruments()

    # --- configuration ---------------------------------------------------------------------

    def _alert_rules(self, metrics: Sequence[str] | None,
                     tolerance: float | Mapping[str, float] | None,
                     thresholds: Mapping[str, float] | None) -> list[Rule]:
        allowed = _REGRESSION_ALERTS if self._regression else _CLASSIFICATION_ALERTS
        fixed = dict(thresholds or {})
        if metrics is None:
            chosen = ["mae"] if self._regression else ["accuracy"]
            chosen += [m for m in fixed if m not in chosen]
        else:
            chosen = list(metrics)
        for metric in [*chosen, *fixed]:
            if metric not in allowed:
                raise ValueError(f"cannot alert on {metric!r} for a {self.task} task; "
                                 f"choose from {', '.join(allowed)}")
        rules = []
        for metric in chosen:
            higher, default, relative, proportion = _ALERT_RULES[metric]
            if isinstance(tolerance, Mapping):
                margin = float(tolerance.get(metric, default))
            elif tolerance is not None:
                margin = float(tolerance)
            else:
                margin = default
            if margin < 0:
                raise ValueError(f"tolerance must be non-negative, got {margin!r}")
            rules.append(Rule(metric, higher, margin, relative, fixed.get(metric), proportion))
        return rules

    def _segment_index(self, key: str) -> int:
        try:
            return self._segment_keys.index(key)
        except ValueError:
            pass
        if len(self._segment_keys) >= MAX_SEGMENT_KEYS:
            raise ValueError(f"at most {MAX_SEGMENT_KEYS} segment keys per monitor")
        self._segment_keys.append(key)
        self._encoders.append(ValueEncoder(self.max_segment_values, semconv.OTHER_VALUE))
        size = self.max_segment_values + 1
        self._predictions_by.append(np.zeros(size, dtype=np.int64))
        self._joined_by.append(np.zeros(size, dtype=np.int64))
        self._store.add_segment_key()
        self._window.add_segment_key()
        return len(self._segment_keys) - 1

    @staticmethod
    def _touch_instruments() -> None:
        _instruments.get()  # (re)registers the observable callbacks on the current providers

    # --- inputs ------------------------------------------------------------------------------

    def _encode_labels(self, values: Any) -> FloatArray:
        if self._regression:
            return as_float_array(values)
        array = as_array(values)
        if self._binary:
            return np.asarray(array == self.positive_label, dtype=np.float64)
        return self._classes.encode(array).astype(np.float64)

    def _encode_segments(self, segments: Any, n: int) -> list[IntArray | None]:
        codes: list[IntArray | None] = [None] * MAX_SEGMENT_KEYS
        if segments is not None:
            for key in segments:
                column = segments[key]
                index = self._segment_index(str(key))
                found = self._encode_categorical(column, self._encoders[index])
                if found is None:
                    found = self._encoders[index].encode(as_array(column))
                if found.size != n:
                    raise ValueError(f"segment {key!r} has {found.size} values for {n} rows")
                codes[index] = found
        return codes[: len(self._segment_keys)]

    @staticmethod
    def _encode_categorical(column: Any, encoder: ValueEncoder) -> IntArray | None:
        """Fast path for a pandas categorical Series: encode its categories, not its rows."""
        accessor = getattr(column, "cat", None)
        if accessor is None:
            return None
        try:
            categories, row_codes = accessor.categories, accessor.codes
        except (AttributeError, TypeError):
            return None
        per_category = encoder.encode(np.asarray(list(categories), dtype=object))
        lookup = np.append(per_category, 0)  # code -1 (missing) -> the fold value
        return lookup[np.asarray(row_codes, dtype=np.int64)]

    def _scores(self, scores: Any, n: int) -> FloatArray:
        if scores is None or self._regression:
            return np.full(n, np.nan)
        values = as_float_array(scores)
        if values.size != n:
            raise ValueError(f"got {values.size} scores for {n} rows")
        self._has_scores = True
        return values

    def _count_predictions(self, n: int, score: FloatArray,
                           segments: list[IntArray | None]) -> None:
        self._predictions += n
        size = self.max_segment_values + 1
        for index, codes in enumerate(segments):
            if codes is not None:
                self._predictions_by[index] += np.bincount(codes, minlength=size)
        if self._regression or not self._has_scores:
            return
        readers = sketches.reader_keys()
        if not readers:
            return
        scored = ~np.isnan(score)
        if not scored.all():
            score = score[scored]
            segments = [None if c is None else c[scored] for c in segments]
        if score.size == 0:
            return
        batch = _ScoreWindow.of_batch(score, segments, size)
        for key in readers:
            held = self._score_export.get(key)
            if held is None:
                self._score_export[key] = batch.copy()
            else:
                held.add(batch)

    def drain_sketches(self, reader_key: int) -> list[sketches.SketchPoint]:
        """Score histograms for one metric reader: the predictions since its last collect."""
        with self._lock:
            held = self._score_export.pop(reader_key, None)
            if held is None:
                return []
            now = time.time_ns()
            bounds = list(semconv.MODEL_SCORE_BUCKETS)
            points = []
            groups: list[tuple[dict[str, str], _Scores, int]] = [
                (dict(self._base_attributes), held.overall, 0)]
            for index, key in enumerate(self._segment_keys[: len(held.by_segment)]):
                part = held.by_segment[index]
                for code in np.flatnonzero(part.counts.sum(axis=1)).tolist():
                    groups.append(({**self._base_attributes, semconv.MODEL_SEGMENT_KEY: key,
                                    semconv.MODEL_SEGMENT_VALUE:
                                        self._encoders[index].labels[code]}, part, code))
            for attributes, part, row in groups:
                if not part.counts[row].any():
                    continue
                points.append(sketches.SketchPoint(
                    semconv.MODEL_SCORE_DISTRIBUTION, "bins", attributes, held.start_ns, now,
                    (bounds, part.counts[row].tolist(), float(part.totals[row]),
                     float(part.lows[row]), float(part.highs[row]))))
            return points

    # --- public recording API ----------------------------------------------------------------

    def record_predictions(self, ids: Any, y_pred: Any, scores: Any = None,
                           segments: Mapping[str, Any] | None = None, *,
                           timestamp: float | None = None) -> None:
        """Record a batch of predictions at inference time, to be joined with labels by id.

        ``ids`` are integers or strings; ``segments`` maps a segment key (``"region"``) to one
        value per row. Arrays, lists and pandas Series are all accepted. ``timestamp`` (Unix
        seconds, default now) is the batch's prediction time, for replays of past traffic.

        >>> quality.record_predictions([101, 102], [1, 0], scores=[0.9, 0.2],
        ...                            segments={"region": ["eu", "us"]})  # doctest: +SKIP
        """
        if state.disabled:
            return
        with errors.guard("quality.record_predictions"):
            self._touch_instruments()
            keys = id_keys(ids)
            n = int(keys.size)
            with self._lock:
                prediction = self._encode_labels(y_pred)
                if prediction.size != n:
                    raise ValueError(f"got {prediction.size} predictions for {n} ids")
                score = self._scores(scores, n)
                codes = self._encode_segments(segments, n)
                now = self._clock() if timestamp is None else float(timestamp)
                self._store.add(keys, prediction, score, codes, now)
                self._count_predictions(n, score, codes)

    def record_labels(self, ids: Any, y_true: Any, *, timestamp: float | None = None) -> None:
        """Record ground truth for earlier predictions (any order, any delay within the TTL).

        ``timestamp`` (Unix seconds, default now) is when the labels became known; the label
        delay and the TTL are measured against it.

        Labels for ids that are unknown, already labelled or expired are counted
        (``aiobs.model.labels`` with ``aiobs.model.label.status=unknown``) and otherwise ignored.

        >>> quality.record_labels([102, 101], [0, 1])  # doctest: +SKIP
        """
        if state.disabled:
            return
        transitions: list[Transition] = []
        with errors.guard("quality.record_labels"):
            self._touch_instruments()
            keys = id_keys(ids)
            with self._lock:
                truth = self._encode_labels(y_true)
                if truth.size != keys.size:
                    raise ValueError(f"got {truth.size} labels for {keys.size} ids")
                now = self._clock() if timestamp is None else float(timestamp)
                joined = self._store.take(keys, now)
                self._unknown += int(keys.size - joined.label_index.size)
                delay = np.maximum(now - joined.timestamp, 0.0)
                transitions = self._add_labelled(truth[joined.label_index], joined.prediction,
                                                 joined.score, delay, list(joined.segments))
        self._emit(transitions)

    def record(self, y_true: Any, y_pred: Any, scores: Any = None,
               segments: Mapping[str, Any] | None = None) -> None:
        """Record predictions whose labels are already known (no id, no label delay).

        >>> quality.record([1, 0, 1], [1, 1, 1], scores=[0.8, 0.6, 0.9])  # doctest: +SKIP
        """
        if state.disabled:
            return
        transitions: list[Transition] = []
        with errors.guard("quality.record"):
            self._touch_instruments()
            with self._lock:
                truth = self._encode_labels(y_true)
                prediction = self._encode_labels(y_pred)
                n = int(prediction.size)
                if truth.size != n:
                    raise ValueError(f"got {truth.size} labels for {n} predictions")
                score = self._scores(scores, n)
                codes = self._encode_segments(segments, n)
                self._count_predictions(n, score, codes)
                transitions = self._add_labelled(truth, prediction, score, np.full(n, np.nan),
                                                 list(codes))
        self._emit(transitions)

    def _add_labelled(self, truth: FloatArray, prediction: FloatArray, score: FloatArray,
                      delay: FloatArray, segments: list[IntArray | None]) -> list[Transition]:
        n = int(truth.size)
        self._joined += n
        size = self.max_segment_values + 1
        for index, codes in enumerate(segments):
            if codes is not None:
                valid = codes[codes >= 0]
                self._joined_by[index] += np.bincount(valid, minlength=size)
        transitions: list[Transition] = []
        start = 0
        while start < n:
            stop = start + min(n - start, self._window.room)
            self._window.append(truth[start:stop], prediction[start:stop], score[start:stop],
                                delay[start:stop],
                                [None if c is None else c[start:stop] for c in segments])
            self._version += 1
            start = stop
            if self._window.total % self.window_size == 0:
                transitions += self._close_window()
        return transitions

    # --- window summaries ----------------------------------------------------------------------

    def _summarize(self, rows: IntArray | None, columns: tuple[FloatArray, ...]) -> Summary:
        y_true, y_pred, score, delay = columns
        if rows is not None:
            y_true, y_pred, score, delay = y_true[rows], y_pred[rows], score[rows], delay[rows]
        count = int(y_true.size)
        summary: Summary = {"count": count}
        if self._regression:
            values = summarize_regression(y_true, y_pred)
        else:
            truth, predicted = y_true.astype(np.int64), y_pred.astype(np.int64)
            values = summarize_classification(
                truth, predicted, n_classes=2 if self._binary else len(self._classes),
                binary=self._binary, scores=score if self._has_scores else None,
                low_confidence=self.low_confidence, bins=self.calibration_bins)
            if not self._has_scores:
                for key in ("auc", "calibration_error", "low_confidence_share"):
                    values.pop(key, None)
            if not self._binary:
                values.pop("positive_rate", None)
            else:
                summary["positives"] = int(np.count_nonzero(truth == 1))
        enough = count >= self.min_samples and count > 0
        for key, value in values.items():
            summary[key] = value if enough else None
        known = delay[~np.isnan(delay)]
        summary["label_delay_mean"] = float(known.mean()) if known.size else None
        summary["label_delay_p95"] = float(np.percentile(known, 95)) if known.size else None
        return summary

    def _compute(self) -> Summary:
        y_true, y_pred, score, delay, segments = self._window.rows()
        columns = (y_true, y_pred, score, delay)
        overall = self._summarize(None, columns)
        overall["label_coverage"] = (self._joined / self._predictions
                                     if self._predictions else None)
        by_segment: dict[str, dict[str, Summary]] = {}
        fairness: dict[str, dict[str, float | None]] = {}
        for index, key in enumerate(self._segment_keys):
            encoder = self._encoders[index]
            order, starts = group_slices(segments[index], len(encoder))
            groups: dict[str, Summary] = {}
            for code in range(len(encoder)):
                rows = order[starts[code]:starts[code + 1]]
                if rows.size == 0:
                    continue
                summary = self._summarize(rows, columns)
                predicted = int(self._predictions_by[index][code])
                summary["label_coverage"] = (int(self._joined_by[index][code]) / predicted
                                             if predicted else None)
                groups[encoder.labels[code]] = summary
            by_segment[key] = groups
            if key == self.sensitive_segment and self._binary:
                named = [g for label, g in groups.items() if label != semconv.OTHER_VALUE]
                parity, opportunity = parity_differences(
                    [g.get("positive_rate") for g in named], [g.get("recall") for g in named],
                    [g["count"] for g in named], [g.get("positives", 0) for g in named],
                    max(self.min_samples, 1))
                fairness[key] = {"demographic_parity_difference": parity,
                                 "equal_opportunity_difference": opportunity}
        return {"window": self._window.completed, "rows": overall["count"],
                "overall": overall, "segments": by_segment, "fairness": fairness}

    def _snapshot(self) -> Summary:
        """The window summary for the current window version (computed at most once)."""
        with self._lock:
            cached = self._cache
            if cached is not None and cached[0] == self._version:
                return cached[1]
            summary = self._compute()
            self._cache = (self._version, summary)
            return summary

    def _close_window(self) -> list[Transition]:
        window = self._window.completed
        changes: list[Transition] = []
        for group, values, count in self._alert_inputs():
            changes += self._alerts.update(window, group, values, count)
        return changes

    def _alert_inputs(self) -> Iterator[tuple[Group, Summary, int]]:
        """(group, values, rows) per group for the alert rules, computed as cheaply as possible.

        Accuracy, MAE and RMSE are computed for all groups at once with ``bincount``; any other
        alert metric needs the full window summary.
        """
        cheap = {"accuracy"} if not self._regression else {"mae", "rmse"}
        if any(rule.metric not in cheap for rule in self._rules):
            summary = self._snapshot()
            if not self._segment_keys:
                yield (None, None), summary["overall"], summary["overall"]["count"]
            for key, groups in summary["segments"].items():
                for value, values in groups.items():
                    yield (key, value), values, values["count"]
            return
        y_true, y_pred, _, _, segments = self._window.rows()
        if self._regression:
            error = y_pred - y_true
            columns = {"mae": np.abs(error), "rmse": error * error}
        else:
            columns = {"accuracy": (y_true == y_pred).astype(np.float64)}
        if not self._segment_keys:
            overall: Summary = {name: float(column.mean()) for name, column in columns.items()}
            if "rmse" in overall:
                overall["rmse"] = math.sqrt(overall["rmse"])
            yield (None, None), overall, int(y_true.size)
        for index, key in enumerate(self._segment_keys):
            codes = segments[index]
            valid = codes >= 0
            size = len(self._encoders[index])
            counts = np.bincount(codes[valid], minlength=size)
            sums = {name: np.bincount(codes[valid], weights=column[valid], minlength=size)
                    for name, column in columns.items()}
            labels = self._encoders[index].labels
            for code in np.flatnonzero(counts).tolist():
                count = int(counts[code])
                values = {name: float(total[code]) / count for name, total in sums.items()}
                if "rmse" in values:
                    values["rmse"] = math.sqrt(values["rmse"])
                yield (key, labels[code]), values, count

    # --- results -----------------------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        """The current window's values, overall and by segment (the numbers that are exported).

        ``{"window": completed windows, "rows": rows in the window, "overall": {...},
        "segments": {key: {value: {...}}}, "fairness": {key: {...}}, "predictions": n,
        "labels": {"joined": n, "unknown": n}, "pending": n,
        "expired": {"ttl": n, "capacity": n, "replaced": n}, "degraded": [...]}``.
        A metric is None while its group has fewer than ``min_samples`` rows.
        """
        with self._lock:
            result = copy.deepcopy(self._snapshot())
            result.update(
                name=self.name, task=self.task, predictions=self._predictions,
                labels={"joined": self._joined, "unknown": self._unknown},
                pending=self._store.pending,
                expired={"ttl": self._store.expired_ttl,
                         "capacity": self._store.expired_capacity,
                         "replaced": self._store.replaced},
                degraded=[{"metric": metric, "segment_key": group[0], "segment_value": group[1]}
                          for (metric, group), active in self._alerts.degraded().items()
                          if active],
            )
            return result

    def memory_bytes(self) -> int:
        """Bytes held in numpy buffers (pending store, hash table, window); bounded by config."""
        with self._lock:
            return self._store.nbytes + self._window.nbytes

    # --- telemetry ---------------------------------------------------------------------------

    def _attributes(self, group: Group) -> dict[str, str]:
        attributes = dict(self._base_attributes)
        if group[0] is not None:
            attributes[semconv.MODEL_SEGMENT_KEY] = group[0]
            attributes[semconv.MODEL_SEGMENT_VALUE] = str(group[1])
        return attributes

    def _groups(self) -> Iterator[tuple[Group, Summary]]:
        summary = self._snapshot()
        yield (None, None), summary["overall"]
        for key, groups in summary["segments"].items():
            for value, group in groups.items():
                yield (key, value), group

    def _observe_gauge(self, key: str) -> Iterator[Observation]:
        for group, values in self._groups():
            value = values.get(key)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                yield Observation(value, self._attributes(group))

    def _observe_fairness(self, key: str) -> Iterator[Observation]:
        for segment, values in self._snapshot()["fairness"].items():
            value = values.get(key)
            if value is not None:
                attributes = dict(self._base_attributes)
                attributes[semconv.MODEL_SEGMENT_KEY] = segment
                yield Observation(value, attributes)

    def _observe_counts(self, kind: str) -> Iterator[Observation]:
        with self._lock:
            if kind == "predictions":
                yield Observation(self._predictions, dict(self._base_attributes))
                yield from self._per_segment(self._predictions_by)
            elif kind == "labels":
                joined = {**self._base_attributes, semconv.MODEL_LABEL_STATUS: "joined"}
                unknown = {**self._base_attributes, semconv.MODEL_LABEL_STATUS: "unknown"}
                yield Observation(self._joined, joined)
                yield Observation(self._unknown, unknown)
                for observation in self._per_segment(self._joined_by):
                    attributes = dict(observation.attributes or {})
                    attributes[semconv.MODEL_LABEL_STATUS] = "joined"
                    yield Observation(observation.value, attributes)
            elif kind == "expired":
                for reason, value in (("ttl", self._store.expired_ttl),
                                      ("capacity", self._store.expired_capacity),
                                      ("replaced", self._store.replaced)):
                    yield Observation(value, {**self._base_attributes,
                                              semconv.MODEL_EXPIRY_REASON: reason})
            elif kind == "pending":
                yield Observation(self._store.pending, dict(self._base_attributes))

    def _per_segment(self, arrays: list[IntArray]) -> Iterator[Observation]:
        for index, key in enumerate(self._segment_keys):
            for code, label in enumerate(self._encoders[index].labels):
                count = int(arrays[index][code])
                if count:
                    yield Observation(count, {**self._base_attributes,
                                              semconv.MODEL_SEGMENT_KEY: key,
                                              semconv.MODEL_SEGMENT_VALUE: label})

    def _observe_degraded(self) -> Iterator[Observation]:
        with self._lock:
            for (metric, group), active in self._alerts.degraded().items():
                attributes = self._attributes(group)
                attributes[semconv.MODEL_METRIC] = metric
                yield Observation(1 if active else 0, attributes)

    def _emit(self, transitions: list[Transition]) -> None:
        if not transitions:
            return
        with errors.guard("quality.alert_event"):
            logger = event_logger()
            for change in transitions:
                attributes: dict[str, Any] = self._attributes(change.group)
                attributes.update({
                    semconv.MODEL_METRIC: change.metric,
                    semconv.MODEL_WINDOW: change.window,
                    semconv.MODEL_VALUE: change.value,
                    semconv.MODEL_REFERENCE: change.reference,
                    semconv.MODEL_MARGIN: change.margin,
                    semconv.MODEL_WINDOW_ROWS: change.count,
                })
                where = ("the whole window" if change.group[0] is None
                         else f"{change.group[0]}={change.group[1]}")
                degraded = change.kind == "degraded"
                body = (f"quality {'degraded' if degraded else 'recovered'}: {change.metric} "
                        f"{change.value:.4g} for {where} in window {change.window} of "
                        f"{self.name!r} (reference {change.reference:.4g}, "
                        f"margin {change.margin:.3g})")
                logger.emit(
                    event_name=(semconv.MODEL_QUALITY_DEGRADED_EVENT if degraded
                                else semconv.MODEL_QUALITY_RECOVERED_EVENT),
                    severity_number=SeverityNumber.WARN if degraded else SeverityNumber.INFO,
                    body=body, attributes=attributes,
                )


# --- observable instruments (one set per provider generation, reading every live monitor) ----


def _callback(observe: Callable[[QualityMonitor], Iterable[Observation]]
              ) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def collect(options: CallbackOptions) -> Iterable[Observation]:
        found: list[Observation] = []
        for monitor in _live_monitors():
            try:
                found.extend(observe(monitor))
            except Exception as exc:  # one bad monitor must not hide the rest
                errors.report("quality.collect", exc)
        return found

    return collect


def _window_gauge(key: str) -> Callable[[QualityMonitor], Iterable[Observation]]:
    return lambda monitor: monitor._observe_gauge(key)


def _fairness_gauge(key: str) -> Callable[[QualityMonitor], Iterable[Observation]]:
    return lambda monitor: monitor._observe_fairness(key)


def _counts(kind: str) -> Callable[[QualityMonitor], Iterable[Observation]]:
    return lambda monitor: monitor._observe_counts(kind)


def _hook_score_export() -> None:
    """Let the meter provider's readers carry the score histograms (as they do drift sketches)."""
    with errors.guard("quality.hook_export"):
        from ..setup.sketch_export import hook_meter_provider

        hook_meter_provider(state.STATE.meter_provider)


def _score_buckets(score: FloatArray) -> IntArray:
    """OTLP explicit-bucket index ``(b[i-1], b[i]]`` for the bounds 0.1..0.9.

    Equal to ``searchsorted(bounds, score, "left")`` (checked in the tests) at a third of its
    cost: a guess from ``ceil(10 * score)`` corrected by one comparison on each side.
    """
    last = _N_BUCKETS - 1
    guess = np.clip(np.ceil(score * _N_BUCKETS).astype(np.int64) - 1, 0, last)
    lower = np.r_[-np.inf, _SCORE_BOUNDS][guess]  # bound below the guessed bucket
    upper = np.r_[_SCORE_BOUNDS, np.inf][guess]  # bound above it
    guess -= score <= lower
    guess += score > upper
    return guess


@dataclass
class _Scores:
    """Score histogram rows (one per group): counts per bucket, sum, min, max."""

    counts: IntArray  # (groups, buckets)
    totals: FloatArray
    lows: FloatArray
    highs: FloatArray

    @classmethod
    def empty(cls, groups: int) -> _Scores:
        return cls(np.zeros((groups, _N_BUCKETS), dtype=np.int64), np.zeros(groups),
                   np.full(groups, np.inf), np.full(groups, -np.inf))

    @classmethod
    def of(cls, codes: IntArray, bucket: IntArray, score: FloatArray, groups: int) -> _Scores:
        counts = np.bincount(codes * _N_BUCKETS + bucket, minlength=groups * _N_BUCKETS)
        found = cls(counts.astype(np.int64).reshape(groups, _N_BUCKETS),
                    np.bincount(codes, weights=score, minlength=groups).astype(np.float64),
                    np.full(groups, np.inf), np.full(groups, -np.inf))
        np.minimum.at(found.lows, codes, score)
        np.maximum.at(found.highs, codes, score)
        return found

    def copy(self) -> _Scores:
        return _Scores(self.counts.copy(), self.totals.copy(), self.lows.copy(),
                       self.highs.copy())

    def add(self, other: _Scores) -> None:
        self.counts += other.counts
        self.totals += other.totals
        np.minimum(self.lows, other.lows, out=self.lows)
        np.maximum(self.highs, other.highs, out=self.highs)


@dataclass
class _ScoreWindow:
    """Scores since a reader's last collect: the whole stream (row 0) and each segment key."""

    start_ns: int
    overall: _Scores
    by_segment: list[_Scores]

    @classmethod
    def of_batch(cls, score: FloatArray, segments: list[IntArray | None],
                 size: int) -> _ScoreWindow:
        bucket = _score_buckets(score)
        overall = _Scores.of(np.zeros(score.size, dtype=np.int64), bucket, score, 1)
        by_segment = [_Scores.empty(size) if codes is None
                      else _Scores.of(codes, bucket, score, size) for codes in segments]
        return cls(time.time_ns(), overall, by_segment)

    def copy(self) -> _ScoreWindow:
        return _ScoreWindow(self.start_ns, self.overall.copy(),
                            [part.copy() for part in self.by_segment])

    def add(self, other: _ScoreWindow) -> None:
        self.overall.add(other.overall)
        for index, part in enumerate(other.by_segment):
            if index < len(self.by_segment):
                self.by_segment[index].add(part)
            else:
                self.by_segment.append(part.copy())


@dataclass(frozen=True)
class _MonitorInstruments:
    gauges: tuple[ObservableGauge, ...]
    counters: tuple[ObservableCounter, ...]


@instrument_set("quality.monitor")
def _instruments(m: Meter) -> _MonitorInstruments:
    _hook_score_export()
    gauges = [
        m.create_observable_gauge(
            name, callbacks=[_callback(_window_gauge(key))], unit=_GAUGE_UNITS.get(key, "1"),
            description=f"Model quality over the current window: {key.replace('_', ' ')}.",
        )
        for key, name in _WINDOW_GAUGES.items()
    ]
    gauges += [
        m.create_observable_gauge(
            semconv.MODEL_DEMOGRAPHIC_PARITY, unit="1",
            callbacks=[_callback(_fairness_gauge("demographic_parity_difference"))],
            description="Max minus min positive-prediction rate across sensitive groups.",
        ),
        m.create_observable_gauge(
            semconv.MODEL_EQUAL_OPPORTUNITY, unit="1",
            callbacks=[_callback(_fairness_gauge("equal_opportunity_difference"))],
            description="Max minus min true-positive rate across sensitive groups.",
        ),
        m.create_observable_gauge(
            semconv.MODEL_DEGRADED, unit="1",
            callbacks=[_callback(lambda monitor: monitor._observe_degraded())],
            description="1 while a quality-degradation alert is active for metric and segment.",
        ),
        m.create_observable_gauge(
            semconv.MODEL_PENDING, unit="{prediction}", callbacks=[_callback(_counts("pending"))],
            description="Predictions waiting for their label.",
        ),
    ]
    counters = (
        m.create_observable_counter(
            semconv.MODEL_PREDICTIONS, unit="{prediction}",
            callbacks=[_callback(_counts("predictions"))],
            description="Predictions recorded, overall and per segment value.",
        ),
        m.create_observable_counter(
            semconv.MODEL_LABELS, unit="{label}", callbacks=[_callback(_counts("labels"))],
            description="Labels received: joined to a prediction, or for an unknown id.",
        ),
        m.create_observable_counter(
            semconv.MODEL_EXPIRED, unit="{prediction}", callbacks=[_callback(_counts("expired"))],
            description="Predictions dropped before a label arrived (ttl, capacity, replaced).",
        ),
    )
    return _MonitorInstruments(tuple(gauges), counters)
