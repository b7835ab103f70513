"""Helpers of the reliability suite: our real export pipeline and a traced demo call.

``pipeline(**options)`` builds the providers exactly as ``configure()`` does (exporters wrapped
for accounting, batch processors, limits) but without installing them as OpenTelemetry globals,
which can be set only once per process; tests that need the real ``configure()`` and interpreter
exit run a subprocess instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import SpanKind

from aiobs_otel._core import errors, state
from aiobs_otel._core.otel import event_logger, meter
from aiobs_otel._core.wrapping import Operation, Scope, start_span
from aiobs_otel.config import load_settings
from aiobs_otel.setup import accounting, providers


@contextmanager
def pipeline(**options: Any) -> Iterator[Any]:
    """Our real providers and exporters for ``options``, active for the block."""
    options.setdefault("strict", False)
    settings = load_settings(**options)
    state.reset()
    errors.reset_for_tests()
    state._apply_settings(settings)
    resource = providers.build_resource(settings)
    tracer_provider = providers._tracer_provider(settings, resource)
    meter_provider = providers._meter_provider(settings, resource)
    logger_provider = providers._logger_provider(settings, resource)
    state.set_providers(tracer_provider, meter_provider, logger_provider)
    state.STATE.owns_providers = True
    state.STATE.configured = True
    accounting.install_log_limits()
    try:
        yield settings
    finally:
        providers.shutdown(timeout_s=2)
        state.reset()


class Demo(Operation):
    """A minimal operation: one span with a few attributes, like an instrumented call."""

    hook_name = "reliability.demo"

    def open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> Scope:
        return Scope(start_span("demo.call", SpanKind.CLIENT, {"demo.n": 1}))


@Demo()
def traced_call(x: int) -> int:
    return x + 1


def emit_all(n: int) -> None:
    """``n`` spans, ``n`` counter adds and ``n`` log events."""
    counter = meter().create_counter("aiobs.test.calls", unit="{call}")
    logger = event_logger()
    for i in range(n):
        traced_call(i)
        counter.add(1, {"k": "v"})
        logger.emit(event_name="aiobs.test.event", body={"i": i})


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
