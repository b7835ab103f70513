"""Histogram and counter values recorded off the hot path, written to the SDK at collection.

One SDK ``Histogram.record`` or ``Counter.add`` costs several µs (attribute hashing,
aggregation, exemplar sampling), and a GenAI call makes four or more. A
:class:`DeferredHistogram` (or
:class:`DeferredCounter`) wraps an SDK instrument: ``record()`` / ``add()`` only append
``(value, attributes, context)`` to a buffer, and the buffer is written into the real instrument
when metrics are collected. Every meter that has deferred instruments gets one observable counter
(``aiobs.sdk.deferred.overflow``) whose callback, which the SDK runs at the start of every
collection before it reads the synchronous instruments, drains that meter's buffers. So:

* every reader sees the values at its next collection: periodic (OTLP) exports, Prometheus
  scrapes, ``InMemoryMetricReader.get_metrics_data()`` (what ``capture().metrics()`` calls),
  ``MeterProvider.force_flush()`` and the final collection of ``MeterProvider.shutdown()``;
  :func:`drain_all` also runs as a shutdown callback, so values reach the SDK before providers
  stop even when the application owns them;
* memory is bounded and nothing is dropped: once more than ``capacity`` values wait, the caller
  records the oldest ones itself until ``capacity`` wait again (the cost of a synchronous
  record; counted by ``aiobs.sdk.deferred.overflow``);
* exemplars still point at the right span: pass ``span=`` (or ``context=``) and the value is
  recorded with that context; with neither, the caller's current context is kept (the SDK's
  default). :data:`NO_EXEMPLAR` skips exemplar sampling. Only the span's ``SpanContext`` is
  kept, never the span itself, so an ended span is not held in memory;
* ``record_series()`` hands over many values in one entry (a stream's per-chunk gaps), iterated
  at collection; at most ``capacity // 8`` series wait (at least 16);
* :class:`DeferredWork` buffers ``(fn, arg)`` pairs instead, run at collection: a recorder
  that emits several points per event (an LLM call) hands over one snapshot and builds the
  attributes and SDK records on the export thread;
* thread-safe without a lock: ``deque.append`` / ``popleft`` are atomic, and each value is
  popped, and recorded, exactly once whichever thread drains.

The SDK sees the drain time as the measurement time (it only shows in exemplar timestamps), and
attribute mappings handed over must not be mutated afterwards.

>>> from aiobs_otel._core.deferred import deferred_histogram
>>> latency = deferred_histogram(meter, "my.latency", unit="s")  # doctest: +SKIP
>>> latency.record(0.25, {"route": "/chat"}, span=span)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeAlias, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import (
    CallbackOptions,
    Counter,
    Histogram,
    Meter,
    NoOpCounter,
    NoOpHistogram,
    Observation,
)
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext

from .. import semconv
from . import errors, state

__all__ = [
    "DEFAULT_CAPACITY",
    "NO_EXEMPLAR",
    "DeferredCounter",
    "DeferredHistogram",
    "DeferredWork",
    "deferred_counter",
    "deferred_histogram",
    "deferred_work",
    "discard_pending",
    "drain_all",
]

NO_EXEMPLAR: Final = Context()  # record with no span: the SDK samples no exemplar
DEFAULT_CAPACITY: Final = 1 << 14  # values waiting per instrument before the caller records

Amount: TypeAlias = "int | float"
Attributes: TypeAlias = "Mapping[str, Any] | None"
_Entry: TypeAlias = "tuple[Any, Attributes, Context | None, SpanContext | None]"
_get_current = otel_context.get_current
_in_context = trace.set_span_in_context


class _Deferred:
    """Shared buffer logic of :class:`DeferredHistogram` and :class:`DeferredCounter`."""

    __slots__ = ("__weakref__", "_series", "_sink", "_values", "capacity", "instrument",
                 "overflowed", "series_capacity")

    def __init__(self, instrument: Any, sink: Callable[..., None],
                 capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.instrument = instrument
        self.capacity = capacity
        self.series_capacity = max(16, capacity // 8) if capacity else 0
        self.overflowed = 0  # values the caller recorded itself because the buffer was full
        self._sink = sink
        self._values: deque[_Entry] = deque()
        self._series: deque[_Entry] = deque()

    def _put(self, amount: Amount, attributes: Attributes = None,
             context: Context | None = None, *, span: Span | None = None) -> None:
        if span is not None:
            values = self._values
            values.append((amount, attributes, context, span.get_span_context()))
        else:
            if context is None:
                context = _get_current()
            values = self._values
            values.append((amount, attributes, context, None))
        if len(values) > self.capacity:
            self._spill(values, self.capacity)

    def _put_series(self, amounts: Iterable[Amount], attributes: Attributes = None,
                    context: Context | None = None, *, span: Span | None = None) -> None:
        """Many values with the same attributes and context, as one entry; ``amounts`` is
        iterated at drain time (a lazy iterable is fine, it runs on the export thread)."""
        if context is None and span is None:
            context = _get_current()
        series = self._series
        series.append((amounts, attributes, context,
                       span.get_span_context() if span is not None else None))
        if len(series) > self.series_capacity:
            self._spill(series, self.series_capacity)

    @property
    def pending(self) -> int:
        """Entries waiting (a series counts once)."""
        return len(self._values) + len(self._series)

    def _spill(self, buffer: deque[_Entry], capacity: int) -> None:
        """Past capacity: record the oldest entries on this thread until ``capacity`` wait."""
        popleft = buffer.popleft
        is_series = buffer is self._series
        while len(buffer) > capacity:
            try:
                entry = popleft()
            except IndexError:
                return
            self.overflowed += self._record(entry, is_series)

    def _record(self, entry: _Entry, is_series: bool) -> int:
        amounts, attributes, context, span_context = entry
        if span_context is not None:  # given a span: its context (and nothing else) is kept
            context = _in_context(NonRecordingSpan(span_context), context or NO_EXEMPLAR)
        elif context is None:
            context = NO_EXEMPLAR
        sink = self._sink
        if not is_series:
            sink(amounts, attributes, context=context)
            return 1
        count = 0
        for amount in amounts:
            sink(amount, attributes, context=context)
            count += 1
        return count

    def drain(self) -> int:
        """Record every waiting value into the SDK instrument now; returns how many."""
        count = 0
        for buffer, is_series in ((self._values, False), (self._series, True)):
            popleft = buffer.popleft
            while True:
                try:
                    entry = popleft()
                except IndexError:
                    break
                count += self._record(entry, is_series)
        return count

    def discard(self) -> None:
        """Drop every waiting value (a forked child; tests)."""
        self._values.clear()
        self._series.clear()


class DeferredHistogram(_Deferred):
    """An SDK histogram whose ``record`` is an append; values reach the SDK at collection.

    Build it with :func:`deferred_histogram` so a collection drains it.

    >>> h = DeferredHistogram(meter.create_histogram("x"))  # doctest: +SKIP
    >>> h.record(0.5, {"k": "v"}, span=span); h.drain()  # doctest: +SKIP
    1
    """

    __slots__ = ()
    record = _Deferred._put
    record_series = _Deferred._put_series

    def __init__(self, histogram: Histogram, capacity: int = DEFAULT_CAPACITY) -> None:
        if isinstance(histogram, NoOpHistogram):
            capacity = 0  # nothing would ever collect it: recording is free anyway
        super().__init__(histogram, histogram.record, capacity)


class DeferredCounter(_Deferred):
    """An SDK counter whose ``add`` is an append; values reach the SDK at collection.

    >>> c = DeferredCounter(meter.create_counter("n"))  # doctest: +SKIP
    >>> c.add(3, {"k": "v"})  # doctest: +SKIP
    """

    __slots__ = ()
    add = _Deferred._put

    def __init__(self, counter: Counter, capacity: int = DEFAULT_CAPACITY) -> None:
        if isinstance(counter, NoOpCounter):
            capacity = 0
        super().__init__(counter, counter.add, capacity)


class DeferredWork:
    """Functions run at collection: ``submit(fn, arg)`` appends, the drain calls ``fn(arg)``.

    For a recorder that emits several metric points per event: it hands one snapshot over and
    builds attributes and records into the SDK instruments on the export thread. Past
    ``capacity`` waiting items the caller runs the oldest itself. A failing item is reported
    (:mod:`.errors`) and the others still run.

    >>> work = deferred_work(meter, "llm")  # doctest: +SKIP
    >>> work.submit(record_call_metrics, snapshot)  # doctest: +SKIP
    """

    __slots__ = ("__weakref__", "_items", "capacity", "instrument", "overflowed")

    def __init__(self, key: str, capacity: int = DEFAULT_CAPACITY) -> None:
        self.instrument = key
        self.capacity = capacity
        self.overflowed = 0
        self._items: deque[tuple[Callable[[Any], None], Any]] = deque()

    def submit(self, fn: Callable[[Any], None], arg: Any) -> None:
        items = self._items
        items.append((fn, arg))
        if len(items) > self.capacity:
            popleft = items.popleft
            while len(items) > self.capacity:
                try:
                    entry = popleft()
                except IndexError:
                    return
                self.overflowed += 1
                self._run(entry)

    @staticmethod
    def _run(entry: tuple[Callable[[Any], None], Any]) -> None:
        fn, arg = entry
        try:
            fn(arg)
        except Exception as exc:
            errors.report("deferred.work", exc)

    @property
    def pending(self) -> int:
        return len(self._items)

    def drain(self) -> int:
        """Run every waiting item now; returns how many ran."""
        popleft = self._items.popleft
        count = 0
        while True:
            try:
                entry = popleft()
            except IndexError:
                return count
            self._run(entry)
            count += 1

    def discard(self) -> None:
        self._items.clear()


_Drainable: TypeAlias = "_Deferred | DeferredWork"
D = TypeVar("D", bound="_Deferred | DeferredWork")


# --- one collection hook per meter ---------------------------------------------------------------


class _CollectHook:
    """The buffers of one meter, drained by its observable instrument's callback."""

    __slots__ = ("__weakref__", "buffers", "by_instrument")

    def __init__(self) -> None:
        self.buffers: list[_Drainable] = []
        self.by_instrument: dict[Any, _Drainable] = {}

    def adopt(self, instrument: Any, build: Callable[[], D]) -> D:
        key = instrument if isinstance(instrument, str) else id(instrument)
        with _hooks_lock:
            existing = self.by_instrument.get(key)
            if existing is not None and (existing.instrument is instrument
                                         or existing.instrument == key):
                return existing  # type: ignore[return-value]  # same instrument, same buffer
            made = build()
            self.buffers = [*self.buffers, made]  # copy-on-write: the callback reads unlocked
            self.by_instrument[key] = made
            return made

    def drain(self) -> None:
        for buffer in self.buffers:
            with errors.guard("deferred.drain"):
                buffer.drain()

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        self.drain()
        overflowed = sum(buffer.overflowed for buffer in self.buffers)
        return (Observation(overflowed),) if overflowed else ()


_hooks_lock = threading.Lock()
_hooks: weakref.WeakKeyDictionary[Any, _CollectHook] = weakref.WeakKeyDictionary()


def _hook_for(meter: Meter) -> _CollectHook:
    with _hooks_lock:
        hook = _hooks.get(meter)
        if hook is None:
            hook = _hooks[meter] = _CollectHook()
            new = True
        else:
            new = False
    if new:
        meter.create_observable_counter(
            semconv.SDK_DEFERRED_OVERFLOW, [hook.observe], unit="{measurement}",
            description="Metric values the application thread recorded itself because too many "
                        "were waiting for a collection (metrics are collected too rarely).",
        )
    with state.STATE.lock:
        if drain_all not in state.STATE.shutdown_callbacks:
            state.on_shutdown(drain_all)
    return hook


def deferred_histogram(meter: Meter, name: str, unit: str = "", description: str = "", *,
                       explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
                       capacity: int = DEFAULT_CAPACITY) -> DeferredHistogram:
    """Create an SDK histogram on ``meter`` and return it deferred, drained at collection.

    >>> duration = deferred_histogram(meter, "my.duration", unit="s")  # doctest: +SKIP
    """
    histogram = meter.create_histogram(
        name, unit=unit, description=description,
        explicit_bucket_boundaries_advisory=explicit_bucket_boundaries_advisory)
    return _hook_for(meter).adopt(histogram, lambda: DeferredHistogram(histogram, capacity))


def deferred_counter(meter: Meter, name: str, unit: str = "", description: str = "", *,
                     capacity: int = DEFAULT_CAPACITY) -> DeferredCounter:
    """Create an SDK counter on ``meter`` and return it deferred, drained at collection."""
    counter = meter.create_counter(name, unit=unit, description=description)
    return _hook_for(meter).adopt(counter, lambda: DeferredCounter(counter, capacity))


def deferred_work(meter: Meter, key: str, capacity: int = DEFAULT_CAPACITY) -> DeferredWork:
    """A :class:`DeferredWork` buffer drained when ``meter``'s metrics are collected (one per
    ``key`` and meter)."""
    return _hook_for(meter).adopt(key, lambda: DeferredWork(key, capacity))


def _all_hooks() -> list[_CollectHook]:
    with _hooks_lock:
        return list(_hooks.values())


def drain_all() -> None:
    """Record every waiting value of every meter into the SDK now (a shutdown callback)."""
    for hook in _all_hooks():
        hook.drain()


def discard_pending() -> None:
    """Drop every waiting value (tests; a forked child, whose parent exports them)."""
    for hook in _all_hooks():
        for buffer in hook.buffers:
            buffer.discard()


def _reinit_in_child() -> None:
    global _hooks_lock
    _hooks_lock = threading.Lock()
    discard_pending()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_in_child)
