"""``aiobs-otel report`` section: training runs, step time, data-wait share, loss, anomalies."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from ... import semconv
from ..report import percentile, table
from ..sinkdata import MetricPoint, SinkData

TITLE = "Training"
ORDER = 50


def _histogram_quantile(points: list[MetricPoint], q: float) -> float:
    """Estimate the q-quantile (0-1) from merged explicit-bucket histogram points."""
    if not points:
        return math.nan
    bounds = points[0].bounds
    counts = [0] * (len(bounds) + 1)
    for point in points:
        if point.bounds != bounds:
            continue
        for index, count in enumerate(point.bucket_counts):
            counts[index] += count
    total = sum(counts)
    if total == 0:
        return math.nan
    target = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= target:
            low = bounds[index - 1] if index > 0 else 0.0
            high = bounds[index] if index < len(bounds) else (bounds[-1] if bounds else low)
            return low + (high - low) * (target - seen) / count
        seen += count
    return bounds[-1] if bounds else math.nan


def _latest(data: SinkData, name: str) -> list[MetricPoint]:
    points = data.latest_points(name)
    if points and not points[0].cumulative:  # delta temporality: every point counts
        points = [p for p in data.metrics if p.name == name]
    return points


def _by_run(points: list[MetricPoint]) -> dict[str, float]:
    found: dict[str, float] = defaultdict(float)
    for point in points:
        if point.value is not None:
            found[str(point.attributes.get(semconv.TRAINING_RUN_NAME, "?"))] += point.value
    return found


def render(data: SinkData) -> list[str]:
    runs = [s for s in data.spans if s.name.startswith(semconv.TRAINING_RUN_SPAN + " ")]
    step_points = _latest(data, semconv.TRAINING_STEP_DURATION)
    if not runs and not step_points:
        return []
    lines: list[str] = []
    steps_by_run = _by_run(_latest(data, semconv.TRAINING_STEP_COUNT))
    loss_by_run: dict[str, float] = {}
    for point in _latest(data, semconv.TRAINING_LOSS):
        if point.value is not None:
            loss_by_run[str(point.attributes.get(semconv.TRAINING_RUN_NAME, "?"))] = point.value
    anomalies: dict[tuple[str, str], float] = defaultdict(float)
    for point in _latest(data, semconv.TRAINING_ANOMALIES):
        key = (str(point.attributes.get(semconv.TRAINING_RUN_NAME, "?")),
               str(point.attributes.get(semconv.TRAINING_ANOMALY_KIND, "?")))
        anomalies[key] += point.value or 0.0
    rows: list[list[Any]] = []
    names = sorted({str(s.attributes.get(semconv.TRAINING_RUN_NAME, "?")) for s in runs}
                   | set(steps_by_run))
    for name in names:
        spans = [s for s in runs if s.attributes.get(semconv.TRAINING_RUN_NAME) == name]
        run_anomalies = sum(v for (run, _), v in anomalies.items() if run == name)
        rows.append([name, len(spans) or "-", int(steps_by_run.get(name, 0)),
                     loss_by_run.get(name, math.nan), int(run_anomalies)])
    lines += table(["run", "runs", "steps", "last loss", "anomalies"], rows)
    if step_points:
        step_sum = sum(p.total for p in step_points)
        wait_points = _latest(data, semconv.TRAINING_DATA_WAIT_DURATION)
        wait_sum = sum(p.total for p in wait_points)
        share = 100.0 * wait_sum / (wait_sum + step_sum) if wait_sum + step_sum > 0 else math.nan
        step_spans = [s.duration_s for s in data.spans if s.name == semconv.TRAINING_STEP_SPAN]
        p50 = _histogram_quantile(step_points, 0.50) * 1000
        p95 = _histogram_quantile(step_points, 0.95) * 1000
        if len(step_spans) >= 20:  # exact figures from the sampled step spans
            p50 = percentile([d * 1000 for d in step_spans], 50)
            p95 = percentile([d * 1000 for d in step_spans], 95)
        lines.append("")
        lines += table(["steps", "step p50 ms", "step p95 ms", "data wait share"],
                       [[sum(p.count for p in step_points), p50, p95, f"{share:.1f}%"]])
    if anomalies:
        lines.append("")
        lines += table(["run", "anomaly", "count"],
                       [[run, kind, int(v)] for (run, kind), v in sorted(anomalies.items())])
    return lines
