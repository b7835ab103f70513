"""Per-call and per-chunk cost of the OpenAI auto-instrumentation, against baselines in one run.

(a) the bare OpenAI client (uninstrumented) on a transport that returns canned bytes at once,
(b) the same call inside a hand-written raw OpenTelemetry SDK span with the same attributes and
    the same metric points (duration, token usage, cost; for streams also time to first chunk
    and one time-per-output-chunk point per later chunk, as the conventions ask), and
(d) the auto-instrumented client (``aiobs.instrument("openai")``),
each for a plain call and a 20-chunk stream; the per-chunk cost comes from a 200-chunk stream.
Spans go to a SimpleSpanProcessor with an exporter that drops them, metrics to an in-memory
reader, so exporting costs nothing and memory stays flat.

    pytest benchmarks/bench_instrumentation.py --benchmark-only      # pytest-benchmark tables
    python benchmarks/bench_instrumentation.py                       # a summary with ratios
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx2
import openai
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

from aiobs_otel._core import state
from aiobs_otel.config import load_settings
from aiobs_otel.instrumentation import instrument, uninstrument

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello"}]
COMPLETION = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
}).encode()


def _sse(n_chunks: int) -> bytes:
    out = []
    for i in range(n_chunks):
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
                 "choices": [{"index": 0, "delta": {"content": "tok"},
                              "finish_reason": "stop" if i == n_chunks - 1 else None}]}
        out.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    usage = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
             "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": n_chunks,
                                      "total_tokens": 12 + n_chunks}}
    out.append(b"data: " + json.dumps(usage).encode() + b"\n\ndata: [DONE]\n\n")
    return b"".join(out)


class _Canned(httpx2.BaseTransport):
    """Answers every request with fixed bytes: no network, no handler logic."""

    def __init__(self) -> None:
        self.bodies = {20: _sse(20), 200: _sse(200)}

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if body.get("stream"):
            n = 200 if body.get("n_chunks_hint") == 200 else 20
            return httpx2.Response(200, headers={"content-type": "text/event-stream"},
                                   content=self.bodies[n], request=request)
        return httpx2.Response(200, headers={"content-type": "application/json"},
                               content=COMPLETION, request=request)


class _DropSpans(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


@contextmanager
def _providers() -> Iterator[tuple[TracerProvider, MeterProvider]]:
    """SDK providers for both the raw baseline and the library, exporting nothing."""
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(_DropSpans()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()],
                                   shutdown_on_exit=False)
    with state.STATE.lock:
        saved = (state.STATE.settings, state.STATE.configured, state.STATE.tracer_provider,
                 state.STATE.meter_provider, state.STATE.logger_provider)
        state._apply_settings(load_settings({}))
        state.STATE.configured = True
        state.set_providers(tracer_provider, meter_provider, None)
    try:
        yield tracer_provider, meter_provider
    finally:
        with state.STATE.lock:
            settings, configured, tp, mp, lp = saved
            state.STATE.settings = settings
            state.STATE.configured = configured
            state.set_providers(tp, mp, lp)
        tracer_provider.shutdown()
        meter_provider.shutdown()


def _client() -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-bench", base_url="http://llm.bench/v1", max_retries=0,
                         http_client=httpx2.Client(transport=_Canned()))


def _stream_kwargs(n_chunks: int) -> dict[str, Any]:
    return {"model": MODEL, "messages": MESSAGES, "stream": True,
            "stream_options": {"include_usage": True},
            "extra_body": {"n_chunks_hint": n_chunks}}


# --- the three variants ----------------------------------------------------------------------


def bare_call(client: openai.OpenAI) -> Callable[[], Any]:
    def run() -> Any:
        return client.chat.completions.create(model=MODEL, messages=MESSAGES)
    return run


def bare_stream(client: openai.OpenAI, n_chunks: int) -> Callable[[], Any]:
    kwargs = _stream_kwargs(n_chunks)

    def run() -> Any:
        for _ in client.chat.completions.create(**kwargs):
            pass
    return run


class _RawInstruments:
    """What a hand-written instrumentation records: one span, a duration and token histograms."""

    def __init__(self, tracer_provider: TracerProvider, meter_provider: MeterProvider) -> None:
        self.tracer = tracer_provider.get_tracer("bench.raw")
        meter = meter_provider.get_meter("bench.raw")
        self.duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
        self.tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
        self.ttfc = meter.create_histogram("gen_ai.client.operation.time_to_first_chunk",
                                           unit="s")
        self.tpoc = meter.create_histogram("gen_ai.client.operation.time_per_output_chunk",
                                           unit="s")
        self.cost = meter.create_counter("aiobs.genai.cost", unit="USD")

    # The usual hand-written idiom, ``with tracer.start_as_current_span(...)``: the span is current
    # during the call and while the metrics are recorded (so they get trace exemplars, as ours do).
    def start(self, stream: bool) -> tuple[Any, dict[str, Any], float]:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": MODEL, "server.address": "llm.bench", "server.port": 80,
        }
        if stream:
            attrs["gen_ai.request.stream"] = True
        span = self.tracer.start_span(f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=attrs)
        self._token = otel_context.attach(trace.set_span_in_context(span))
        return span, attrs, time.perf_counter()

    def end(self, span: Any, attrs: dict[str, Any], t0: float, model: str, rid: str,
            finish: list[str], usage: Any, chunk_times: list[float] | None = None) -> None:
        if span.is_recording():
            span.set_attribute("gen_ai.response.model", model)
            span.set_attribute("gen_ai.response.id", rid)
            span.set_attribute("gen_ai.response.finish_reasons", finish)
            span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
            span.set_status(Status(StatusCode.UNSET))
        metric_attrs = {**attrs, "gen_ai.response.model": model}
        self.duration.record(time.perf_counter() - t0, metric_attrs)
        self.tokens.record(usage.prompt_tokens, {**metric_attrs, "gen_ai.token.type": "input"})
        self.tokens.record(usage.completion_tokens,
                           {**metric_attrs, "gen_ai.token.type": "output"})
        if chunk_times:  # the same stream metrics: first chunk, then one point per later chunk
            self.ttfc.record(chunk_times[0] - t0, metric_attrs)
            for before, after in itertools.pairwise(chunk_times):
                self.tpoc.record(after - before, metric_attrs)
        self.cost.add(0.0001, {**metric_attrs, "aiobs.genai.cost.currency": "USD"})
        otel_context.detach(self._token)
        span.end()


def raw_call(client: openai.OpenAI, raw: _RawInstruments) -> Callable[[], Any]:
    def run() -> Any:
        span, attrs, t0 = raw.start(False)
        resp = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        raw.end(span, attrs, t0, resp.model, resp.id,
                [c.finish_reason for c in resp.choices], resp.usage)
        return resp
    return run


def raw_stream(client: openai.OpenAI, raw: _RawInstruments, n_chunks: int) -> Callable[[], Any]:
    kwargs = _stream_kwargs(n_chunks)

    def run() -> Any:
        span, attrs, t0 = raw.start(True)
        model = rid = ""
        finish: list[str] = []
        usage = None
        times: list[float] = []
        for chunk in client.chat.completions.create(**kwargs):
            times.append(time.perf_counter())
            model, rid = chunk.model, chunk.id
            for choice in chunk.choices:
                if choice.finish_reason:
                    finish.append(choice.finish_reason)
            if chunk.usage is not None:
                usage = chunk.usage
        raw.end(span, attrs, t0, model, rid, finish, usage, times)
    return run


# --- the chunk path alone: pre-parsed chunks, no HTTP or SSE decoding -----------------------------


class _ListStream:
    """Stands in for ``openai.Stream`` over pre-parsed chunks (what the proxy wraps)."""

    def __init__(self, chunks: list[Any]) -> None:
        self._it = iter(chunks)

    def __iter__(self) -> _ListStream:
        return self

    def __next__(self) -> Any:
        return next(self._it)

    def close(self) -> None:
        pass


def _parsed_chunks(n_chunks: int) -> list[Any]:
    from openai.types.chat import ChatCompletionChunk

    lines = _sse(n_chunks).decode().split("\n\n")
    return [ChatCompletionChunk.model_validate(json.loads(line[6:]))
            for line in lines if line.startswith("data: {")]


def chunks_raw(raw: _RawInstruments, chunks: list[Any]) -> Callable[[], Any]:
    def run() -> Any:
        span, attrs, t0 = raw.start(True)
        model = rid = ""
        finish: list[str] = []
        usage = None
        times: list[float] = []
        for chunk in _ListStream(chunks):
            times.append(time.perf_counter())
            model, rid = chunk.model, chunk.id
            for choice in chunk.choices:
                if choice.finish_reason:
                    finish.append(choice.finish_reason)
            if chunk.usage is not None:
                usage = chunk.usage
        raw.end(span, attrs, t0, model, rid, finish, usage, times)
    return run


def chunks_aiobs(chunks: list[Any]) -> Callable[[], Any]:
    from aiobs_otel._core.genai import start_inference
    from aiobs_otel.instrumentation._streams import SyncStreamProxy

    kwargs = _stream_kwargs(len(chunks))

    def run() -> Any:
        inv = start_inference("openai", "chat", MODEL, kwargs, adapter="openai", stream=True,
                              server_address="llm.bench", server_port=80)
        for _ in SyncStreamProxy(_ListStream(chunks), inv):
            pass
    return run


def call_raw(raw: _RawInstruments) -> Callable[[], Any]:
    from openai.types.chat import ChatCompletion

    resp = ChatCompletion.model_validate(json.loads(COMPLETION))

    def run() -> Any:
        span, attrs, t0 = raw.start(False)
        raw.end(span, attrs, t0, resp.model, resp.id,
                [c.finish_reason for c in resp.choices], resp.usage)
    return run


def call_aiobs() -> Callable[[], Any]:
    """What the instrumented ``create`` adds around the SDK call, with a pre-parsed response."""
    from openai.types.chat import ChatCompletion

    from aiobs_otel.instrumentation import instrumentor
    from aiobs_otel.instrumentation._base import Target, start
    from aiobs_otel.instrumentation._streams import wrap_result

    resp = ChatCompletion.model_validate(json.loads(COMPLETION))
    spec = instrumentor("openai").spec()
    target = Target(object, "create", "chat", "openai", False)
    kwargs = {"model": MODEL, "messages": MESSAGES}
    instance = _client().chat.completions

    def run() -> Any:
        inv = start(target, spec, instance, kwargs)
        token = inv.attach()
        inv.detach(token)
        return wrap_result(inv, resp, spec.kinds)
    return run


# --- pytest-benchmark --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[openai.OpenAI, _RawInstruments]]:
    with _providers() as (tp, mp):
        yield _client(), _RawInstruments(tp, mp)


@pytest.fixture
def instrumented() -> Iterator[None]:
    instrument("openai")
    yield
    uninstrument("openai")


@pytest.mark.benchmark(group="openai-call")
def test_a_bare_call(benchmark: Any, setup: Any) -> None:
    benchmark(bare_call(setup[0]))


@pytest.mark.benchmark(group="openai-call")
def test_b_raw_span_call(benchmark: Any, setup: Any) -> None:
    benchmark(raw_call(*setup))


@pytest.mark.benchmark(group="openai-call")
def test_d_instrumented_call(benchmark: Any, setup: Any, instrumented: None) -> None:
    benchmark(bare_call(setup[0]))


@pytest.mark.benchmark(group="openai-stream-20")
def test_a_bare_stream(benchmark: Any, setup: Any) -> None:
    benchmark(bare_stream(setup[0], 20))


@pytest.mark.benchmark(group="openai-stream-20")
def test_b_raw_span_stream(benchmark: Any, setup: Any) -> None:
    benchmark(raw_stream(*setup, 20))


@pytest.mark.benchmark(group="openai-stream-20")
def test_d_instrumented_stream(benchmark: Any, setup: Any, instrumented: None) -> None:
    benchmark(bare_stream(setup[0], 20))


@pytest.mark.benchmark(group="openai-stream-200")
def test_a_bare_stream_200(benchmark: Any, setup: Any) -> None:
    benchmark(bare_stream(setup[0], 200))


@pytest.mark.benchmark(group="call-path")
def test_b_raw_call_path(benchmark: Any, setup: Any) -> None:
    benchmark(call_raw(setup[1]))


@pytest.mark.benchmark(group="call-path")
def test_d_aiobs_call_path(benchmark: Any, setup: Any) -> None:
    benchmark(call_aiobs())


@pytest.mark.benchmark(group="chunk-path-200")
def test_b_raw_chunk_path_200(benchmark: Any, setup: Any) -> None:
    benchmark(chunks_raw(setup[1], _parsed_chunks(200)))


@pytest.mark.benchmark(group="chunk-path-200")
def test_d_aiobs_chunk_path_200(benchmark: Any, setup: Any) -> None:
    benchmark(chunks_aiobs(_parsed_chunks(200)))


@pytest.mark.benchmark(group="openai-stream-200")
def test_b_raw_span_stream_200(benchmark: Any, setup: Any) -> None:
    benchmark(raw_stream(*setup, 200))


@pytest.mark.benchmark(group="openai-stream-200")
def test_d_instrumented_stream_200(benchmark: Any, setup: Any, instrumented: None) -> None:
    benchmark(bare_stream(setup[0], 200))


# --- summary (python benchmarks/bench_instrumentation.py) -------------------------------------


def _median_us(fn: Callable[[], Any], rounds: int, warmup: int = 20) -> float:
    """Median CPU time of this thread per call: on a shared, busy machine wall-clock time
    mostly measures the other processes; the thread's own CPU time is what we add."""
    for _ in range(warmup):
        fn()
    samples = []
    clock = time.thread_time_ns
    for _ in range(rounds):
        t0 = clock()
        fn()
        samples.append((clock() - t0) / 1e3)
    return statistics.median(samples)


def _interleaved(variants: dict[str, Callable[[], Any]], rounds: int, repeats: int) -> dict:
    """Median per variant over several interleaved passes (drift hits every variant alike)."""
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            if name == "d":
                instrument("openai")
            try:
                results[name].append(_median_us(fn, rounds))
            finally:
                if name == "d":
                    uninstrument("openai")
    return {name: min(values) for name, values in results.items()}


def main(rounds: int = 200, repeats: int = 3) -> None:
    with _providers() as (tp, mp):
        client, raw = _client(), _RawInstruments(tp, mp)
        call = _interleaved({"a": bare_call(client), "b": raw_call(client, raw),
                             "d": bare_call(client)}, rounds, repeats)
        s20 = _interleaved({"a": bare_stream(client, 20), "b": raw_stream(client, raw, 20),
                            "d": bare_stream(client, 20)}, rounds // 2, repeats)
        s200 = _interleaved({"a": bare_stream(client, 200), "b": raw_stream(client, raw, 200),
                             "d": bare_stream(client, 200)}, rounds // 8, repeats)
        calls = _interleaved({"b": call_raw(raw), "x": call_aiobs()}, rounds, repeats)
        few, many = _parsed_chunks(20), _parsed_chunks(200)
        alone = _interleaved({"b20": chunks_raw(raw, few), "b200": chunks_raw(raw, many),
                              "x20": chunks_aiobs(few), "x200": chunks_aiobs(many)},
                             rounds // 4, repeats)
    print(f"{'case':<22}{'(a) bare':>11}{'(b) raw span':>14}{'(d) aiobs':>11}"
          f"{'b-a':>9}{'d-a':>9}{'(d-a)/(b-a)':>13}")
    for label, r in (("chat call", call), ("stream, 20 chunks", s20)):
        b_added, d_added = r["b"] - r["a"], r["d"] - r["a"]
        ratio = d_added / b_added if b_added > 0 else float("nan")
        print(f"{label:<22}{r['a']:>9.1f}us{r['b']:>12.1f}us{r['d']:>9.1f}us"
              f"{b_added:>7.1f}us{d_added:>7.1f}us{ratio:>13.2f}")
    def per_chunk(v: str) -> float:
        return ((s200[v] - s200["a"]) - (s20[v] - s20["a"])) / 180

    print(f"stream, 200 chunks: (a) {s200['a']:.1f}us (b) {s200['b']:.1f}us "
          f"(d) {s200['d']:.1f}us")
    print(f"added cost per streamed chunk: (b) raw {per_chunk('b'):.2f}us, "
          f"(d) aiobs {per_chunk('d'):.2f}us")
    print(f"call path alone (pre-parsed response, span + metrics, no SDK): (b) raw "
          f"{calls['b']:.1f}us, aiobs {calls['x']:.1f}us, ratio {calls['x'] / calls['b']:.2f}")
    raw_chunk = (alone["b200"] - alone["b20"]) / 180
    ours_chunk = (alone["x200"] - alone["x20"]) / 180
    print(f"chunk path alone (pre-parsed chunks, span + metrics, no SDK): per chunk "
          f"(b) raw {raw_chunk:.2f}us, aiobs {ours_chunk:.2f}us; per stream (20 chunks) "
          f"(b) {alone['b20']:.1f}us, aiobs {alone['x20']:.1f}us")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
