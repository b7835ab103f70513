"""pipeline_stage: a span and data-quality metrics for each run of a data-pipeline stage.

>>> import aiobs_otel as aiobs
>>> @aiobs.pipeline_stage(name="clean", dataset="orders")
... def clean(df):
...     return df
>>> with aiobs.pipeline_stage(name="load", dataset="orders") as stage:  # doctest: +SKIP
...     stage.record_output(read_orders())
...     stage.record_dropped(3, reason="bad_date")

As a decorator the stage inspects its first data-like argument as input and its return value as
output. Metrics (``aiobs.data.*``): records in/out/dropped, duration, bytes, null and NaN rate
per column, schema column count, freshness, failures; a ``aiobs.data.schema_change`` event
names added, removed and retyped columns when a stage's output schema changes. A stage's span
links to the span of the stage that produced the very object it receives (lineage).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import Counter, Histogram, Meter
from opentelemetry.trace import Link, SpanContext, SpanKind

from .. import semconv
from . import errors
from ._datainfo import DataInfo, inspect_data, is_data, newest_timestamp
from .otel import instrument_set, tracer
from .wrapping import Operation, Scope, error_type

__all__ = ["StageScope", "pipeline_stage"]

_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0,
                     900.0, 3600.0)
_LINEAGE_MAX = 1024


@dataclass(frozen=True)
class DataInstruments:
    records_in: Counter
    records_out: Counter
    dropped: Counter
    failures: Counter
    bytes: Counter
    duration: Histogram
    null_rate: Any  # synchronous gauges
    nan_rate: Any
    columns: Any
    freshness: Any


@instrument_set("data")
def _instruments(m: Meter) -> DataInstruments:
    return DataInstruments(
        records_in=m.create_counter(semconv.DATA_RECORDS_IN, unit="{record}",
                                    description="Records a stage received."),
        records_out=m.create_counter(semconv.DATA_RECORDS_OUT, unit="{record}",
                                     description="Records a stage produced."),
        dropped=m.create_counter(semconv.DATA_RECORDS_DROPPED, unit="{record}",
                                 description="Records a stage dropped, by reason."),
        failures=m.create_counter(semconv.DATA_STAGE_FAILURES, unit="{failure}",
                                  description="Stage runs that raised."),
        bytes=m.create_counter(semconv.DATA_BYTES, unit="By",
                               description="Bytes in and out of stages, where known."),
        duration=m.create_histogram(semconv.DATA_STAGE_DURATION, unit="s",
                                    description="Stage run duration.",
                                    explicit_bucket_boundaries_advisory=_DURATION_BUCKETS),
        null_rate=m.create_gauge(semconv.DATA_NULL_RATE, unit="1",
                                 description="Share of null (or NaN) values per column."),
        nan_rate=m.create_gauge(semconv.DATA_NAN_RATE, unit="1",
                                description="Share of NaN values per float column."),
        columns=m.create_gauge(semconv.DATA_SCHEMA_COLUMNS, unit="{column}",
                               description="Columns in the stage's data."),
        freshness=m.create_gauge(semconv.DATA_FRESHNESS, unit="s",
                                 description="Age of the newest timestamp in the data."),
    )


# --- lineage: which stage run produced an object ------------------------------------------------


class _Lineage:
    """Bounded map id(obj) -> (weak reference or type/len check, producing span, stage)."""

    def __init__(self, size: int = _LINEAGE_MAX) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, tuple[Any, SpanContext, str]] = OrderedDict()

    def remember(self, obj: Any, ctx: SpanContext, stage: str) -> None:
        try:
            check: Any = weakref.ref(obj)
        except TypeError:  # lists and dicts: fall back to identity of type and length
            check = (type(obj), _safe_len(obj))
        with self._lock:
            self._entries[id(obj)] = (check, ctx, stage)
            self._entries.move_to_end(id(obj))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def producer(self, obj: Any) -> tuple[SpanContext, str] | None:
        with self._lock:
            entry = self._entries.get(id(obj))
        if entry is None:
            return None
        check, ctx, stage = entry
        if isinstance(check, weakref.ref):
            if check() is not obj:
                return None
        elif check != (type(obj), _safe_len(obj)):
            return None
        return ctx, stage


def _safe_len(obj: Any) -> int:
    try:
        return len(obj)
    except TypeError:
        return -1


LINEAGE = _Lineage()
_last_schema: dict[tuple[str, str], dict[str, str]] = {}
_schema_lock = threading.Lock()


# --- the operation ------------------------------------------------------------------------------


class pipeline_stage(Operation):
    """A decorator or context manager around one stage of a data pipeline.

    >>> @pipeline_stage(name="clean", dataset="orders")
    ... def clean(df):
    ...     return df

    ``timestamp_column`` names a column whose newest value gives ``aiobs.data.freshness``;
    ``inspect_columns=False`` skips per-column null/NaN rates (row counts and schema stay).
    """

    hook_name = "pipeline"

    def __init__(
        self,
        name: str,
        dataset: str | None = None,
        *,
        timestamp_column: str | None = None,
        inspect_columns: bool = True,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        if not name:
            raise ValueError("pipeline_stage needs a name")
        self.name = str(name)
        self.dataset = dataset
        self.timestamp_column = timestamp_column
        self.inspect_columns = inspect_columns
        self.metric_attrs: dict[str, Any] = {semconv.DATA_STAGE: self.name}
        if dataset is not None:
            self.metric_attrs[semconv.DATA_DATASET] = str(dataset)
        self.span_name = f"{semconv.SPAN_PIPELINE_STAGE} {self.name}"
        self.span_attrs = {**self.metric_attrs, **(attributes or {})}

    def open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> StageScope:
        links: list[Link] = []
        data = _first_data(args, kwargs) if args is not None or kwargs else None
        if data is not None:
            found = LINEAGE.producer(data)
            if found is not None:
                links.append(Link(found[0], {semconv.DATA_UPSTREAM_STAGE: found[1]}))
        span = tracer().start_span(self.span_name, kind=SpanKind.INTERNAL,
                                   attributes=self.span_attrs, links=links)
        scope = StageScope(span, self)
        if data is not None:
            scope._input(data, linked=True)
        return scope


def _first_data(args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> Any:
    for value in (*(args or ()), *((kwargs or {}).values())):
        if is_data(value):
            return value
    return None


class StageScope(Scope):
    """One stage run: ``record_input``, ``record_output``, ``record_dropped``."""

    hook_name = "pipeline"

    def __init__(self, span: trace.Span, op: pipeline_stage) -> None:
        super().__init__(span)
        self.op = op
        self.records_in = 0
        self.records_out = 0
        self.dropped = 0
        self._output_recorded = False
        self._output: DataInfo | None = None

    # -- user API -------------------------------------------------------------------------------
    def record_input(self, data: Any) -> None:
        """Count and inspect the stage's input (links the span to the producing stage)."""
        with errors.guard("pipeline.record_input"):
            self._input(data, linked=False)

    def record_output(self, data: Any) -> None:
        """Count and inspect the stage's output (checks its schema against the last run)."""
        with errors.guard("pipeline.record_output"):
            self._output_recorded = True
            self._record("output", data)
            with errors.guard("pipeline.lineage"):
                LINEAGE.remember(data, self.span.get_span_context(), self.op.name)

    def record_dropped(self, n: int, reason: str = "unspecified") -> None:
        """Count ``n`` records the stage dropped, with a (low-cardinality) reason."""
        with errors.guard("pipeline.record_dropped"):
            n = int(n)
            self.dropped += n
            attrs = {**self.op.metric_attrs, semconv.DATA_DROP_REASON: str(reason)}
            _instruments.get().dropped.add(n, attrs)

    # -- internals ------------------------------------------------------------------------------
    def _input(self, data: Any, linked: bool) -> None:
        if not linked:
            found = LINEAGE.producer(data)
            if found is not None and self.span.is_recording():
                self.span.add_link(found[0], {semconv.DATA_UPSTREAM_STAGE: found[1]})
        self._record("input", data)

    def _record(self, direction: str, data: Any) -> None:
        info = inspect_data(data, columns=self.op.inspect_columns)
        inst = _instruments.get()
        attrs = self.op.metric_attrs
        dir_attrs = {**attrs, semconv.DATA_DIRECTION: direction}
        rows = info.rows or 0
        if direction == "input":
            self.records_in += rows
            inst.records_in.add(rows, attrs)
        else:
            self.records_out += rows
            inst.records_out.add(rows, attrs)
            self._output = info
        if info.bytes is not None:
            inst.bytes.add(info.bytes, dir_attrs)
        if info.schema:
            inst.columns.set(len(info.schema), dir_attrs)
        for column, rate in info.null_rate.items():
            inst.null_rate.set(rate, {**dir_attrs, semconv.DATA_COLUMN: column})
        for column, rate in info.nan_rate.items():
            inst.nan_rate.set(rate, {**dir_attrs, semconv.DATA_COLUMN: column})
        if self.op.timestamp_column:
            newest = newest_timestamp(data, self.op.timestamp_column)
            if newest is not None:
                inst.freshness.set(max(0.0, time.time() - newest), dir_attrs)
        if self.span.is_recording():
            key = (semconv.DATA_INPUT_RECORDS if direction == "input"
                   else semconv.DATA_OUTPUT_RECORDS)
            self.span.set_attribute(key, self.records_in if direction == "input"
                                    else self.records_out)
            if direction == "output" and info.schema:
                self.span.set_attribute(semconv.DATA_SCHEMA_FINGERPRINT, info.fingerprint)
        if info.schema:
            self._check_schema(direction, info)

    def _check_schema(self, direction: str, info: DataInfo) -> None:
        key = (f"{self.op.dataset}\x00{self.op.name}", direction)
        with _schema_lock:
            previous = _last_schema.get(key)
            _last_schema[key] = dict(info.schema)
        if previous is None or previous == info.schema:
            return
        added = sorted(set(info.schema) - set(previous))
        removed = sorted(set(previous) - set(info.schema))
        retyped = sorted(f"{c}: {previous[c]} -> {info.schema[c]}"
                         for c in set(previous) & set(info.schema) if previous[c] != info.schema[c])
        from .otel import event_logger

        old_fp = DataInfo(schema=previous).fingerprint
        attributes: dict[str, Any] = {
            **self.op.metric_attrs, semconv.DATA_DIRECTION: direction,
            semconv.DATA_SCHEMA_ADDED: added, semconv.DATA_SCHEMA_REMOVED: removed,
            semconv.DATA_SCHEMA_RETYPED: retyped,
            semconv.DATA_SCHEMA_FINGERPRINT: info.fingerprint,
            semconv.DATA_SCHEMA_PREVIOUS: old_fp,
        }
        event_logger().emit(
            event_name=semconv.EVENT_SCHEMA_CHANGE,
            body={"added": added, "removed": removed, "retyped": retyped},
            attributes=attributes,
            context=trace.set_span_in_context(self.span),
        )

    # -- hooks ----------------------------------------------------------------------------------
    def on_result(self, result: Any) -> None:
        if not self._output_recorded and is_data(result):
            self.record_output(result)

    def on_end(self, error: BaseException | None) -> None:
        inst = _instruments.get()
        attrs = self.op.metric_attrs
        if error is not None and not isinstance(error, GeneratorExit):
            inst.failures.add(1, {**attrs, semconv.ERROR_TYPE: error_type(error)})
        elapsed = self.elapsed_s()
        inst.duration.record(elapsed, attrs if error is None else
                             {**attrs, semconv.ERROR_TYPE: error_type(error)})


def reset_for_tests() -> None:
    """Forget lineage and remembered schemas."""
    global LINEAGE
    LINEAGE = _Lineage()
    with _schema_lock:
        _last_schema.clear()
