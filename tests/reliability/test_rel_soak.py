"""Long soaks (``nox -s reliability``, marker ``reliability``): latency budgets with the collector
down or blackholed (R01/R03), an unpaced burst (R08) and the 1M-call leak soak (R21).

Sizes scale with ``AIOBS_SOAK_SCALE`` (default 1.0); the whole module stays within a few minutes.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import tracemalloc

import pytest
from rel_support import Demo, pipeline, traced_call, wait_until

from aiobs_otel.setup import accounting, providers

pytestmark = pytest.mark.reliability
SCALE = float(os.environ.get("AIOBS_SOAK_SCALE", "1.0"))
MIB = 1024 * 1024


def _n(base: int) -> int:
    return max(1000, int(base * SCALE))


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": at(0.50), "p99": at(0.99), "p999": at(0.999), "max": ordered[-1]}


def _raw_sdk_call(x: int) -> int:
    """The baseline: the same span made directly on the OpenTelemetry SDK tracer."""
    from opentelemetry.trace import SpanKind

    from aiobs_otel._core.otel import tracer

    span = tracer().start_span("raw.call", kind=SpanKind.CLIENT, attributes={"demo.n": 1})
    try:
        return x + 1
    finally:
        span.end()


def _overhead(calls: int) -> tuple[dict[str, float], dict[str, float]]:
    """Per-call latency of ``traced_call`` and of the raw SDK span, interleaved, in seconds."""
    for i in range(10_000):
        traced_call(i)
        _raw_sdk_call(i)
    ours, raw = [], []
    for i in range(calls):
        start = time.perf_counter()
        traced_call(i)
        middle = time.perf_counter()
        _raw_sdk_call(i)
        ours.append(middle - start)
        raw.append(time.perf_counter() - middle)
    return _percentiles(ours), _percentiles(raw)


def _time(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - start)
    return out


@pytest.mark.parametrize("mode", ["down", "blackhole"])
def test_rel_r01_r03_latency_budget_with_collector_down_or_blackholed(faulty, mode,
                                                                      monkeypatch):
    """The budgets of the research note are absolute (p50 75 us, p99 200 us, p99.9 2 ms, max
    50 ms) on an idle 2-vCPU box; on a shared CI box they are checked relative to the raw SDK
    span measured in the same run: our call costs at most 3x the bare SDK (+ a small constant)."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")  # so no export outlives the test
    faulty.down() if mode == "down" else faulty.set("blackhole")
    with pipeline(endpoint=faulty.http_endpoint):
        ours, raw = _overhead(_n(60_000))
    faulty.up()
    faulty.set("ok")
    print(f"latency {mode}: " + ", ".join(
        f"{k}={ours[k] * 1e6:.1f}us (raw SDK {raw[k] * 1e6:.1f}us)" for k in ours))
    assert ours["p50"] <= 3 * raw["p50"] + 10e-6
    assert ours["p99"] <= 3 * raw["p99"] + 50e-6
    assert ours["p999"] <= 3 * raw["p999"] + 2e-3
    # max is reported, not asserted: on a shared box it measures the scheduler, not us


def test_rel_r08_unpaced_burst_queue_bound_and_exact_drops(faulty, fast_export):
    faulty.down()
    produced = _n(500_000)

    def dropped() -> int:
        return sum(n for (signal, _), n in accounting.dropped_counts().items()
                   if signal == "traces")

    _quiesce()  # exports of earlier tests' pipelines may still be failing into the tally
    with pipeline(endpoint=faulty.http_endpoint, metrics_exporter="none", logs_exporter="none"):
        queue = accounting._tracked[-1][1]()._queue
        for i in range(produced):
            traced_call(i)
            if i % 10_000 == 0:
                assert len(queue) <= queue.maxlen
        providers.shutdown(timeout_s=2)
        # an export still in flight at shutdown is counted when it gives up (1 s timeout)
        assert wait_until(lambda: dropped() == produced, timeout_s=5), (dropped(), produced)


def _quiesce(timeout_s: float = 15.0) -> None:
    """Wait until no earlier pipeline is still counting drops, then start a fresh tally."""
    deadline = time.monotonic() + timeout_s
    last = accounting.dropped_counts()
    while time.monotonic() < deadline:
        time.sleep(2.5)  # longer than any export timeout used in this module
        now = accounting.dropped_counts()
        if now == last:
            break
        last = now
    accounting.reset_for_tests()


def _mixed_round(i: int, op: Demo) -> None:
    traced_call(i)
    with op:
        pass

    @Demo()
    def gen(n: int):  # type: ignore[no-untyped-def]
        yield from range(n)

    for _ in gen(2):
        pass


async def _async_round(i: int) -> None:
    async with Demo():
        await asyncio.sleep(0)


def test_rel_r21_leak_soak_one_million_mixed_calls():
    calls = _n(1_000_000)
    op = Demo()
    with pipeline(traces_exporter="none", metrics_exporter="none", logs_exporter="none"):
        for i in range(100_000 if SCALE >= 1 else 10_000):  # warm-up
            _mixed_round(i, op)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        rounds = calls // 4  # each round is four wrapped calls
        for i in range(rounds):
            _mixed_round(i, op)
        asyncio.run(_many_async(2_000))
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    print(f"leak soak: {calls} calls grew traced memory by {grown / 1024:.1f} KiB")
    assert grown <= 2 * MIB


async def _many_async(n: int) -> None:
    for i in range(n):
        await _async_round(i)


def test_rel_r21_no_reference_cycles_per_call():
    with pipeline(traces_exporter="none", metrics_exporter="none", logs_exporter="none"):
        for i in range(1_000):
            traced_call(i)
        gc.collect()
        gc.disable()
        try:
            for i in range(1_000):
                traced_call(i)
            assert gc.collect() == 0
        finally:
            gc.enable()
