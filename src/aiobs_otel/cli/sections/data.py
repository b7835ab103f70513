"""``aiobs-otel report`` section: pipeline stages (runs, records, failures) and drift status."""

from __future__ import annotations

from collections import defaultdict

from ... import semconv as sc
from ..report import percentile, table
from ..sinkdata import MetricPoint, SinkData

TITLE = "Data pipelines and drift"
ORDER = 50
_STATUS_NAMES = {code: name for name, code in sc.DRIFT_STATUS_CODES.items()}


def _latest_per_stream(points: list[MetricPoint]) -> list[MetricPoint]:
    """Cumulative streams: the newest point of each; delta points are all kept."""
    latest: dict[tuple[object, ...], MetricPoint] = {}
    kept: list[MetricPoint] = []
    for point in points:
        if not point.cumulative:
            kept.append(point)
            continue
        held = latest.get(point.stream)
        if held is None or point.time_ns >= held.time_ns:
            latest[point.stream] = point
    return kept + list(latest.values())


def _totals(data: SinkData, name: str) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    points = [p for p in data.metrics if p.name == name]
    for point in _latest_per_stream(points):
        stage = str(point.attributes.get(sc.DATA_STAGE, "?"))
        totals[stage] += float(point.value or 0.0)
    return totals


def _stages(data: SinkData) -> list[str]:
    prefix = sc.SPAN_PIPELINE_STAGE + " "
    runs: dict[str, list[float]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for span in data.spans:
        if span.name.startswith(prefix):
            stage = str(span.attributes.get(sc.DATA_STAGE, span.name[len(prefix):]))
            runs[stage].append(span.duration_s * 1000)
            failed[stage] += int(span.is_error)
    records_in = _totals(data, sc.DATA_RECORDS_IN)
    records_out = _totals(data, sc.DATA_RECORDS_OUT)
    dropped = _totals(data, sc.DATA_RECORDS_DROPPED)
    schema_changes: dict[str, int] = defaultdict(int)
    for log in data.logs:
        if log.event_name == sc.EVENT_SCHEMA_CHANGE:
            schema_changes[str(log.attributes.get(sc.DATA_STAGE, "?"))] += 1
    names = sorted(set(runs) | set(records_in) | set(records_out))
    if not names:
        return []
    rows = [[name, len(runs.get(name, [])), int(records_in.get(name, 0)),
             int(records_out.get(name, 0)), int(dropped.get(name, 0)), failed.get(name, 0),
             schema_changes.get(name, 0), round(percentile(runs.get(name, []), 50), 1)]
            for name in names]
    return table(["stage", "runs", "records in", "records out", "dropped", "failures",
                  "schema changes", "p50 ms"], rows)


def _drift(data: SinkData) -> list[str]:
    latest: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    times: dict[tuple[str, str, str], int] = {}
    for point in data.metrics:
        if point.name not in (sc.DRIFT_SCORE, sc.DRIFT_STATUS) or point.value is None:
            continue
        key = (str(point.attributes.get(sc.DRIFT_MONITOR, "?")),
               str(point.attributes.get(sc.DRIFT_FEATURE, "?")))
        method = (str(point.attributes.get(sc.DRIFT_METHOD))
                  if point.name == sc.DRIFT_SCORE else "status")
        stamp = times.get((*key, method), -1)
        if point.time_ns >= stamp:
            times[(*key, method)] = point.time_ns
            latest[key][method] = float(point.value)
    if not latest:
        return []
    rows = []
    for (monitor, feature), scores in sorted(latest.items()):
        status = _STATUS_NAMES.get(int(scores.get("status", -1)), "?")
        rows.append([f"{monitor}/{feature}", status,
                     *(scores.get(m, float("nan")) for m in ("psi", "ks", "js", "wasserstein"))])
    lines = table(["feature", "status", "psi", "ks", "js", "wasserstein"], rows)
    alerts = sum(1 for log in data.logs if log.event_name == sc.EVENT_DRIFT_DETECTED)
    if alerts:
        lines.append(f"  drift alerts: {alerts}")
    return lines


def render(data: SinkData) -> list[str]:
    """Stage table (runs, records, drops, failures) and the latest drift score per feature."""
    stages = _stages(data)
    drift = _drift(data)
    if stages and drift:
        return [*stages, "", *drift]
    return stages or drift
