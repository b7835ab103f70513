"""R12: the wrapper matrix over ``_core/wrapping.py``.

Every kind of callable keeps its metadata, signature and kind; generators keep send/throw/close
and their return value; decorated callables pickle by reference, run in a ``spawn`` pool and
survive copy/deepcopy; deep recursion works.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import multiprocessing
import pickle
import sys
from typing import Any

import pytest
import rel_workers
from rel_support import Demo

from aiobs_otel.testing import capture


def plain(a: int, b: int = 2, *args: int, key: str = "k", **kw: Any) -> int:
    """Plain docstring."""
    return a + b


async def coro(a: int, *, b: int = 1) -> int:
    """Coroutine docstring."""
    await asyncio.sleep(0)
    return a + b


def gen(n: int):  # type: ignore[no-untyped-def]
    """Generator docstring."""
    total = 0
    for i in range(n):
        received = yield i
        if received:
            total += received
    return total


async def agen(n: int):  # type: ignore[no-untyped-def]
    """Async generator docstring."""
    for i in range(n):
        received = yield i
        if received:
            yield received


@pytest.mark.parametrize("fn", [plain, coro, gen, agen], ids=lambda f: f.__name__)
def test_rel_r12_metadata_signature_and_kind_preserved(fn):
    wrapped = Demo()(fn)
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        assert getattr(wrapped, attr) == getattr(fn, attr)
    assert wrapped.__wrapped__ is fn
    assert inspect.signature(wrapped) == inspect.signature(fn)
    for check in (inspect.iscoroutinefunction, inspect.isgeneratorfunction,
                  inspect.isasyncgenfunction):
        assert check(wrapped) == check(fn)


def test_rel_r12_generator_send_throw_close_and_return_value():
    with capture() as telemetry:
        g = Demo()(gen)(5)
        assert next(g) == 0
        assert g.send(10) == 1
        assert g.send(5) == 2
        with pytest.raises(StopIteration) as stop:
            while True:
                g.send(None)
        assert stop.value.value == 15

        g2 = Demo()(gen)(5)
        next(g2)
        with pytest.raises(KeyError):
            g2.throw(KeyError("x"))

        g3 = Demo()(gen)(5)
        next(g3)
        g3.close()
        assert inspect.getgeneratorstate(g3) == inspect.GEN_CLOSED

        def outer():  # yield from through the wrapper
            return (yield from Demo()(gen)(3))

        assert list(outer()) == [0, 1, 2]
        assert len(telemetry.spans("demo.call")) == 4


def test_rel_r12_generator_throw_handled_inside_keeps_going():
    def resilient():
        for i in range(3):
            try:
                yield i
            except ValueError:
                yield "handled"

    with capture() as telemetry:
        g = Demo()(resilient)()
        assert next(g) == 0
        assert g.throw(ValueError()) == "handled"
        assert next(g) == 1
        assert list(g) == [2]
        [span] = telemetry.spans("demo.call")
        assert span.status.is_ok or span.status.status_code.name == "UNSET"


def test_rel_r12_async_generator_asend_athrow_aclose():
    async def main() -> None:
        g = Demo()(agen)(3)
        assert await g.__anext__() == 0
        assert await g.asend(7) == 7
        assert await g.__anext__() == 1
        with pytest.raises(KeyError):
            await g.athrow(KeyError("x"))
        g2 = Demo()(agen)(3)
        await g2.__anext__()
        await g2.aclose()

    with capture() as telemetry:
        asyncio.run(main())
        spans = telemetry.spans("demo.call")
        assert len(spans) == 2
        assert all(s.end_time is not None for s in spans)


def test_rel_r12_context_managers_sync_and_async():
    op = Demo()

    async def main() -> int:
        async with op as handle:
            assert handle
            return 1

    with capture() as telemetry:
        with op as handle:
            assert handle
        assert asyncio.run(main()) == 1
        assert len(telemetry.spans("demo.call")) == 2


class Methods:
    __slots__ = ("base",)

    def __init__(self) -> None:
        self.base = 10

    @Demo()
    def instance(self, x: int) -> int:
        return self.base + x

    @classmethod
    @Demo()
    def klass(cls, x: int) -> str:
        return f"{cls.__name__}:{x}"

    @staticmethod
    @Demo()
    def static(x: int) -> int:
        return -x

    @property
    @Demo()
    def prop(self) -> int:
        return self.base * 2

    @Demo()
    async def async_method(self, x: int) -> int:
        return self.base - x


class Outer:
    @Demo()
    @classmethod
    def klass_outer(cls, x: int) -> str:
        return f"{cls.__name__}:{x}"

    @Demo()
    @staticmethod
    def static_outer(x: int) -> int:
        return x * 3


class CallableObject:
    def __call__(self, x: int) -> int:
        return x * 5


class AsyncCallableObject:
    async def __call__(self, x: int) -> int:
        return x * 7


def test_rel_r12_methods_of_every_kind():
    with capture() as telemetry:
        m = Methods()
        assert m.instance(1) == 11
        assert Methods.klass(2) == "Methods:2"
        assert m.klass(2) == "Methods:2"
        assert Methods.static(3) == -3 and m.static(3) == -3
        assert m.prop == 20
        assert asyncio.run(m.async_method(4)) == 6
        assert len(telemetry.spans("demo.call")) == 7


def test_rel_r12_decorator_above_classmethod_and_staticmethod():
    with capture() as telemetry:
        assert Outer.klass_outer(1) == "Outer:1"
        assert Outer().klass_outer(1) == "Outer:1"
        assert Outer.static_outer(2) == 6
        assert Outer().static_outer(2) == 6
        assert len(telemetry.spans("demo.call")) == 4


def test_rel_r12_partials_and_callable_objects():
    with capture() as telemetry:
        assert Demo()(functools.partial(plain, 1))(5) == 6
        assert Demo()(functools.partial(coro, b=3)) is not None
        assert asyncio.run(Demo()(functools.partial(coro, b=3))(1)) == 4
        assert Demo()(CallableObject())(2) == 10
        wrapped_async = Demo()(AsyncCallableObject())
        assert inspect.iscoroutinefunction(wrapped_async)
        assert asyncio.run(wrapped_async(1)) == 7
        assert len(telemetry.spans("demo.call")) == 4


def test_rel_r12_deep_recursion():
    @Demo()
    def depth(n: int) -> int:
        return 0 if n == 0 else 1 + depth(n - 1)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        with capture() as telemetry:
            assert depth(500) == 500
            spans = telemetry.spans("demo.call")
            assert len(spans) == 501
            assert len({s.context.trace_id for s in spans}) == 1
    finally:
        sys.setrecursionlimit(limit)


def test_rel_r12_pickle_copy_and_deepcopy():
    for fn in (rel_workers.double, rel_workers.count_up, rel_workers.Service.method):
        assert pickle.loads(pickle.dumps(fn)) is fn
        assert copy.copy(fn) is fn
        assert copy.deepcopy(fn) is fn
    service = pickle.loads(pickle.dumps(rel_workers.Service()))
    assert service.method(1) == 101


def test_rel_r12_runs_in_a_spawn_pool():
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        assert pool.map(rel_workers.double, range(6)) == [0, 2, 4, 6, 8, 10]
