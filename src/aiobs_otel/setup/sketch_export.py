"""Carry drift sketches to any metric reader as OTLP ExponentialHistogram / Histogram points.

Why not an SDK instrument: the Python SDK aggregates one ``record()`` call per value (about
0.2 M values/s, measured) and has no batch API and no MetricProducer, so a sketch updated at
150 M values/s in numpy cannot go through an instrument, and observable callbacks only produce
gauges and sums. Instead each metric reader of the meter provider in use gets a thin wrapper
around ``_receive_metrics`` (the hook the SDK documents for reader subclasses): whatever the
reader collected is passed on with the closed windows' sketches appended, as DELTA points
(each window goes to each reader exactly once). Any exporter (OTLP, console, the local sink,
an in-memory reader) then carries real ExponentialHistogram points that backends merge across
replicas and time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from .. import __version__, semconv
from .._core import errors, sketches

_MARK = "_aiobs_sketch_hook"
_DESCRIPTIONS = {
    semconv.DRIFT_DISTRIBUTION: "Distribution of a monitored numeric feature (mergeable).",
    semconv.DRIFT_REFERENCE_BINS: "Feature counts in the reference's bins (PSI bins or "
                                  "category codes).",
}


def hook_meter_provider(provider: Any) -> int:
    """Wrap every reader of an SDK meter provider; returns how many readers carry sketches."""
    readers = _readers_of(provider)
    for reader in readers:
        if not getattr(reader, _MARK, False):
            _wrap(reader)
    keys = {id(reader) for reader in readers}
    sketches.keep_only(keys)
    for key in keys:
        sketches.add_reader(key)
    return len(readers)


def _readers_of(provider: Any) -> list[Any]:
    consumer = getattr(provider, "_measurement_consumer", None)
    storages = getattr(consumer, "_reader_storages", None)
    if isinstance(storages, dict) and storages:
        return list(storages)
    return list(getattr(provider, "_metric_readers", ()) or ())


def _wrap(reader: Any) -> None:
    receive = reader._receive_metrics
    key = id(reader)

    def receive_with_sketches(metrics_data: MetricsData, *args: Any, **kwargs: Any) -> None:
        try:
            points = sketches.drain(key)
            if points:
                metrics_data = with_points(metrics_data, points, reader)
        except Exception as exc:
            errors.report("drift.export", exc)
        receive(metrics_data, *args, **kwargs)

    reader._receive_metrics = receive_with_sketches
    setattr(reader, _MARK, True)


def with_points(data: MetricsData | None, points: Sequence[sketches.SketchPoint],
                reader: Any = None) -> MetricsData:
    """``data`` with the sketch points appended under the library's scope."""
    metrics = _metrics(points)
    resource_metrics = list(data.resource_metrics) if data is not None else []
    scope = InstrumentationScope(semconv.SCOPE_NAME, __version__)
    if resource_metrics:
        first = resource_metrics[0]
        scopes = list(first.scope_metrics)
        for i, sm in enumerate(scopes):
            if sm.scope.name == semconv.SCOPE_NAME:
                scopes[i] = ScopeMetrics(sm.scope, [*sm.metrics, *metrics], sm.schema_url)
                break
        else:
            scopes.append(ScopeMetrics(scope, metrics, ""))
        resource_metrics[0] = ResourceMetrics(first.resource, scopes, first.schema_url)
    else:
        resource = _resource_of(reader)
        resource_metrics = [ResourceMetrics(resource, [ScopeMetrics(scope, metrics, "")], "")]
    return MetricsData(resource_metrics)


def _resource_of(reader: Any) -> Any:
    from opentelemetry.sdk.resources import Resource

    provider = getattr(reader, "_meter_provider", None) or getattr(
        getattr(reader, "_metrics", None), "_meter_provider", None)
    config = getattr(provider, "_sdk_config", None)
    return getattr(config, "resource", None) or Resource.create({})


def _metrics(points: Sequence[sketches.SketchPoint]) -> list[Metric]:
    by_name: dict[str, list[Any]] = {}
    for p in points:
        by_name.setdefault(p.metric, []).append(_data_point(p))
    out: list[Metric] = []
    for name, dps in by_name.items():
        if isinstance(dps[0], ExponentialHistogramDataPoint):
            data: Any = ExponentialHistogram(dps, AggregationTemporality.DELTA)
        else:
            data = Histogram(dps, AggregationTemporality.DELTA)
        out.append(Metric(name, _DESCRIPTIONS.get(name, ""), "1", data))
    return out


def _data_point(p: sketches.SketchPoint) -> Any:
    if p.kind == "exponential":
        h = p.sketch
        pos_offset, pos_counts = h.buckets(1)
        neg_offset, neg_counts = h.buckets(-1)
        return ExponentialHistogramDataPoint(
            attributes=p.attributes, start_time_unix_nano=p.start_ns, time_unix_nano=p.end_ns,
            count=int(h.count), sum=float(h.sum), scale=int(h.scale),
            zero_count=int(h.zero_count),
            positive=Buckets(int(pos_offset), [int(c) for c in pos_counts]),
            negative=Buckets(int(neg_offset), [int(c) for c in neg_counts]),
            flags=0, min=_finite(h.min), max=_finite(h.max),
        )
    bounds, counts, total, lo, hi = p.sketch
    return HistogramDataPoint(
        attributes=p.attributes, start_time_unix_nano=p.start_ns, time_unix_nano=p.end_ns,
        count=int(sum(counts)), sum=float(total), bucket_counts=[int(c) for c in counts],
        explicit_bounds=[float(b) for b in bounds], min=_finite(lo), max=_finite(hi),
    )


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0
