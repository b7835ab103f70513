"""Per-step overhead of ``train_step`` + ``record()`` against a bare step loop, in the same run.

    pytest benchmarks/bench_training.py --benchmark-only -p no:randomly
    python benchmarks/bench_training.py          # prints µs/step for each mode

Modes: ``bare`` (the loop alone), ``default`` (metrics every step, step spans sampled away:
``step_span_every`` = 10**9), ``spans`` (a step span every step), and two SDK baselines:
``sdk_floor`` (the bare loop plus the two histogram records a step needs; in ``default`` mode
they are buffered and made on the metric-export thread at collection, so this cost moves off
the training thread) and ``raw_span`` (one raw SDK span per step with five attributes). Providers
are real SDK providers: a batch span processor with a no-op exporter and a metric reader that
is never collected during the loop, so only the hot path is measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STEPS = 2000


class _NullSpanExporter:
    def export(self, spans):
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 0) -> bool:
        return True


@contextmanager
def providers() -> Iterator[None]:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from aiobs_otel._core import state
    from aiobs_otel.config import load_settings

    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(BatchSpanProcessor(_NullSpanExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()],
                                   shutdown_on_exit=False)
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    state._apply_settings(load_settings())
    state.STATE.configured = True
    state.set_providers(tracer_provider, meter_provider, logger_provider)
    try:
        yield
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
        logger_provider.shutdown()
        state.reset()


def _work(i: int) -> float:
    return (i * 7 % 13) / 13.0


def bare_loop(steps: int = STEPS) -> None:
    data = range(steps)
    for i in iter(data):
        _work(i)


def instrumented_loop(span_every: int, steps: int = STEPS) -> None:
    import aiobs_otel as aiobs

    with aiobs.training_run(name="bench", step_span_every=span_every) as run:
        for i in run.watch_loader(range(steps)):
            with aiobs.train_step(batch_size=32) as step:
                loss = _work(i)
                step.record(loss=loss, grad_norm=1.0)


def sdk_floor_loop(steps: int = STEPS) -> None:
    from aiobs_otel._core.training import _NO_SPAN, _instruments

    instruments = _instruments.get()
    for i in iter(range(steps)):
        instruments.data_wait.record(1e-6, context=_NO_SPAN)
        _work(i)
        instruments.step_duration.record(1e-3, context=_NO_SPAN)


def raw_span_loop(steps: int = STEPS) -> None:
    from aiobs_otel._core.otel import tracer

    start_span = tracer().start_span
    for i in iter(range(steps)):
        span = start_span("train_step", attributes={"step": i, "batch": 32})
        _work(i)
        span.set_attributes({"loss": 0.5, "grad_norm": 1.0, "duration": 1e-3})
        span.end()


MODES: dict[str, Callable[[], None]] = {
    "bare": bare_loop,
    "sdk_floor": sdk_floor_loop,
    "raw_span": raw_span_loop,
    "default": lambda: instrumented_loop(10**9),
    "spans": lambda: instrumented_loop(1),
}


def test_bare_loop(benchmark) -> None:
    benchmark(bare_loop)


def test_sdk_floor(benchmark) -> None:
    with providers():
        benchmark(sdk_floor_loop)


def test_default_mode(benchmark) -> None:
    with providers():
        benchmark(MODES["default"])


def test_spans_every_step(benchmark) -> None:
    with providers():
        benchmark(MODES["spans"])


def per_step_us(repeats: int = 7) -> dict[str, tuple[float, float]]:
    """Best-of-``repeats`` (wall µs, training-thread CPU µs) per step for each mode.

    The thread CPU time is the steadier figure on a shared machine: it counts only the
    training thread's own work (export threads excluded), not time spent waiting for a core.
    """
    results: dict[str, tuple[float, float]] = {}
    with providers():
        for name, loop in MODES.items():
            loop()  # warm up
            timings = [_timed(loop) for _ in range(repeats)]
            wall = min(t[0] for t in timings)
            cpu = min(t[1] for t in timings)
            results[name] = (wall / STEPS * 1e6, cpu / STEPS * 1e6)
            from aiobs_otel._core.training import flush_histograms

            flush_histograms()  # as a metric collection would, between repeats
    return results


def _timed(loop: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.thread_time()
    loop()
    return time.perf_counter() - wall, time.thread_time() - cpu


if __name__ == "__main__":
    figures = per_step_us()
    bare_wall, bare_cpu = figures["bare"]
    print(f"{'mode':10s} {'wall µs/step':>13s} {'cpu µs/step':>12s} {'overhead (cpu)':>15s}")
    for name, (wall, cpu) in figures.items():
        print(f"{name:10s} {wall:13.2f} {cpu:12.2f} {cpu - bare_cpu:15.2f}")
