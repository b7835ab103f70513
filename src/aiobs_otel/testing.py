"""Test helpers: capture everything the library emits in memory, without touching globals.

>>> from aiobs_otel.testing import capture
>>> with capture() as telemetry:  # doctest: +SKIP
...     run_my_code()
...     assert telemetry.spans()[0].name == "chat gpt-4o-mini"

A pytest fixture, ``aiobs_capture``, does the same per test (``from aiobs_otel.testing import
aiobs_capture`` in a ``conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ._core import state
from .config import Settings, load_settings

__all__ = ["Capture", "MetricData", "aiobs_capture", "capture"]


@dataclass(frozen=True)
class MetricData:
    """One data point of one metric, flattened for assertions."""

    name: str
    unit: str
    attributes: dict[str, Any]
    point: Any  # the SDK data point (NumberDataPoint, HistogramDataPoint, ...)
    instrument_kind: str

    @property
    def value(self) -> Any:
        return getattr(self.point, "value", None)

    @property
    def count(self) -> int:
        return int(getattr(self.point, "count", 0))

    @property
    def sum(self) -> float:
        return float(getattr(self.point, "sum", 0.0))


class Capture:
    """In-memory tracer, meter and logger providers that the library records into."""

    def __init__(self, resource: Resource | None = None) -> None:
        resource = resource or Resource.create({"service.name": "aiobs-test"})
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(
            resource=resource, metric_readers=[self.metric_reader], shutdown_on_exit=False
        )
        self.log_exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """Finished spans, oldest first (optionally only those called ``name``)."""
        spans = list(self.span_exporter.get_finished_spans())
        return [s for s in spans if name is None or s.name == name]

    def metrics(self, name: str | None = None) -> list[MetricData]:
        """Every data point collected now (cumulative), optionally for one metric name."""
        data = self.metric_reader.get_metrics_data()
        found: list[MetricData] = []
        if data is None:
            return found
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if name is not None and metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        found.append(MetricData(
                            metric.name, metric.unit or "", dict(point.attributes or {}), point,
                            type(metric.data).__name__,
                        ))
        return found

    def logs(self, event_name: str | None = None) -> list[ReadableLogRecord]:
        """Emitted log records (events), optionally only those with ``event_name``."""
        records = list(self.log_exporter.get_finished_logs())
        return [r for r in records
                if event_name is None or r.log_record.event_name == event_name]

    def clear(self) -> None:
        self.span_exporter.clear()
        self.log_exporter.clear()


@contextmanager
def capture(settings: Settings | None = None, **options: Any) -> Iterator[Capture]:
    """Route the library's telemetry into a fresh :class:`Capture` for the block's duration.

    ``options`` are settings (as for ``configure()``) applied for the block; strict mode is on
    unless ``strict=False`` is passed.
    """
    options.setdefault("strict", True)
    telemetry = Capture()
    with state.STATE.lock:
        saved = (state.STATE.settings, state.STATE.configured, state.STATE.tracer_provider,
                 state.STATE.meter_provider, state.STATE.logger_provider,
                 state.STATE.owns_providers)
        state._apply_settings(settings or load_settings(**options))
        state.STATE.configured = True
        state.STATE.owns_providers = False
        state.set_providers(telemetry.tracer_provider, telemetry.meter_provider,
                            telemetry.logger_provider)
    try:
        yield telemetry
    finally:
        with state.STATE.lock:
            (settings_, configured, tp, mp, lp, owns) = saved
            if settings_ is None:
                state.STATE.settings = None
                state.disabled = False
            else:
                state._apply_settings(settings_)
            state.STATE.configured = configured
            state.STATE.owns_providers = owns
            state.set_providers(tp, mp, lp)
        telemetry.tracer_provider.shutdown()
        telemetry.meter_provider.shutdown()
        telemetry.logger_provider.shutdown()


try:  # the fixture exists only where pytest does
    import pytest

    @pytest.fixture
    def aiobs_capture() -> Iterator[Capture]:
        """A :class:`Capture` active for one test, strict mode on."""
        with capture() as telemetry:
            yield telemetry

except ImportError:  # pragma: no cover
    pass
