"""R11: every internal hook made to raise; nothing reaches the application.

User exceptions keep their identity, type and traceback; KeyboardInterrupt, SystemExit,
GeneratorExit and CancelledError are never swallowed; each failing hook is counted in
``aiobs.sdk.internal_errors{aiobs.sdk.hook}`` and logged at most once per minute; strict mode
raises :class:`InternalError`.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from aiobs_otel._core import errors
from aiobs_otel._core.wrapping import Operation, Scope, start_span
from aiobs_otel.testing import capture

HOOKS = ["open", "attach", "on_result", "on_item", "on_end"]
FAILURES: list[type[BaseException]] = [ValueError, RecursionError, TypeError]


class Boom(Exception):
    pass


class FaultyScope(Scope):
    hook_name = "rel.faulty"

    def __init__(self, span: Any, failing: str, exc: type[BaseException]) -> None:
        super().__init__(span)
        self.failing, self.exc = failing, exc

    def _maybe(self, hook: str) -> None:
        if self.failing == hook:
            raise self.exc(f"injected failure in {hook}")

    def attach(self) -> object:
        self._maybe("attach")
        return super().attach()

    def on_result(self, result: Any) -> None:
        self._maybe("on_result")

    def on_item(self, item: Any) -> None:
        self._maybe("on_item")

    def on_end(self, error: BaseException | None) -> None:
        self._maybe("on_end")


class FaultyOp(Operation):
    hook_name = "rel.faulty"

    def __init__(self, failing: str, exc: type[BaseException] = ValueError) -> None:
        self.failing, self.exc = failing, exc

    def open(self, args: Any, kwargs: Any) -> Scope:
        if self.failing == "open":
            raise self.exc("injected failure in open")
        return FaultyScope(start_span("faulty", SpanKind.INTERNAL, None), self.failing, self.exc)


def _kinds(op: Operation) -> dict[str, Any]:
    @op
    def fn(x: int) -> int:
        return x * 2

    @op
    async def coro(x: int) -> int:
        return x * 2

    @op
    def gen(x: int) -> Any:
        yield x
        yield x * 2

    @op
    async def agen(x: int) -> Any:
        yield x
        yield x * 2

    async def collect(x: int) -> list[int]:
        return [i async for i in agen(x)]

    def with_block(x: int) -> int:
        with op:
            return x * 2

    return {
        "function": lambda: fn(21),
        "coroutine": lambda: asyncio.run(coro(21)),
        "generator": lambda: list(gen(21)),
        "async_generator": lambda: asyncio.run(collect(21)),
        "with": lambda: with_block(21),
    }


EXPECTED = {"function": 42, "coroutine": 42, "generator": [21, 42], "async_generator": [21, 42],
            "with": 42}


@pytest.mark.parametrize("exc", FAILURES)
@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("kind", list(EXPECTED))
def test_rel_r11_failing_hook_never_reaches_the_app(hook, kind, exc):
    with capture(strict=False) as telemetry:
        result = _kinds(FaultyOp(hook, exc))[kind]()
        assert result == EXPECTED[kind]
        applicable = hook != "on_result" or kind in ("function", "coroutine")
        applicable = applicable and (hook != "on_item" or "generator" in kind)
        if applicable:
            counts = errors.error_counts()
            assert sum(counts.values()) >= 1, counts
            points = telemetry.metrics("aiobs.sdk.internal_errors")
            assert points and all(p.attributes["aiobs.sdk.hook"].startswith("rel.faulty")
                                  for p in points)
        # whatever failed, no span is left open
        if hook not in ("open",):
            assert telemetry.spans("faulty"), "the span must still end"


def test_rel_r11_user_exception_keeps_identity_and_traceback():
    boom = Boom("from the app")

    @FaultyOp("on_end")
    def user_code() -> None:
        raise boom

    with capture(strict=False):
        with pytest.raises(Boom) as caught:
            user_code()
    assert caught.value is boom
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert frames[-1] == "user_code"


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, GeneratorExit,
                                      asyncio.CancelledError])
def test_rel_r11_base_exceptions_from_user_code_propagate(exc_type):
    @FaultyOp("none")
    def user_code() -> None:
        raise exc_type()

    @FaultyOp("none")
    async def user_coro() -> None:
        raise exc_type()

    with capture(strict=False) as telemetry:
        with pytest.raises(exc_type):
            user_code()
        with pytest.raises(exc_type):
            asyncio.run(user_coro())
        assert len(telemetry.spans("faulty")) == 2


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_rel_r11_base_exceptions_from_hooks_are_never_swallowed(exc_type):
    @FaultyOp("on_end", exc_type)
    def user_code() -> int:
        return 1

    with capture(strict=False):
        with pytest.raises(exc_type):
            user_code()


def test_rel_r11_one_diagnostic_per_hook_per_minute(caplog):
    op = FaultyOp("on_result")

    @op
    def fn() -> int:
        return 1

    caplog.set_level(logging.WARNING, logger="aiobs_otel")
    with capture(strict=False):
        for _ in range(50):
            assert fn() == 1
    records = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert len(records) == 1
    assert errors.error_counts() == {"rel.faulty.on_result": 50}


def test_rel_r11_strict_mode_raises():
    @FaultyOp("on_result")
    def fn() -> int:
        return 1

    with capture(strict=True):
        with pytest.raises(errors.InternalError):
            fn()


def test_rel_r11_guarded_returns_default_and_keeps_going():
    @errors.guarded("rel.parse", default=-1)
    def parse(value: str) -> int:
        return int(value)

    with capture(strict=False):
        assert parse("7") == 7
        assert parse("not a number") == -1
    assert errors.error_counts() == {"rel.parse": 1}


def test_rel_r11_a_failure_while_reporting_never_recurses(monkeypatch):
    """The self-metric itself failing must not turn one error into a loop or a crash."""
    from aiobs_otel._core import otel

    def broken() -> Any:
        raise RuntimeError("meter is broken")

    monkeypatch.setattr(otel, "self_instruments", broken)

    @FaultyOp("on_end")
    def fn() -> int:
        return 3

    with capture(strict=False):
        assert fn() == 3
