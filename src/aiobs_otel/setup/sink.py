"""The embedded local default: all three signals written to a directory as OTLP-JSON lines.

Each export batch becomes one line holding an OTLP ``Export*ServiceRequest`` in the OTLP/JSON
encoding (lowerCamelCase keys, hex trace and span ids, integer enums), the same format the
OpenTelemetry Collector's file exporter writes and its ``otlpjsonfile`` receiver reads. Files are
``traces.jsonl``, ``metrics.jsonl`` and ``logs.jsonl``; a file that would grow past
``max_bytes`` is rotated to ``<name>.1.jsonl`` … ``<name>.<backups>.jsonl`` (oldest dropped), so
the directory never holds more than ``3 * (backups + 1) * max_bytes``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_log = logging.getLogger("aiobs_otel")

SIGNAL_FILES = {"traces": "traces", "metrics": "metrics", "logs": "logs"}
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})
_announced: set[str] = set()
_announce_lock = threading.Lock()


def to_otlp_json(message: Message) -> dict[str, Any]:
    """Encode an OTLP protobuf message as OTLP/JSON (hex ids, integer enums, camelCase)."""
    data: dict[str, Any] = json_format.MessageToDict(message, use_integers_for_enums=True)
    _hex_ids(data)
    return data


def _hex_ids(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids(item)


def signal_files(directory: Path, signal: str) -> list[Path]:
    """The files of one signal in ``directory``, oldest first (rotated ones, then the live one)."""
    stem = SIGNAL_FILES[signal]
    rotated = []
    for path in directory.glob(f"{stem}.*.jsonl"):
        middle = path.name[len(stem) + 1 : -len(".jsonl")]
        if middle.isdigit():
            rotated.append((int(middle), path))
    files = [p for _, p in sorted(rotated, reverse=True)]
    live = directory / f"{stem}.jsonl"
    if live.exists():
        files.append(live)
    return files


class JsonLinesFile:
    """Appends lines to one signal's file with size-bounded rotation; safe across threads."""

    def __init__(self, directory: Path, signal: str, max_bytes: int, backups: int) -> None:
        self.directory = directory
        self.signal = signal
        self.path = directory / f"{SIGNAL_FILES[signal]}.jsonl"
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        data = (line + "\n").encode("utf-8", "replace")
        if len(data) > self.max_bytes:
            _log.warning(
                "aiobs_otel: dropping a %s batch of %d bytes (over the sink's %d-byte files)",
                self.signal, len(data), self.max_bytes,
            )
            return
        with self._lock:
            announce(self.directory)
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > self.max_bytes:
                self._rotate()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def _rotate(self) -> None:
        stem = SIGNAL_FILES[self.signal]
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        oldest = self.directory / f"{stem}.{self.backups}.jsonl"
        oldest.unlink(missing_ok=True)
        for index in range(self.backups - 1, 0, -1):
            src = self.directory / f"{stem}.{index}.jsonl"
            if src.exists():
                src.replace(self.directory / f"{stem}.{index + 1}.jsonl")
        if self.path.exists():
            self.path.replace(self.directory / f"{stem}.1.jsonl")


def announce(directory: Path) -> None:
    """Create the sink directory; on the first run (it did not exist) say where it is, once."""
    key = str(directory)
    if key in _announced:
        return
    with _announce_lock:
        if key in _announced:
            return
        existed = directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        _announced.add(key)  # only once it exists: other threads skip the lock on this check
        if not existed:
            print(
                "aiobs-otel: no OTLP endpoint configured; writing telemetry to "
                f"{directory.resolve()}"
                f" (see it with: aiobs-otel report {directory})",
                file=sys.stderr,
            )


class LocalSpanExporter(SpanExporter):
    """Writes span batches to ``traces.jsonl`` as OTLP/JSON."""

    def __init__(self, file: JsonLinesFile) -> None:
        self._file = file

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self._file.write(json.dumps(to_otlp_json(encode_spans(spans)), separators=(",", ":")))
        except Exception as exc:  # an exporter must not raise
            _log.warning("aiobs_otel: could not write spans to %s: %r", self._file.path, exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class LocalMetricExporter(MetricExporter):
    """Writes metric collections to ``metrics.jsonl`` as OTLP/JSON (cumulative temporality)."""

    def __init__(self, file: JsonLinesFile) -> None:
        super().__init__(preferred_temporality={})
        self._file = file

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            if not metrics_data.resource_metrics:
                return MetricExportResult.SUCCESS
            payload = to_otlp_json(encode_metrics(metrics_data))
            self._file.write(json.dumps(payload, separators=(",", ":")))
        except Exception as exc:
            _log.warning("aiobs_otel: could not write metrics to %s: %r", self._file.path, exc)
            return MetricExportResult.FAILURE
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


class LocalLogExporter(LogRecordExporter):
    """Writes log-record batches to ``logs.jsonl`` as OTLP/JSON."""

    def __init__(self, file: JsonLinesFile) -> None:
        self._file = file

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        try:
            self._file.write(json.dumps(to_otlp_json(encode_logs(batch)), separators=(",", ":")))
        except Exception as exc:
            _log.warning("aiobs_otel: could not write logs to %s: %r", self._file.path, exc)
            return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


__all__ = [
    "AggregationTemporality",
    "JsonLinesFile",
    "LocalLogExporter",
    "LocalMetricExporter",
    "LocalSpanExporter",
    "signal_files",
    "to_otlp_json",
]
