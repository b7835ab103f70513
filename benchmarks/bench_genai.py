"""Per-call and per-chunk cost of the GenAI decorator against a bare call and raw OTel code.

    pytest benchmarks/bench_genai.py --benchmark-only --benchmark-columns=min,median,ops
    python benchmarks/bench_genai.py            # one interleaved run, with the ratios

Measured in the same run, on the same SDK providers (spans to a processor that drops them,
metrics to an in-memory reader):

(a)  a bare mock call returning a typed OpenAI ``ChatCompletion``;
(b)  the same call inside a hand-written raw OpenTelemetry SDK span with the same attributes as
     ours (request, response, usage and cost attributes);
(b2) (b) plus the same metric points recorded synchronously, as hand-written code does
     (operation duration, input and output token usage, cost);
(c)  ``@aiobs.llm_call`` (span, the same attributes, the same metric points: deferred, see
     ``aiobs_otel._core.deferred``);
streams, 10 and 200 chunks, per chunk (the slope between the two): bare; raw span with the same
attributes and chunk accumulation; that plus the stream metrics recorded synchronously (time to
first chunk, one time-per-output-chunk point per later chunk); our decorated generator.

The targets: (c-a)/(b-a) <= 1.5 and our added cost per streamed chunk <= 2 us. No timed
assertions anywhere: the figures are printed, to be read against the baselines of the same run.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind

import aiobs_otel as aiobs
from aiobs_otel import semconv as sc
from aiobs_otel._core import state
from aiobs_otel.config import load_settings

try:
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    COMPLETION: Any = ChatCompletion.model_validate({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": "hello"}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})
    CHUNK: Any = ChatCompletionChunk.model_validate({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
        "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": "x"}}]})
    LAST_CHUNK: Any = ChatCompletionChunk.model_validate({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
        "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})
except ImportError:  # pragma: no cover - the benchmark needs the typed objects
    pytest.skip("needs openai (pip install aiobs-otel[openai])", allow_module_level=True)

MODEL = "gpt-4o-mini"
# What a hand-written instrumentation would price the call at (ours uses its pricing table).
PRICE_IN, PRICE_OUT = 0.15e-6, 0.6e-6


class _NoopProcessor(SpanProcessor):
    def on_end(self, span: Any) -> None:
        return None


class _DropMetrics(MetricExporter):
    def export(self, metrics_data: Any, timeout_millis: float = 10_000,
               **kwargs: Any) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


@contextmanager
def _providers(export_every_ms: int | None = None
               ) -> Iterator[tuple[TracerProvider, MeterProvider, MetricReader]]:
    """SDK providers for the raw baselines and the library. ``export_every_ms`` adds an export
    thread, as in production: it collects (and so drains our deferred values) periodically."""
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(_NoopProcessor())
    reader = InMemoryMetricReader()
    readers: list[MetricReader] = [reader]
    if export_every_ms is not None:
        readers.append(PeriodicExportingMetricReader(_DropMetrics(),
                                                     export_interval_millis=export_every_ms))
    meter_provider = MeterProvider(metric_readers=readers, shutdown_on_exit=False)
    with state.STATE.lock:
        saved = (state.STATE.settings, state.STATE.configured, state.STATE.tracer_provider,
                 state.STATE.meter_provider, state.STATE.logger_provider)
        state._apply_settings(load_settings({}))
        state.STATE.configured = True
        state.set_providers(tracer_provider, meter_provider, None)
    try:
        yield tracer_provider, meter_provider, reader
    finally:
        with state.STATE.lock:
            settings, configured, tp, mp, lp = saved
            state.STATE.settings = settings
            state.STATE.configured = configured
            state.set_providers(tp, mp, lp)
        tracer_provider.shutdown()
        meter_provider.shutdown()


# --- (a) bare -------------------------------------------------------------------------------------


def mock_call(prompt: str) -> Any:
    return COMPLETION


def mock_stream(prompt: str, n_chunks: int = 50) -> Iterator[Any]:
    for _ in range(n_chunks - 1):
        yield CHUNK
    yield LAST_CHUNK


# --- (c) ours -------------------------------------------------------------------------------------


@aiobs.llm_call(provider="openai", model=MODEL)
def decorated_call(prompt: str) -> Any:
    return COMPLETION


@aiobs.llm_call(provider="openai", model=MODEL)
def decorated_stream(prompt: str, n_chunks: int = 50) -> Iterator[Any]:
    yield from mock_stream(prompt, n_chunks)


# --- (b) / (b2) raw OpenTelemetry, the same attributes and metric points ------------------------


class _Raw:
    """A hand-written instrumentation: one span with our attributes, metrics recorded inline."""

    def __init__(self, tracer_provider: TracerProvider, meter_provider: MeterProvider,
                 metrics: bool) -> None:
        self.tracer = tracer_provider.get_tracer("bench.raw")
        self.metrics = metrics
        meter = meter_provider.get_meter("bench.raw")
        self.duration = meter.create_histogram("raw.operation.duration", unit="s")
        self.tokens = meter.create_histogram("raw.token.usage", unit="{token}")
        self.ttfc = meter.create_histogram("raw.time_to_first_chunk", unit="s")
        self.tpoc = meter.create_histogram("raw.time_per_output_chunk", unit="s")
        self.cost = meter.create_counter("raw.cost", unit="{USD}")

    def _start(self, stream: bool) -> tuple[Any, object, dict[str, Any], int]:
        attrs: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: "chat",
                                 sc.GEN_AI_PROVIDER_NAME: "openai",
                                 sc.GEN_AI_REQUEST_MODEL: MODEL}
        if stream:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
        span = self.tracer.start_span(f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=attrs)
        token = otel_context.attach(trace.set_span_in_context(span))
        return span, token, attrs, time.perf_counter_ns()

    def _end(self, span: Any, token: object, attrs: dict[str, Any], t0: int, model: str,
             rid: str, finish: list[str], usage: Any, chunk_ns: list[int] | None = None) -> None:
        cost = usage.prompt_tokens * PRICE_IN + usage.completion_tokens * PRICE_OUT
        if span.is_recording():
            end_attrs: dict[str, Any] = {
                sc.GEN_AI_RESPONSE_MODEL: model, sc.GEN_AI_RESPONSE_ID: rid,
                sc.GEN_AI_RESPONSE_FINISH_REASONS: finish,
                sc.GEN_AI_USAGE_INPUT_TOKENS: usage.prompt_tokens,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage.completion_tokens,
                sc.AIOBS_GENAI_COST: cost, sc.AIOBS_GENAI_COST_CURRENCY: "USD",
                sc.AIOBS_GENAI_PRICING_SOURCE: "hand-written",
            }
            if chunk_ns:
                end_attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (chunk_ns[0] - t0) / 1e9
                end_attrs[sc.AIOBS_GENAI_STREAM_CHUNKS] = len(chunk_ns)
            span.set_attributes(end_attrs)
        if self.metrics:  # while the span is current: exemplars point at it, as ours do
            metric_attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai",
                            sc.GEN_AI_REQUEST_MODEL: MODEL, sc.GEN_AI_RESPONSE_MODEL: model}
            self.duration.record((time.perf_counter_ns() - t0) / 1e9, metric_attrs)
            self.tokens.record(usage.prompt_tokens,
                               {**metric_attrs, sc.GEN_AI_TOKEN_TYPE: "input"})
            self.tokens.record(usage.completion_tokens,
                               {**metric_attrs, sc.GEN_AI_TOKEN_TYPE: "output"})
            if chunk_ns:
                self.ttfc.record((chunk_ns[0] - t0) / 1e9, metric_attrs)
                record = self.tpoc.record
                for before, after in itertools.pairwise(chunk_ns):
                    record((after - before) / 1e9, metric_attrs)
            self.cost.add(cost, {**metric_attrs, sc.AIOBS_GENAI_COST_CURRENCY: "USD"})
        otel_context.detach(token)  # type: ignore[arg-type]
        span.end()

    def call(self, prompt: str) -> Any:
        span, token, attrs, t0 = self._start(False)
        response = mock_call(prompt)
        self._end(span, token, attrs, t0, response.model, response.id,
                  [c.finish_reason for c in response.choices], response.usage)
        return response

    def stream(self, prompt: str, n_chunks: int) -> int:
        span, token, attrs, t0 = self._start(True)
        model = rid = ""
        finish: list[str] = []
        usage = None
        chunk_ns: list[int] = []
        clock = time.perf_counter_ns
        for chunk in mock_stream(prompt, n_chunks):
            chunk_ns.append(clock())
            model, rid = chunk.model, chunk.id
            for choice in chunk.choices:
                if choice.finish_reason:
                    finish.append(choice.finish_reason)
            if chunk.usage is not None:
                usage = chunk.usage
        self._end(span, token, attrs, t0, model, rid, finish, usage, chunk_ns)
        return len(chunk_ns)


def _drain(iterable: Any) -> int:
    count = 0
    for _ in iterable:
        count += 1
    return count


# --- pytest-benchmark -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def providers() -> Iterator[tuple[TracerProvider, MeterProvider]]:
    with _providers(export_every_ms=1000) as (tp, mp, _):
        yield tp, mp


@pytest.mark.benchmark(group="genai-call")
def test_a_bare_call(benchmark: Any) -> None:
    benchmark(mock_call, "hi")


@pytest.mark.benchmark(group="genai-call")
def test_b_raw_otel_span(benchmark: Any, providers: Any) -> None:
    benchmark(_Raw(*providers, metrics=False).call, "hi")


@pytest.mark.benchmark(group="genai-call")
def test_b2_raw_otel_span_and_metrics(benchmark: Any, providers: Any) -> None:
    benchmark(_Raw(*providers, metrics=True).call, "hi")


@pytest.mark.benchmark(group="genai-call")
def test_c_decorator(benchmark: Any, providers: Any) -> None:
    benchmark(decorated_call, "hi")


@pytest.mark.benchmark(group="genai-stream-50")
def test_s_bare_stream(benchmark: Any) -> None:
    benchmark(lambda: _drain(mock_stream("hi")))


@pytest.mark.benchmark(group="genai-stream-50")
def test_sb_raw_span_stream(benchmark: Any, providers: Any) -> None:
    benchmark(_Raw(*providers, metrics=False).stream, "hi", 50)


@pytest.mark.benchmark(group="genai-stream-50")
def test_sb2_raw_span_and_metrics_stream(benchmark: Any, providers: Any) -> None:
    benchmark(_Raw(*providers, metrics=True).stream, "hi", 50)


@pytest.mark.benchmark(group="genai-stream-50")
def test_sc_decorated_stream(benchmark: Any, providers: Any) -> None:
    benchmark(lambda: _drain(decorated_stream("hi")))


# --- summary (python benchmarks/bench_genai.py) --------------------------------------------------


def _median_us(fn: Callable[[], Any], rounds: int, warmup: int = 20) -> float:
    """Median CPU time of this thread per call (on a shared machine wall time mostly measures
    the other processes)."""
    for _ in range(warmup):
        fn()
    clock = time.thread_time_ns
    samples = []
    for _ in range(rounds):
        t0 = clock()
        fn()
        samples.append((clock() - t0) / 1e3)
    return statistics.median(samples)


def _interleaved(variants: dict[str, Callable[[], Any]], rounds: int, repeats: int,
                 between: Callable[[], None]) -> dict[str, float]:
    """Best median per variant over interleaved passes (drift hits every variant alike)."""
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            results[name].append(_median_us(fn, rounds))
            between()
    return {name: min(values) for name, values in results.items()}


def main(rounds: int = 400, repeats: int = 5) -> None:
    with _providers() as (tp, mp, reader):
        raw, raw_metrics = _Raw(tp, mp, metrics=False), _Raw(tp, mp, metrics=True)

        def collect() -> None:  # between passes, untimed: the export thread's share
            reader.collect()

        call = _interleaved({
            "a": lambda: mock_call("hi"), "b": lambda: raw.call("hi"),
            "b2": lambda: raw_metrics.call("hi"), "c": lambda: decorated_call("hi"),
        }, rounds, repeats, collect)
        streams: dict[str, Callable[[], Any]] = {}
        for n in (10, 200):
            streams.update({
                f"a{n}": lambda n=n: _drain(mock_stream("hi", n)),
                f"b{n}": lambda n=n: raw.stream("hi", n),
                f"b2{n}": lambda n=n: raw_metrics.stream("hi", n),
                f"c{n}": lambda n=n: _drain(decorated_stream("hi", n)),
            })
        stream = _interleaved(streams, max(rounds // 8, 20), repeats, collect)
        # the other half of the bill: recording the deferred points at collection
        collect()
        drained = {}
        for label, fn, count in (("call", lambda: decorated_call("hi"), 2000),
                                 ("stream200", lambda: _drain(decorated_stream("hi", 200)), 50)):
            for _ in range(count):
                fn()
            t0 = time.thread_time_ns()
            collect()
            drained[label] = (time.thread_time_ns() - t0) / 1e3 / count

    a, b, b2, c = call["a"], call["b"], call["b2"], call["c"]
    print("caller-thread CPU time, median per call, microseconds")
    print(f"{'':<26}{'(a) bare':>10}{'(b) raw span':>14}{'(b2) +metrics':>15}"
          f"{'(c) aiobs':>11}{'(c-a)/(b-a)':>13}{'(c-a)/(b2-a)':>14}")
    print(f"{'chat call':<26}{a:>10.2f}{b:>14.2f}{b2:>15.2f}{c:>11.2f}"
          f"{(c - a) / (b - a):>13.2f}{(c - a) / (b2 - a):>14.2f}")

    def slope(kind: str) -> float:
        base = (stream["a200"] - stream["a10"]) / 190
        return (stream[f"{kind}200"] - stream[f"{kind}10"]) / 190 - base

    for n in (10, 200):
        print(f"{f'stream, {n} chunks':<26}{stream[f'a{n}']:>10.1f}{stream[f'b{n}']:>14.1f}"
              f"{stream[f'b2{n}']:>15.1f}{stream[f'c{n}']:>11.1f}")
    print(f"{'added per streamed chunk':<26}{'':>10}{slope('b'):>14.2f}{slope('b2'):>15.2f}"
          f"{slope('c'):>11.2f}")
    print(f"export thread, recording our deferred points at collection: "
          f"{drained['call']:.1f} us per call, {drained['stream200']:.1f} us per 200-chunk stream")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
