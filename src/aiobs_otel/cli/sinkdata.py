"""Reads the embedded sink's OTLP-JSON lines back into plain records for reports."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..setup.sink import signal_files

_log = logging.getLogger("aiobs_otel")


@dataclass(frozen=True)
class SpanRecord:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int  # 0 unset, 1 ok, 2 error
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9

    @property
    def is_error(self) -> bool:
        return self.status_code == 2


@dataclass(frozen=True)
class MetricPoint:
    name: str
    kind: str  # "sum" | "gauge" | "histogram" | "exponential_histogram"
    unit: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    time_ns: int
    value: float | None = None  # sum and gauge
    count: int = 0  # histograms
    total: float = 0.0
    bounds: tuple[float, ...] = ()
    bucket_counts: tuple[int, ...] = ()
    monotonic: bool = False
    cumulative: bool = True

    @property
    def stream(self) -> tuple[Any, ...]:
        """Identity of the time series this point belongs to."""
        return (self.name, _freeze(self.resource), _freeze(self.attributes))


@dataclass(frozen=True)
class LogEntry:
    event_name: str
    body: Any
    attributes: dict[str, Any]
    resource: dict[str, Any]
    time_ns: int
    severity: int
    trace_id: str
    span_id: str


@dataclass
class SinkData:
    directory: Path
    spans: list[SpanRecord] = field(default_factory=list)
    metrics: list[MetricPoint] = field(default_factory=list)
    logs: list[LogEntry] = field(default_factory=list)
    bad_lines: int = 0

    def latest_points(self, name: str) -> list[MetricPoint]:
        """The newest point of each time series of metric ``name``."""
        latest: dict[tuple[Any, ...], MetricPoint] = {}
        for point in self.metrics:
            if point.name == name:
                current = latest.get(point.stream)
                if current is None or point.time_ns >= current.time_ns:
                    latest[point.stream] = point
        return list(latest.values())

    def metric_names(self) -> list[str]:
        return sorted({p.name for p in self.metrics})


def _freeze(mapping: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in mapping.items()))


def any_value(value: dict[str, Any]) -> Any:
    """Decode an OTLP/JSON AnyValue."""
    if not value:
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {kv["key"]: any_value(kv.get("value", {})) for kv in items or []}


def _lines(directory: Path, signal: str) -> Iterator[dict[str, Any]]:
    for path in signal_files(directory, signal):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    yield {"__bad__": True}


def load(directory: str | Path) -> SinkData:
    """Read every signal file in ``directory`` (rotated ones included, oldest first)."""
    data = SinkData(Path(directory))
    for request in _lines(data.directory, "traces"):
        if "__bad__" in request:
            data.bad_lines += 1
            continue
        for rs in request.get("resourceSpans", []):
            resource = attributes(rs.get("resource", {}).get("attributes"))
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    data.spans.append(SpanRecord(
                        name=s.get("name", ""),
                        trace_id=s.get("traceId", ""),
                        span_id=s.get("spanId", ""),
                        parent_span_id=s.get("parentSpanId", ""),
                        kind=int(s.get("kind", 0)),
                        start_ns=int(s.get("startTimeUnixNano", 0)),
                        end_ns=int(s.get("endTimeUnixNano", 0)),
                        status_code=int(s.get("status", {}).get("code", 0)),
                        attributes=attributes(s.get("attributes")),
                        resource=resource,
                        events=[{"name": e.get("name", ""),
                                 "attributes": attributes(e.get("attributes"))}
                                for e in s.get("events", [])],
                    ))
    for request in _lines(data.directory, "metrics"):
        if "__bad__" in request:
            data.bad_lines += 1
            continue
        for rm in request.get("resourceMetrics", []):
            resource = attributes(rm.get("resource", {}).get("attributes"))
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    data.metrics.extend(_metric_points(m, resource))
    for request in _lines(data.directory, "logs"):
        if "__bad__" in request:
            data.bad_lines += 1
            continue
        for rl in request.get("resourceLogs", []):
            resource = attributes(rl.get("resource", {}).get("attributes"))
            for sl in rl.get("scopeLogs", []):
                for r in sl.get("logRecords", []):
                    data.logs.append(LogEntry(
                        event_name=r.get("eventName", ""),
                        body=any_value(r.get("body", {})),
                        attributes=attributes(r.get("attributes")),
                        resource=resource,
                        time_ns=int(r.get("timeUnixNano") or r.get("observedTimeUnixNano") or 0),
                        severity=int(r.get("severityNumber", 0)),
                        trace_id=r.get("traceId", ""),
                        span_id=r.get("spanId", ""),
                    ))
    return data


def _number(point: dict[str, Any]) -> float | None:
    if "asDouble" in point:
        return float(point["asDouble"])
    if "asInt" in point:
        return float(int(point["asInt"]))
    return None


def _metric_points(metric: dict[str, Any], resource: dict[str, Any]) -> Iterator[MetricPoint]:
    name, unit = metric.get("name", ""), metric.get("unit", "")
    for kind, key in (("sum", "sum"), ("gauge", "gauge"), ("histogram", "histogram"),
                      ("exponential_histogram", "exponentialHistogram")):
        body = metric.get(key)
        if body is None:
            continue
        cumulative = int(body.get("aggregationTemporality", 2)) != 1
        for p in body.get("dataPoints", []):
            common: dict[str, Any] = {
                "name": name, "kind": kind, "unit": unit, "resource": resource,
                "attributes": attributes(p.get("attributes")),
                "time_ns": int(p.get("timeUnixNano", 0)), "cumulative": cumulative,
            }
            if kind in ("sum", "gauge"):
                yield MetricPoint(value=_number(p), monotonic=bool(body.get("isMonotonic")),
                                  **common)
            elif kind == "histogram":
                yield MetricPoint(
                    count=int(p.get("count", 0)), total=float(p.get("sum", 0.0)),
                    bounds=tuple(float(b) for b in p.get("explicitBounds", [])),
                    bucket_counts=tuple(int(c) for c in p.get("bucketCounts", [])), **common,
                )
            else:
                yield MetricPoint(count=int(p.get("count", 0)), total=float(p.get("sum", 0.0)),
                                  **common)
