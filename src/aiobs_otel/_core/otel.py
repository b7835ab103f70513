"""Handles on the OpenTelemetry API (tracer, meter, logger) for every recorder.

Recorders never hold a tracer or instrument across provider changes: they call :func:`tracer`,
:func:`meter` or :func:`event_logger` (one integer compare when nothing changed), or build their
instrument sets with :func:`instrument_set`, which rebuilds them when the providers change.
The first call configures the library from the environment if nobody called ``configure()``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from opentelemetry import _logs, metrics, trace
from opentelemetry.metrics import Counter, Meter

from .. import __version__, semconv
from . import state

T = TypeVar("T")

_lock = threading.RLock()
_cache: dict[str, Any] = {}
_cache_generation = -1


def _reinit_lock_in_child() -> None:  # a lock held by another thread at fork() stays held
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_lock_in_child)


def _ensure_ready() -> None:
    if not state.STATE.configured:
        from ..setup.providers import auto_configure

        auto_configure()


def _cached(key: str, build: Callable[[], T]) -> T:
    global _cache_generation
    generation = state.STATE.generation
    if generation == _cache_generation:
        hit = _cache.get(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
    with _lock:
        if _cache_generation != state.STATE.generation:
            _cache.clear()
            _cache_generation = state.STATE.generation
        value = _cache.get(key)
        if value is None:
            value = build()
            _cache[key] = value
        return value  # type: ignore[no-any-return]


def tracer() -> trace.Tracer:
    """The library's tracer on the active tracer provider."""
    _ensure_ready()
    return _cached("tracer", _build_tracer)


def meter() -> Meter:
    """The library's meter on the active meter provider."""
    _ensure_ready()
    return _cached("meter", _build_meter)


def event_logger() -> _logs.Logger:
    """The library's OTel logger, for log events (``logger.emit(event_name=...)``)."""
    _ensure_ready()
    return _cached("logger", _build_logger)


def _build_tracer() -> trace.Tracer:
    provider = state.STATE.tracer_provider or trace.get_tracer_provider()
    return provider.get_tracer(semconv.SCOPE_NAME, __version__)  # type: ignore[no-any-return]


def _build_meter() -> Meter:
    provider = state.STATE.meter_provider or metrics.get_meter_provider()
    return provider.get_meter(semconv.SCOPE_NAME, __version__)  # type: ignore[no-any-return]


def _build_logger() -> _logs.Logger:
    provider = state.STATE.logger_provider or _logs.get_logger_provider()
    return provider.get_logger(semconv.SCOPE_NAME, __version__)  # type: ignore[no-any-return]


class InstrumentSet(Generic[T]):
    """A group of metric instruments, rebuilt whenever the providers change.

    >>> llm_instruments = InstrumentSet("llm", lambda m: m.create_counter("x"))
    >>> llm_instruments.get()  # doctest: +SKIP
    """

    def __init__(self, key: str, build: Callable[[Meter], T]) -> None:
        self._key = f"instruments:{key}"
        self._build = build
        self._memo: tuple[int, T] | None = None  # (generation, instruments): the per-call path

    def get(self) -> T:
        memo = self._memo
        stat = state.STATE
        if memo is not None and memo[0] == stat.generation and stat.configured:
            return memo[1]
        generation = stat.generation  # read first: a change meanwhile only misses the memo
        _ensure_ready()
        value = _cached(self._key, lambda: self._build(_cached("meter", _build_meter)))
        self._memo = (generation, value)
        return value


def instrument_set(key: str) -> Callable[[Callable[[Meter], T]], InstrumentSet[T]]:
    """Decorator: turn ``build(meter) -> instruments`` into a cached :class:`InstrumentSet`."""

    def wrap(build: Callable[[Meter], T]) -> InstrumentSet[T]:
        return InstrumentSet(key, build)

    return wrap


@dataclass(frozen=True)
class SelfInstruments:
    internal_errors: Counter
    dropped: Counter


@instrument_set("sdk")
def _self_instruments(m: Meter) -> SelfInstruments:
    return SelfInstruments(
        internal_errors=m.create_counter(
            semconv.SDK_INTERNAL_ERRORS, unit="{error}",
            description="Internal instrumentation errors, swallowed so the application ran on.",
        ),
        dropped=m.create_counter(
            semconv.SDK_DROPPED, unit="{item}",
            description="Telemetry items dropped, by signal and reason.",
        ),
    )


def self_instruments() -> SelfInstruments:
    return _self_instruments.get()
