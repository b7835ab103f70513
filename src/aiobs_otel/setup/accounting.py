"""Self-accounting of the export pipeline: every dropped item is counted, by signal and reason.

The OpenTelemetry SDK drops telemetry quietly in several places: a full batch queue discards the
oldest item, a failed export discards its batch, a collector's partial success rejects some items,
and whatever is still queued when a capped shutdown gives up never leaves the process. This module
wraps the exporters and batch processors built by :mod:`.providers` so each of those drops is
counted in ``aiobs.sdk.dropped`` (attributes ``aiobs.sdk.signal`` and ``aiobs.sdk.drop.reason``)
and in a process-local tally readable with :func:`dropped_counts`.

It also keeps the SDK's own logging bounded (:func:`install_log_limits`): with a dead collector
the SDK logs an error, often with a traceback, for every failed export; here each distinct message
passes at most once per :data:`LOG_INTERVAL_S` per logger.

Reasons: ``queue_full``, ``export_failed`` (the exporter gave up: collector down, timeout,
non-retryable status, retries exhausted), ``export_error`` (the exporter raised),
``rejected`` (the collector's partial success), ``shutdown`` (emitted after shutdown, or still
queued when the capped shutdown ended).
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import semconv
from .._core import state

_log = logging.getLogger("aiobs_otel")

__all__ = [
    "LOG_INTERVAL_S",
    "CountingLogExporter",
    "CountingMetricExporter",
    "CountingSpanExporter",
    "count_dropped",
    "discard_pending",
    "dropped_counts",
    "install_log_limits",
    "partial_success_session",
    "sanitize_text",
    "track_processor",
]

REASON_QUEUE_FULL = "queue_full"
REASON_EXPORT_FAILED = "export_failed"
REASON_EXPORT_ERROR = "export_error"
REASON_REJECTED = "rejected"
REASON_SHUTDOWN = "shutdown"

_lock = threading.Lock()
_dropped: dict[tuple[str, str], int] = {}


def count_dropped(signal: str, reason: str, count: int) -> None:
    """Count ``count`` items of ``signal`` (traces, metrics, logs) dropped for ``reason``."""
    if count <= 0:
        return
    with _lock:
        key = (signal, reason)
        _dropped[key] = _dropped.get(key, 0) + count
    if not state.STATE.configured:  # never let accounting configure the library again
        return
    try:
        from .._core.otel import self_instruments

        self_instruments().dropped.add(
            count, {semconv.SDK_SIGNAL: signal, semconv.SDK_DROP_REASON: reason}
        )
    except Exception:  # accounting must never add a failure of its own
        pass


def dropped_counts() -> dict[tuple[str, str], int]:
    """Items dropped so far in this process, keyed by ``(signal, reason)``."""
    with _lock:
        return dict(_dropped)


def reset_for_tests() -> None:
    with _lock:
        _dropped.clear()
    if _filter is not None:
        _filter.reset()


def _after_fork_in_child() -> None:
    # The child has its own pipeline (the SDK clears inherited queues); start a fresh tally, and
    # give every lock a fresh copy (one held by another thread at fork() would stay held).
    global _lock
    _lock = threading.Lock()
    _dropped.clear()
    for _, ref in _tracked:
        inner = ref()
        if inner is not None and isinstance(inner._queue, _CountingQueue):
            inner._queue.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# --- text that the OTLP encoder would drop -------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


def sanitize_text(value: str) -> str:
    """``value`` with lone surrogates replaced by U+FFFD (protobuf refuses to encode them)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value


def _clean_value(value: Any) -> tuple[bool, Any]:
    if isinstance(value, str):
        cleaned = sanitize_text(value)
        return cleaned is not value, cleaned
    if isinstance(value, (tuple, list)) and value and any(isinstance(v, str) for v in value):
        items = [sanitize_text(v) if isinstance(v, str) else v for v in value]
        changed = any(a is not b for a, b in zip(items, value, strict=True))
        return changed, tuple(items)
    return False, value


def _clean_attributes(attributes: Any) -> dict[str, Any] | None:
    """A cleaned copy of ``attributes`` if any value needed it, else None."""
    if not attributes:
        return None
    cleaned: dict[str, Any] | None = None
    for key, value in attributes.items():
        changed, new = _clean_value(value)
        if changed:
            if cleaned is None:
                cleaned = dict(attributes)
            cleaned[key] = new
    return cleaned


def _sanitize_span(span: ReadableSpan) -> None:
    attributes = _clean_attributes(span.attributes)
    if attributes is not None:
        span._attributes = attributes  # type: ignore[assignment]
    for event in span.events:
        event_attributes = _clean_attributes(event.attributes)
        if event_attributes is not None:
            event._attributes = event_attributes  # type: ignore[assignment]


def _sanitize_log(item: ReadableLogRecord) -> None:
    record = item.log_record
    attributes = _clean_attributes(record.attributes)
    if attributes is not None:
        record.attributes = attributes
    changed, body = _clean_value(record.body)
    if changed:
        record.body = body


# --- exporter wrappers ---------------------------------------------------------------------------


def _export_counted(signal: str, count: int, run: Callable[[], Any], success: Any) -> Any:
    try:
        result = run()
    except Exception:  # an exporter must not raise
        count_dropped(signal, REASON_EXPORT_ERROR, count)
        return None
    if result != success:
        count_dropped(signal, REASON_EXPORT_FAILED, count)
    return result


class CountingSpanExporter(SpanExporter):
    """Delegates to ``inner``; counts spans of failed exports; replaces lone surrogates."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            try:
                _sanitize_span(span)
            except Exception:  # a span we cannot clean is exported as is
                continue
        result = _export_counted(
            "traces", len(spans), lambda: self.inner.export(spans), SpanExportResult.SUCCESS
        )
        return result if result is not None else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


class CountingLogExporter(LogRecordExporter):
    """Delegates to ``inner``; counts log records of failed exports; replaces lone surrogates."""

    def __init__(self, inner: LogRecordExporter) -> None:
        self.inner = inner

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        for item in batch:
            try:
                _sanitize_log(item)
            except Exception:
                continue
        result = _export_counted(
            "logs", len(batch), lambda: self.inner.export(batch), LogRecordExportResult.SUCCESS
        )
        return result if result is not None else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        self.inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


def metric_points(metrics_data: MetricsData) -> int:
    """How many data points a collection holds (the unit of metric accounting)."""
    total = 0
    for rm in metrics_data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                total += len(metric.data.data_points)
    return total


class CountingMetricExporter(MetricExporter):
    """Delegates to ``inner``; counts the data points of failed exports."""

    def __init__(self, inner: MetricExporter) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self.inner = inner

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            points = metric_points(metrics_data)
        except Exception:
            points = 0
        result = _export_counted(
            "metrics", points,
            lambda: self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            MetricExportResult.SUCCESS,
        )
        return result if result is not None else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)


# --- batch processors: queue-full drops, and what a capped shutdown leaves behind ---------


class _CountingQueue(collections.deque[Any]):
    """The batch queue, with the full-check and the append made atomic (exact drop counts).

    The SDK checks ``len(queue) == max`` and then appends, while its worker pops concurrently,
    so counting its "queue full" branch over-counts. Here both sides take one lock.
    """

    def __init__(self, maxlen: int | None) -> None:
        super().__init__((), maxlen)
        self.lock = threading.Lock()

    def push(self, item: Any) -> bool:
        """Append ``item`` on the left; True if that pushed the oldest item out."""
        with self.lock:
            full = self.maxlen is not None and len(self) == self.maxlen
            self.appendleft(item)
        return full

    def pop(self) -> Any:  # type: ignore[override]  # deque.pop takes no index
        with self.lock:
            return super().pop()

    def drain(self) -> int:
        with self.lock:
            count = len(self)
            self.clear()
        return count


_tracked: list[tuple[str, weakref.ref[Any]]] = []
_queue_full_logged: dict[str, float] = {}


def _counting_emit(processor_ref: weakref.ref[Any], signal: str, data: Any) -> None:
    """``BatchProcessor.emit`` with exact accounting and one "queue full" log per interval."""
    inner = processor_ref()
    if inner is None:
        return
    if inner._shutdown:
        count_dropped(signal, REASON_SHUTDOWN, 1)
        return
    if inner._pid != os.getpid():
        inner._bsp_reset_once.do_once(inner._at_fork_reinit)
    queue: _CountingQueue = inner._queue
    if queue.push(data):
        count_dropped(signal, REASON_QUEUE_FULL, 1)
        now = time.monotonic()
        if now - _queue_full_logged.get(signal, -LOG_INTERVAL_S) >= LOG_INTERVAL_S:
            _queue_full_logged[signal] = now
            _log.warning(
                "aiobs_otel: the %s export queue is full (the collector is slow or down); "
                "dropping the oldest items, counted in aiobs.sdk.dropped", signal,
            )
    if len(queue) >= inner._max_export_batch_size and not inner._worker_awaken.is_set():
        inner._worker_awaken.set()


def track_processor(processor: Any, signal: str) -> None:
    """Count a batch span/log processor's drops exactly; remember it for :func:`discard_pending`.

    Relies on the SDK's ``BatchProcessor`` internals (``_batch_processor`` with ``_queue``,
    ``emit``, ``_shutdown``, ``_pid``, opentelemetry-sdk 1.3x-1.4x); if they are absent, the
    processor is left as it is and only failed exports are counted.
    """
    inner = getattr(processor, "_batch_processor", None)
    needed = ("_queue", "_shutdown", "_pid", "_bsp_reset_once", "_at_fork_reinit",
              "_max_export_batch_size", "_worker_awaken")
    if inner is None or not all(hasattr(inner, name) for name in needed):
        return
    inner._queue = _CountingQueue(inner._queue.maxlen)
    ref = weakref.ref(inner)
    inner.emit = functools.partial(_counting_emit, ref, signal)
    with _lock:
        _tracked[:] = [(s, r) for s, r in _tracked if r() is not None]
        _tracked.append((signal, ref))


def discard_pending() -> int:
    """Empty every tracked queue, counting its items as dropped (reason ``shutdown``)."""
    total = 0
    with _lock:
        tracked = list(_tracked)
    for signal, ref in tracked:
        inner = ref()
        if inner is None:
            continue
        count = inner._queue.drain()
        count_dropped(signal, REASON_SHUTDOWN, count)
        total += count
    return total


# --- partial success over OTLP/HTTP ---------------------------------------------------------------


def partial_success_session(signal: str) -> Any:
    """A ``requests.Session`` that counts a collector's ``partial_success`` rejections.

    The OTLP/HTTP exporters accept a 200 answer without reading it; this response hook parses
    the ``Export*ServiceResponse`` and counts ``rejected_*`` items as dropped (reason
    ``rejected``).
    """
    import requests

    session = requests.Session()
    session.hooks["response"].append(_partial_success_hook(signal))
    return session


def _partial_success_hook(signal: str) -> Callable[..., None]:
    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        try:
            if response.status_code != 200:
                return
            body = response.content
            if not body or len(body) > 4 * 1024 * 1024:
                return
            rejected = _rejected_items(signal, body)
            if rejected:
                count_dropped(signal, REASON_REJECTED, rejected)
        except Exception:  # a garbled answer is not our failure to report
            pass

    return hook


def _rejected_items(signal: str, body: bytes) -> int:
    if signal == "traces":
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        trace_response = ExportTraceServiceResponse.FromString(body)
        return int(trace_response.partial_success.rejected_spans)
    if signal == "metrics":
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceResponse,
        )

        metrics_response = ExportMetricsServiceResponse.FromString(body)
        return int(metrics_response.partial_success.rejected_data_points)
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    logs_response = ExportLogsServiceResponse.FromString(body)
    return int(logs_response.partial_success.rejected_log_records)


# --- bounded SDK log output ----------------------------------------------------------------------

LOG_INTERVAL_S = 10.0
# Loggers of the SDK's export path, which log once per failed export (and per dropped item).
SDK_EXPORT_LOGGERS = (
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk._logs._internal.export",
    "opentelemetry.sdk.metrics._internal.export",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.common._internal",
    "opentelemetry.attributes",
)


class RateLimitFilter(logging.Filter):
    """Lets each distinct message template through at most once per ``interval_s``."""

    def __init__(self, interval_s: float = LOG_INTERVAL_S) -> None:
        super().__init__("aiobs_otel.rate_limit")
        self.interval_s = interval_s
        self._last: dict[tuple[str, int, object], float] = {}
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.msg)
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self.suppressed += 1
            return False
        if len(self._last) > 1024:
            self._last.clear()
        self._last[key] = now
        return True

    def reset(self) -> None:
        self._last.clear()
        self.suppressed = 0


_filter: RateLimitFilter | None = None


def install_log_limits() -> RateLimitFilter:
    """Put one :class:`RateLimitFilter` on each SDK export-path logger (idempotent)."""
    global _filter
    if _filter is None:
        _filter = RateLimitFilter()
    for name in SDK_EXPORT_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
    return _filter
