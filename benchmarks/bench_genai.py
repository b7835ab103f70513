"""Per-call cost of the GenAI decorator against a bare call and a hand-written raw OTel span.

Run: ``pytest benchmarks/bench_genai.py --benchmark-only --benchmark-columns=min,median,ops``

(a) bare mock call; (b) the same call inside a raw OpenTelemetry SDK span with the same
attributes; (b2) as (b) plus the same metric recordings by hand (duration, two token-usage
points, cost); (c) ``@aiobs.llm_call``.
(s) and (sb) a 50-chunk stream, bare and through a decorated generator.
Every figure is compared with the baseline measured in the same run; the added cost of (c)
over (a) should stay within 1.5x of what (b) adds over (a). No timed assertions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
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
except ImportError:  # pragma: no cover - plain dicts of the same shape
    COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
                  "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": "hello"}}],
                  "usage": {"prompt_tokens": 12, "completion_tokens": 3}}
    CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
             "choices": [{"index": 0, "delta": {"content": "x"}}]}


class _NoopProcessor(SpanProcessor):
    def on_end(self, span: Any) -> None:
        return None


@pytest.fixture(scope="module")
def providers() -> Iterator[tuple[TracerProvider, MeterProvider]]:
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(_NoopProcessor())
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()],
                                   shutdown_on_exit=False)
    saved = (state.STATE.settings, state.STATE.configured, state.STATE.tracer_provider,
             state.STATE.meter_provider, state.STATE.logger_provider)
    state._apply_settings(load_settings({}))
    state.STATE.configured = True
    state.set_providers(tracer_provider, meter_provider, None)
    yield tracer_provider, meter_provider
    settings, configured, tp, mp, lp = saved
    if settings is not None:
        state._apply_settings(settings)
    state.STATE.configured = configured
    state.set_providers(tp, mp, lp)


def mock_call(prompt: str) -> Any:
    return COMPLETION


def mock_stream(prompt: str) -> Iterator[Any]:
    for _ in range(50):
        yield CHUNK


@aiobs.llm_call(provider="openai", model="gpt-4o-mini")
def decorated_call(prompt: str) -> Any:
    return COMPLETION


@aiobs.llm_call(provider="openai", model="gpt-4o-mini")
def decorated_stream(prompt: str) -> Iterator[Any]:
    for _ in range(50):
        yield CHUNK


def test_a_bare_call(benchmark: Any) -> None:
    benchmark(mock_call, "hi")


def _raw_span_call(tracer: Any, record_metrics: Any = None) -> Any:
    def run(prompt: str) -> Any:
        start_attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai",
                       sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"}
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT,
                                          attributes=start_attrs) as span:
            response = mock_call(prompt)
            usage = response.usage
            span.set_attributes({
                sc.GEN_AI_RESPONSE_MODEL: response.model,
                sc.GEN_AI_RESPONSE_ID: response.id,
                sc.GEN_AI_RESPONSE_FINISH_REASONS: [c.finish_reason for c in response.choices],
                sc.GEN_AI_USAGE_INPUT_TOKENS: usage.prompt_tokens,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage.completion_tokens,
            })
            if record_metrics is not None:
                record_metrics(response, start_attrs)
        return response

    return run


def test_b_raw_otel_span(benchmark: Any, providers: Any) -> None:
    if not hasattr(COMPLETION, "usage"):
        pytest.skip("needs the openai typed objects")
    tracer = providers[0].get_tracer("bench")
    benchmark(_raw_span_call(tracer), "hi")


def test_b2_raw_otel_span_and_metrics(benchmark: Any, providers: Any) -> None:
    if not hasattr(COMPLETION, "usage"):
        pytest.skip("needs the openai typed objects")
    tracer = providers[0].get_tracer("bench")
    meter = providers[1].get_meter("bench")
    duration = meter.create_histogram("d", unit="s")
    tokens = meter.create_histogram("t", unit="{token}")
    cost = meter.create_counter("c", unit="{USD}")

    def record(response: Any, attrs: dict[str, Any]) -> None:
        attrs = {**attrs, sc.GEN_AI_RESPONSE_MODEL: response.model}
        duration.record(0.001, attrs)
        tokens.record(response.usage.prompt_tokens, {**attrs, sc.GEN_AI_TOKEN_TYPE: "input"})
        tokens.record(response.usage.completion_tokens, {**attrs, sc.GEN_AI_TOKEN_TYPE: "output"})
        cost.add(0.0001, {**attrs, sc.AIOBS_GENAI_COST_CURRENCY: "USD"})

    benchmark(_raw_span_call(tracer, record), "hi")


def test_c_decorator(benchmark: Any, providers: Any) -> None:
    benchmark(decorated_call, "hi")


def test_s_bare_stream(benchmark: Any) -> None:
    benchmark(lambda: sum(1 for _ in mock_stream("hi")))


def test_sb_decorated_stream(benchmark: Any, providers: Any) -> None:
    benchmark(lambda: sum(1 for _ in decorated_stream("hi")))


def test_sr_bare_stream_with_raw_chunk_histogram(benchmark: Any, providers: Any) -> None:
    """Baseline for (sb): the same 50 chunks, one raw histogram point per chunk gap."""
    histogram = providers[1].get_meter("bench").create_histogram("gap", unit="s")
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai",
             sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini", sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini"}

    def run() -> int:
        count = 0
        for _ in mock_stream("hi"):
            if count:
                histogram.record(0.001, attrs)
            count += 1
        return count

    benchmark(run)
