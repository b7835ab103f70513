"""R13 and R16 at the wrapping layer: streams end exactly once, parenting is right under threads
and asyncio tasks, and the OpenTelemetry context is never detached out of order."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from rel_support import Demo

from aiobs_otel.testing import capture

ENDINGS = ["drained", "break", "abandoned", "provider_error", "user_error", "with_exit"]


class ProviderError(Exception):
    pass


class UserError(Exception):
    pass


@Demo()
def stream(n: int, fail_at: int | None = None):  # type: ignore[no-untyped-def]
    for i in range(n):
        if i == fail_at:
            raise ProviderError("upstream broke")
        yield i


@Demo()
async def astream(n: int, fail_at: int | None = None):  # type: ignore[no-untyped-def]
    for i in range(n):
        if i == fail_at:
            raise ProviderError("upstream broke")
        yield i


def _consume(ending: str) -> None:
    if ending == "drained":
        assert list(stream(20)) == list(range(20))
    elif ending == "break":
        for i in stream(20):
            if i == 3:
                break
    elif ending == "abandoned":
        g = stream(20)
        next(g)
        del g
    elif ending == "provider_error":
        with pytest.raises(ProviderError):
            list(stream(20, fail_at=5))
    elif ending == "user_error":
        with pytest.raises(UserError):
            for i in stream(20):
                if i == 2:
                    raise UserError()
    elif ending == "with_exit":
        with Demo():
            for i in stream(20):
                if i == 4:
                    break


async def _aconsume(ending: str) -> None:
    if ending == "drained":
        assert [i async for i in astream(20)] == list(range(20))
    elif ending in ("break", "with_exit"):
        g = astream(20)
        async for i in g:
            if i == 3:
                break
        await g.aclose()
    elif ending == "abandoned":
        g = astream(20)
        await g.__anext__()
        await g.aclose()  # asyncio's asyncgen hooks finalize abandoned ones the same way
    elif ending == "provider_error":
        with pytest.raises(ProviderError):
            [i async for i in astream(20, fail_at=5)]
    elif ending == "user_error":
        with pytest.raises(UserError):
            async for i in astream(20):
                if i == 2:
                    raise UserError()


class EndCounter(SpanProcessor):
    """A span processor that counts each span's end by span id."""

    def __init__(self) -> None:
        self.ends: Counter[int] = Counter()
        self.lock = threading.Lock()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: Any) -> None:
        with self.lock:
            self.ends[span.context.span_id] += 1

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


@pytest.fixture
def context_errors(caplog):
    caplog.set_level(logging.WARNING)
    yield lambda: [r for r in caplog.records
                   if "detach" in r.getMessage().lower() or "ended span" in r.getMessage()]


@pytest.mark.parametrize("ending", ENDINGS)
def test_rel_r13_streams_every_ending_ends_each_span_once(ending, context_errors):
    runs = int(os.environ.get("AIOBS_STREAM_RUNS", "1000"))
    with capture() as telemetry:
        ends = EndCounter()
        telemetry.tracer_provider.add_span_processor(ends)
        for _ in range(runs):
            _consume(ending)
        gc.collect()
        expected = runs * (2 if ending == "with_exit" else 1)
        assert sum(ends.ends.values()) == expected
        assert set(ends.ends.values()) == {1}
        assert trace.get_current_span() is trace.INVALID_SPAN
    assert context_errors() == []


@pytest.mark.parametrize("ending", [e for e in ENDINGS if e != "with_exit"])
def test_rel_r13_async_streams_every_ending_ends_each_span_once(ending, context_errors):
    runs = 500

    async def main() -> None:
        for _ in range(runs):
            await _aconsume(ending)

    with capture() as telemetry:
        ends = EndCounter()
        telemetry.tracer_provider.add_span_processor(ends)
        asyncio.run(main())
        gc.collect()
        assert sum(ends.ends.values()) == runs
        assert set(ends.ends.values()) == {1}
    assert context_errors() == []


def test_rel_r13_generator_context_never_leaks_into_the_consumer():
    with capture() as telemetry:
        a, b = stream(3), stream(3)
        for _ in range(3):
            next(a)
            with Demo():  # opened between items: must not become a child of either stream
                pass
            next(b)
        list(a), list(b)
        spans = telemetry.spans("demo.call")
        stream_ids = {s.context.span_id for s in spans if s.parent is None and
                      not any(c.parent and c.parent.span_id == s.context.span_id for c in spans)}
        assert all(s.parent is None for s in spans), "a span was parented to an open stream"
        assert len(stream_ids) >= 2


def _nested_call(depth: int = 2) -> tuple[int, int]:
    with Demo():
        outer = trace.get_current_span().get_span_context().span_id
        with Demo():
            inner_parent = trace.get_current_span().parent.span_id  # type: ignore[attr-defined]
    return outer, inner_parent


def test_rel_r16_64_threads_parenting_correct(context_errors):
    def worker(_: int) -> list[tuple[int, int]]:
        return [_nested_call() for _ in range(200)]

    with capture() as telemetry:
        with ThreadPoolExecutor(64) as pool:
            results = [pair for chunk in pool.map(worker, range(64)) for pair in chunk]
        assert all(outer == inner_parent for outer, inner_parent in results)
        spans = telemetry.spans("demo.call")
        assert len(spans) == 64 * 200 * 2
        by_id = {s.context.span_id: s for s in spans}
        roots = [s for s in spans if s.parent is None]
        assert len(roots) == 64 * 200
        children = [s for s in spans if s.parent is not None]
        assert all(by_id[c.parent.span_id].parent is None for c in children)
    assert context_errors() == []


def test_rel_r16_2k_asyncio_tasks_parenting_correct(context_errors):
    async def task(i: int) -> tuple[int, int]:
        async with Demo():
            outer = trace.get_current_span().get_span_context().span_id
            await asyncio.sleep(0)
            async with Demo():
                await asyncio.sleep(0)
                parent = trace.get_current_span().parent.span_id  # type: ignore[attr-defined]
            await asyncio.sleep(0)
            assert trace.get_current_span().get_span_context().span_id == outer
        return outer, parent

    async def main() -> list[tuple[int, int]]:
        return await asyncio.gather(*(task(i) for i in range(2_000)))

    with capture() as telemetry:
        results = asyncio.run(main())
        assert all(outer == parent for outer, parent in results)
        assert len(telemetry.spans("demo.call")) == 4_000
    assert context_errors() == []


def test_rel_r16_one_operation_instance_shared_by_threads_and_tasks(context_errors):
    """A module-level ``op = stage("x")`` used as ``with op:`` from many threads/tasks at once."""
    shared = Demo()
    barrier = threading.Barrier(16)

    def worker(_: int) -> int:
        ok = 0
        barrier.wait()
        for _ in range(200):
            with shared:
                span_id = trace.get_current_span().get_span_context().span_id
                with Demo():
                    parent = trace.get_current_span().parent.span_id  # type: ignore[attr-defined]
            ok += parent == span_id
            assert trace.get_current_span() is trace.INVALID_SPAN
        return ok

    async def task() -> bool:
        async with shared:
            span_id = trace.get_current_span().get_span_context().span_id
            await asyncio.sleep(0)
            async with Demo():
                parent = trace.get_current_span().parent.span_id  # type: ignore[attr-defined]
            await asyncio.sleep(0)
            return parent == span_id and (
                trace.get_current_span().get_span_context().span_id == span_id)

    async def main() -> list[bool]:
        return await asyncio.gather(*(task() for _ in range(500)))

    with capture() as telemetry:
        with ThreadPoolExecutor(16) as pool:
            assert sum(pool.map(worker, range(16))) == 16 * 200
        assert all(asyncio.run(main()))
        spans = telemetry.spans("demo.call")
        assert len(spans) == 2 * (16 * 200 + 500)
    assert context_errors() == []


def test_rel_r16_executors_and_to_thread_start_fresh_roots():
    async def main() -> None:
        async with Demo():
            await asyncio.to_thread(_nested_call)

    with capture() as telemetry:
        asyncio.run(main())
        assert len(telemetry.spans("demo.call")) == 3
