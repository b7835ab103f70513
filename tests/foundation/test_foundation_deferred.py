"""Deferred histograms and counters: appended on the caller's thread, recorded at collection."""

from __future__ import annotations

import gc
import json
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider

import aiobs_otel as aiobs
from aiobs_otel import semconv
from aiobs_otel._core import deferred, genai, state
from aiobs_otel._core.deferred import (
    NO_EXEMPLAR,
    DeferredHistogram,
    deferred_counter,
    deferred_histogram,
)

DELTA = {Histogram: AggregationTemporality.DELTA, Counter: AggregationTemporality.DELTA}


class _KeepExports(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.exported: list[Any] = []

    def export(self, metrics_data: Any, timeout_millis: float = 10_000,
               **kwargs: Any) -> MetricExportResult:
        self.exported.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def _points(data: Any, name: str) -> list[Any]:
    found = []
    if data is None:
        return found
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


@pytest.fixture
def delta_reader() -> Iterator[tuple[InMemoryMetricReader, Any]]:
    reader = InMemoryMetricReader(preferred_temporality=DELTA)
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    yield reader, provider.get_meter("deferred-test")
    provider.shutdown()


def test_values_recorded_before_a_collection_appear_in_it_exactly_once(delta_reader):
    reader, meter = delta_reader
    latency = deferred_histogram(meter, "t.latency", unit="s")
    calls = deferred_counter(meter, "t.calls", unit="{call}")
    for value in (0.5, 1.5, 2.0):
        latency.record(value, {"route": "/chat"})
        calls.add(1, {"route": "/chat"})
    assert latency.pending == 3  # nothing reached the SDK yet

    first = reader.get_metrics_data()
    [point] = _points(first, "t.latency")
    assert (point.count, point.sum, point.attributes) == (3, 4.0, {"route": "/chat"})
    assert _points(first, "t.calls")[0].value == 3
    assert latency.pending == 0
    # delta temporality: a second collection with nothing new reports nothing, never twice
    assert not [p for p in _points(reader.get_metrics_data(), "t.latency") if p.count]

    latency.record(4.0, {"route": "/chat"})
    [point] = _points(reader.get_metrics_data(), "t.latency")
    assert (point.count, point.sum) == (1, 4.0)


def test_capture_metrics_sees_deferred_values(aiobs_capture):
    meter = aiobs_capture.meter_provider.get_meter("deferred-test")
    histogram = deferred_histogram(meter, "t.capture", unit="s")
    histogram.record(0.25, {"k": "v"})
    [point] = aiobs_capture.metrics("t.capture")
    assert (point.count, point.sum) == (1, 0.25)


def test_series_is_iterated_at_collection_with_no_exemplars(delta_reader):
    reader, meter = delta_reader
    gaps = deferred_histogram(meter, "t.gaps", unit="s")
    evaluated = []

    def lazy() -> Iterator[float]:
        for value in (0.1, 0.2, 0.3):
            evaluated.append(value)
            yield value

    gaps.record_series(lazy(), {"k": "v"}, NO_EXEMPLAR)
    assert evaluated == []  # the caller paid one append
    [point] = _points(reader.get_metrics_data(), "t.gaps")
    assert point.count == 3 and point.sum == pytest.approx(0.6)
    assert evaluated == [0.1, 0.2, 0.3]
    assert not point.exemplars


@pytest.mark.parametrize("how", ["shutdown", "force_flush"])
def test_values_recorded_before_shutdown_or_force_flush_are_exported(how):
    exporter = _KeepExports()
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    histogram = deferred_histogram(provider.get_meter("deferred-test"), "t.final", unit="s")
    for _ in range(5):
        histogram.record(1.0, {"k": "v"})
    if how == "shutdown":
        provider.shutdown()
    else:
        provider.force_flush()
    points = [p for data in exporter.exported for p in _points(data, "t.final")]
    assert points and points[-1].count == 5 and points[-1].sum == 5.0
    if how == "force_flush":
        provider.shutdown()


@pytest.mark.parametrize("how", ["shutdown", "force_flush"])
def test_library_shutdown_and_force_flush_export_pending_genai_values(fresh_state, tmp_path,
                                                                      monkeypatch, how):
    sink = tmp_path / "sink"
    monkeypatch.setenv("AIOBS_SINK_DIR", str(sink))
    aiobs.configure(service_name="deferred-test", metric_export_interval_ms=3_600_000)
    with aiobs.llm_call(provider="openai", model="gpt-4o-mini") as call:
        call.record_usage(input_tokens=10, output_tokens=2)
    assert (aiobs.shutdown() if how == "shutdown" else aiobs.force_flush())
    names = set()
    for line in (Path(sink) / "metrics.jsonl").read_text().splitlines():
        for rm in json.loads(line).get("resourceMetrics", []):
            for sm in rm.get("scopeMetrics", []):
                names.update(m["name"] for m in sm.get("metrics", []))
    assert semconv.GEN_AI_CLIENT_OPERATION_DURATION in names
    assert semconv.GEN_AI_CLIENT_TOKEN_USAGE in names


def test_drain_all_is_a_shutdown_callback_and_records_everything(delta_reader):
    reader, meter = delta_reader
    histogram = deferred_histogram(meter, "t.drain_all", unit="s")
    assert deferred.drain_all in state.STATE.shutdown_callbacks
    histogram.record(2.0, {"k": "v"})
    deferred.drain_all()
    assert histogram.pending == 0
    [point] = _points(reader.get_metrics_data(), "t.drain_all")
    assert (point.count, point.sum) == (1, 2.0)


def test_a_full_buffer_drains_on_the_caller_thread_bounded_and_lossless(delta_reader):
    reader, meter = delta_reader
    histogram = deferred_histogram(meter, "t.full", unit="s", capacity=8)
    most_waiting = 0
    for i in range(100):
        histogram.record(float(i), {"k": "v"})
        most_waiting = max(most_waiting, histogram.pending)
    assert most_waiting == 8  # bounded memory
    assert histogram.overflowed == 92  # the caller recorded the excess itself
    data = reader.get_metrics_data()
    [point] = _points(data, "t.full")
    assert point.count == 100 and point.sum == sum(range(100))  # nothing lost, nothing twice
    [overflow] = _points(data, semconv.SDK_DEFERRED_OVERFLOW)
    assert overflow.value == 92


def test_concurrent_recording_from_16_threads_gives_exact_sums(delta_reader):
    reader, meter = delta_reader
    histogram = deferred_histogram(meter, "t.threads", unit="s", capacity=64)
    counter = deferred_counter(meter, "t.threads.count", capacity=64)
    per_thread, threads = 2000, 16
    start = threading.Barrier(threads + 1)
    done = threading.Event()
    totals = {"count": 0, "sum": 0.0, "adds": 0}

    def record(index: int) -> None:
        start.wait()
        attrs = {"t": index % 4}
        for i in range(per_thread):
            histogram.record(1.0 + (i % 3), attrs)
            counter.add(2, attrs)

    def collect(final: bool = False) -> None:
        data = reader.get_metrics_data()
        for p in _points(data, "t.threads"):
            totals["count"] += p.count
            totals["sum"] += p.sum
        for p in _points(data, "t.threads.count"):
            totals["adds"] += p.value

    def collector() -> None:
        start.wait()
        while not done.is_set():
            collect()

    workers = [threading.Thread(target=record, args=(i,)) for i in range(threads)]
    reader_thread = threading.Thread(target=collector)
    for thread in [*workers, reader_thread]:
        thread.start()
    for thread in workers:
        thread.join()
    done.set()
    reader_thread.join()
    collect()
    expected_sum = threads * sum(1.0 + (i % 3) for i in range(per_thread))
    assert totals["count"] == threads * per_thread
    assert totals["sum"] == expected_sum
    assert totals["adds"] == threads * per_thread * 2


def test_exemplars_point_at_the_span_given_or_current(delta_reader):
    reader, meter = delta_reader
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("deferred-test")
    histogram = deferred_histogram(meter, "t.exemplar", unit="s")
    span = tracer.start_span("given")
    histogram.record(1.0, {"k": "given"}, span=span)
    span.end()
    with tracer.start_as_current_span("current") as current:
        histogram.record(1.0, {"k": "current"})  # no context: the caller's current one is kept
    histogram.record(1.0, {"k": "none"}, NO_EXEMPLAR)
    points = {p.attributes["k"]: p for p in _points(reader.get_metrics_data(), "t.exemplar")}
    assert points["given"].exemplars[0].span_id == span.get_span_context().span_id
    assert points["given"].exemplars[0].trace_id == span.get_span_context().trace_id
    assert points["current"].exemplars[0].span_id == current.get_span_context().span_id
    assert not points["none"].exemplars


def test_genai_metric_exemplars_point_at_the_inference_span(aiobs_capture):
    with aiobs.llm_call(provider="openai", model="gpt-4o-mini") as call:
        call.record_usage(input_tokens=10, output_tokens=2)
    [span] = aiobs_capture.spans()
    collected = aiobs_capture.metrics()  # one collection: the SDK resets exemplars at each
    [point] = [p for p in collected if p.name == semconv.GEN_AI_CLIENT_OPERATION_DURATION]
    assert point.point.exemplars[0].span_id == span.context.span_id
    tokens = [p for p in collected if p.name == semconv.GEN_AI_CLIENT_TOKEN_USAGE]
    assert sorted(p.sum for p in tokens) == [2, 10]
    assert all(p.point.exemplars[0].span_id == span.context.span_id for p in tokens)


def test_the_same_sdk_instrument_shares_one_buffer(delta_reader):
    reader, meter = delta_reader
    first = deferred_histogram(meter, "t.same", unit="s")
    again = deferred_histogram(meter, "t.same", unit="s")  # an instrument set rebuilt
    assert first is again
    first.record(1.0)
    again.record(1.0)
    [point] = _points(reader.get_metrics_data(), "t.same")
    assert point.count == 2


def test_noop_instruments_are_not_buffered():
    meter = NoOpMeterProvider().get_meter("noop")
    histogram = deferred_histogram(meter, "t.noop")
    histogram.record(1.0)
    assert histogram.pending == 0


def test_standalone_deferred_histogram_drains_on_demand(delta_reader):
    reader, meter = delta_reader
    histogram = DeferredHistogram(meter.create_histogram("t.standalone"))
    histogram.record(3.0, {"k": "v"})
    assert not _points(reader.get_metrics_data(), "t.standalone")  # not hooked to collection
    assert histogram.drain() == 1
    [point] = _points(reader.get_metrics_data(), "t.standalone")
    assert point.sum == 3.0


def test_discard_pending_drops_waiting_values(delta_reader):
    reader, meter = delta_reader
    histogram = deferred_histogram(meter, "t.discard")
    histogram.record(1.0)
    deferred.discard_pending()
    assert histogram.pending == 0
    assert not _points(reader.get_metrics_data(), "t.discard")


def test_a_pending_value_keeps_only_the_span_context_not_the_span(delta_reader):
    reader, meter = delta_reader
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("deferred-test")
    histogram = deferred_histogram(meter, "t.no_span_kept", unit="s")
    span = tracer.start_span("short-lived")
    span_id = span.get_span_context().span_id
    histogram.record(1.0, {"k": "v"}, span=span)
    span.end()
    gone = weakref.ref(span)
    del span
    gc.collect()
    assert gone() is None  # the ended span is free while its value waits
    [point] = _points(reader.get_metrics_data(), "t.no_span_kept")
    assert point.exemplars[0].span_id == span_id


def test_waiting_series_are_bounded_too(delta_reader):
    reader, meter = delta_reader
    gaps = deferred_histogram(meter, "t.series_full", unit="s", capacity=64)
    assert gaps.series_capacity == 16
    for _ in range(40):
        gaps.record_series([1.0, 2.0], {"k": "v"}, NO_EXEMPLAR)
        assert gaps.pending <= 16
    assert gaps.overflowed == 48  # 24 series of two values, recorded by the caller
    [point] = _points(reader.get_metrics_data(), "t.series_full")
    assert point.count == 80 and point.sum == 120.0


def test_deferred_work_runs_at_collection_once_and_bounded(delta_reader):
    reader, meter = delta_reader
    histogram = meter.create_histogram("t.work")
    work = deferred.deferred_work(meter, "t.work", capacity=4)
    assert deferred.deferred_work(meter, "t.work") is work  # one buffer per key and meter
    ran: list[int] = []

    def record(value: int) -> None:
        ran.append(value)
        histogram.record(value, {"k": "v"})

    for value in range(10):
        work.submit(record, value)
    assert ran == [0, 1, 2, 3, 4, 5] and work.pending == 4  # the caller ran the excess
    [point] = _points(reader.get_metrics_data(), "t.work")
    assert point.count == 10 and point.sum == 45
    assert ran == list(range(10)) and work.pending == 0


def test_a_failing_work_item_is_reported_and_the_rest_still_run(aiobs_capture):
    meter = aiobs_capture.meter_provider.get_meter("deferred-test")
    work = deferred.deferred_work(meter, "t.failing")
    ran: list[int] = []

    def boom(_: int) -> None:
        raise RuntimeError("boom")

    work.submit(boom, 0)
    work.submit(ran.append, 1)
    with pytest.raises(Exception, match="boom"):  # strict mode (the test suite) re-raises
        work.drain()
    work.drain()
    assert ran == [1]
    [error] = aiobs_capture.metrics(semconv.SDK_INTERNAL_ERRORS)
    assert error.attributes[semconv.SDK_HOOK] == "deferred.work"


def test_llm_call_metrics_wait_for_the_collection(aiobs_capture):
    instruments = genai._genai_instruments.get()
    with aiobs.llm_call(provider="openai", model="gpt-4o-mini") as call:
        call.record_usage(input_tokens=10, output_tokens=2)
    assert instruments.calls.pending == 1  # the call made no SDK metric call
    assert aiobs_capture.metrics(semconv.GEN_AI_CLIENT_OPERATION_DURATION)
    assert instruments.calls.pending == 0
