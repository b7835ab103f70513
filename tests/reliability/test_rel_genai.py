"""Reliability scenarios over the GenAI layer, with the real OpenAI/Anthropic SDK clients behind
``httpx2.MockTransport`` (the fakes of tests/instrumentation): R09, R10, R11, R13, R14, R16, R23.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import secrets
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "instrumentation"))
pytest.importorskip("openai")
pytest.importorskip("httpx2")
instr_fakes = pytest.importorskip("instr_fakes")

import httpx2  # noqa: E402
from instr_fakes import (  # noqa: E402
    MESSAGES,
    FakeLLM,
    chat_chunks,
    chat_completion,
    chat_spans,
    sse,
)
from rel_support import pipeline  # noqa: E402

import aiobs_otel as aiobs  # noqa: E402
from aiobs_otel._core import errors  # noqa: E402
from aiobs_otel.setup import providers  # noqa: E402
from aiobs_otel.testing import capture  # noqa: E402

MODEL = "gpt-4o-mini"
# Metric attributes the GenAI layer may use (the conventions' allow-list, plus our own).
METRIC_ATTRIBUTE_ALLOW_LIST = {
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
    "gen_ai.response.model", "gen_ai.token.type", "error.type", "server.address", "server.port",
    "gen_ai.agent.name", "gen_ai.tool.name", "gen_ai.workflow.name", "aiobs.genai.cost.currency",
    "aiobs.genai.pricing.source", "aiobs.sdk.hook", "aiobs.sdk.signal", "aiobs.sdk.drop.reason",
    "otel.metric.overflow", "gen_ai.conversation.id", "gen_ai.data_source.id",
}


@pytest.fixture
def fake() -> FakeLLM:
    """The fake provider behind httpx2.MockTransport (from tests/instrumentation)."""
    return FakeLLM()


@pytest.fixture
def instrumented() -> Any:
    from aiobs_otel.instrumentation import instrument, uninstrument

    instrument("openai", "anthropic")
    yield
    uninstrument("openai", "anthropic")


def _client(fake_llm: Any, **kwargs: Any) -> Any:
    import openai

    kwargs.setdefault("api_key", "sk-test-not-a-canary-0000000000")
    kwargs.setdefault("base_url", "http://llm.test:8080/v1")
    return openai.OpenAI(max_retries=0, http_client=httpx2.Client(
        transport=httpx2.MockTransport(fake_llm.handle)), **kwargs)


# --- R13: streams through the real SDK, every ending ------------------------------------------

STREAM_ENDINGS = ["drained", "break", "close", "abandoned", "provider_error", "user_error",
                  "with_exit", "no_usage"]


class UserError(Exception):
    pass


def _stream_once(client: Any, fake_llm: Any, ending: str) -> None:
    usage = None if ending == "no_usage" else {"prompt_tokens": 3, "completion_tokens": 2,
                                               "total_tokens": 5}
    payload = sse(chat_chunks(("a", "b", "c", "d"), usage=usage))
    fake_llm.stream(payload, fail_after=2 if ending == "provider_error" else None)
    kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "stream": True}
    if usage is not None:
        kwargs["stream_options"] = {"include_usage": True}
    stream = client.chat.completions.create(**kwargs)
    if ending in ("drained", "no_usage"):
        list(stream)
    elif ending == "break":
        for _ in stream:
            break
    elif ending == "close":
        next(iter(stream))
        stream.close()
    elif ending == "abandoned":
        next(iter(stream))
        del stream
    elif ending == "provider_error":
        import openai

        with pytest.raises((httpx2.ReadError, openai.APIConnectionError)):
            list(stream)
    elif ending == "user_error":
        with pytest.raises(UserError):
            for _ in stream:
                raise UserError()
    elif ending == "with_exit":
        with stream:
            next(iter(stream))


@pytest.mark.parametrize("ending", STREAM_ENDINGS)
def test_rel_r13_sdk_streams_every_ending_ends_each_span_once(fake, instrumented, ending,
                                                               caplog):
    runs = 100
    client = _client(fake)
    with capture() as telemetry:
        for _ in range(runs):
            _stream_once(client, fake, ending)
        gc.collect()
        spans = chat_spans(telemetry)
        assert len(spans) == runs
        assert len({s.context.span_id for s in spans}) == runs
        assert all(s.parent is None for s in spans)
        if ending == "no_usage":
            assert all("gen_ai.usage.input_tokens" not in s.attributes for s in spans)
        if ending == "drained":
            assert all(s.attributes["gen_ai.usage.input_tokens"] == 3 for s in spans)
    bad = [r for r in caplog.records
           if "ended span" in r.getMessage() or "detach" in r.getMessage().lower()]
    assert bad == []


# --- R16: threads and tasks, exact token sums ---------------------------------------------------


def _token_sums(telemetry: Any) -> dict[str, float]:
    sums: dict[str, float] = {}
    for point in telemetry.metrics("gen_ai.client.token.usage"):
        kind = point.attributes.get("gen_ai.token.type")
        sums[kind] = sums.get(kind, 0) + point.sum
    return sums


def test_rel_r16_64_threads_token_sums_exact_and_parenting_right(fake, instrumented):
    fake.default = lambda req: httpx2.Response(200, json=chat_completion())
    client = _client(fake)

    @aiobs.workflow("rel-thread")
    def one(i: int) -> str:
        response = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        return str(response.choices[0].message.content)

    with capture() as telemetry:
        with ThreadPoolExecutor(64) as pool:
            results = list(pool.map(one, range(64 * 10)))
        assert results == ["Hello!"] * 640
        sums = _token_sums(telemetry)
        assert sums.get("input") == 640 * 12
        assert sums.get("output") == 640 * 5
        spans = telemetry.spans()
        by_id = {s.context.span_id: s for s in spans}
        chats = chat_spans(telemetry)
        llm = [s for s in chats if s.name.startswith("chat")]
        assert len(llm) == 640
        assert all(s.parent is not None and by_id[s.parent.span_id].name.endswith("rel-thread")
                   for s in llm)


def test_rel_r16_2k_asyncio_tasks_token_sums_exact(fake, instrumented):
    import openai

    fake.default = lambda req: httpx2.Response(200, json=chat_completion())

    async def main() -> list[str]:
        client = openai.AsyncOpenAI(api_key="sk-test-x-0000000000000000", max_retries=0,
                                    base_url="http://llm.test:8080/v1",
                                    http_client=httpx2.AsyncClient(
                                        transport=httpx2.MockTransport(fake.handle)))

        @aiobs.agent("rel-task")
        async def one(i: int) -> str:
            await asyncio.sleep(0)
            response = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
            return str(response.choices[0].message.content)

        return await asyncio.gather(*(one(i) for i in range(2_000)))

    with capture() as telemetry:
        assert asyncio.run(main()) == ["Hello!"] * 2_000
        sums = _token_sums(telemetry)
        assert sums.get("input") == 2_000 * 12 and sums.get("output") == 2_000 * 5
        spans = telemetry.spans()
        by_id = {s.context.span_id: s for s in spans}
        llm = [s for s in chat_spans(telemetry) if s.name.startswith("chat")]
        assert len(llm) == 2_000
        parents = {s.parent.span_id for s in llm}
        assert len(parents) == 2_000, "two tasks' calls share a parent: context crosstalk"
        assert all(by_id[p].name.endswith("rel-task") for p in parents)


# --- R14: double instrumentation, cycles, coexistence -------------------------------------------


def test_rel_r14_instrument_uninstrument_cycles_never_stack(fake):
    import openai.resources.chat.completions as completions

    from aiobs_otel.instrumentation import instrument, uninstrument

    original = completions.Completions.__dict__["create"]
    fake.default = lambda req: httpx2.Response(200, json=chat_completion())
    client = _client(fake)
    for _ in range(300):
        instrument("openai")
        instrument("openai")
        uninstrument("openai")
        uninstrument("openai")
    assert completions.Completions.__dict__["create"] is original
    instrument("openai")
    instrument("openai")
    try:
        with capture() as telemetry:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
            assert len(chat_spans(telemetry)) == 1
    finally:
        uninstrument("openai")
    assert completions.Completions.__dict__["create"] is original


@pytest.mark.reliability  # nox -s reliability installs opentelemetry-instrumentation-openai-v2
def test_rel_r14_coexists_with_the_official_openai_instrumentation(fake, instrumented):
    contrib = pytest.importorskip("opentelemetry.instrumentation.openai_v2")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    theirs = InMemorySpanExporter()
    their_provider = TracerProvider(shutdown_on_exit=False)
    their_provider.add_span_processor(SimpleSpanProcessor(theirs))
    instrumentor = contrib.OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=their_provider)
    try:
        fake.json(chat_completion())
        fake.stream(sse(chat_chunks(usage={"prompt_tokens": 1, "completion_tokens": 1,
                                           "total_tokens": 2})))
        client = _client(fake)
        with capture() as telemetry:
            response = client.chat.completions.create(model=MODEL, messages=MESSAGES)
            assert response.choices[0].message.content == "Hello!"
            chunks = list(client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True,
                stream_options={"include_usage": True}))
            assert chunks
            assert len(chat_spans(telemetry)) == 2
    finally:
        instrumentor.uninstrument()
    assert len(theirs.get_finished_spans()) == 2


# --- R11: GenAI hooks made to raise ---------------------------------------------------------------

GENAI_HOOKS = [
    ("aiobs_otel._core.genai", "compute_cost"),
    ("aiobs_otel._core.genai", "redact"),
    ("aiobs_otel._core.genai", "to_bounded_json"),
]


@pytest.mark.parametrize("exc", [ValueError, RecursionError])
@pytest.mark.parametrize("target", GENAI_HOOKS, ids=lambda t: t[1])
def test_rel_r11_genai_hooks_raising_never_reach_the_app(fake, instrumented, monkeypatch,
                                                          target, exc):
    import importlib

    module = importlib.import_module(target[0])
    if not hasattr(module, target[1]):
        pytest.skip(f"{target[0]} has no {target[1]}")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise exc(f"injected into {target[1]}")

    monkeypatch.setattr(module, target[1], broken)
    fake.json(chat_completion())
    fake.stream(sse(chat_chunks(usage={"prompt_tokens": 1, "completion_tokens": 1,
                                       "total_tokens": 2})))
    client = _client(fake)
    with capture(strict=False, capture_content="SPAN_AND_EVENT") as telemetry:
        response = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert response.choices[0].message.content == "Hello!"
        chunks = list(client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
        assert len(chat_spans(telemetry)) == 2
    assert sum(errors.error_counts().values()) >= 1


@pytest.mark.parametrize("method", ["parse_response", "new_accumulator"])
def test_rel_r11_adapter_failures_never_reach_the_app(fake, instrumented, monkeypatch, method):
    from aiobs_otel.instrumentation._adapters import openai as openai_adapters

    adapter_type = type(openai_adapters.CHAT)

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("adapter bug")

    monkeypatch.setattr(adapter_type, method, broken)
    fake.json(chat_completion())
    fake.stream(sse(chat_chunks()))
    client = _client(fake)
    with capture(strict=False) as telemetry:
        assert client.chat.completions.create(model=MODEL, messages=MESSAGES).id == "chatcmpl-123"
        assert len(list(client.chat.completions.create(model=MODEL, messages=MESSAGES,
                                                       stream=True))) == 3
        assert len(chat_spans(telemetry)) == 2


def test_rel_r11_user_error_from_the_sdk_keeps_identity(fake, instrumented):
    import openai

    fake.status(400, {"error": {"message": "bad request", "type": "invalid_request_error"}})
    client = _client(fake)
    with capture() as telemetry:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert caught.value.status_code == 400
        [span] = chat_spans(telemetry)
        assert span.attributes["error.type"]


# --- R09: content bounded by bytes --------------------------------------------------------------


def test_rel_r09_one_mib_prompt_with_capture_on_is_bounded(fake, instrumented):
    big = "word " * (1024 * 1024 // 5)
    fake.default = lambda req: httpx2.Response(200, json=chat_completion(content=big))
    client = _client(fake)
    with capture(capture_content="SPAN_AND_EVENT", content_max_bytes=16_384) as telemetry:
        for _ in range(3):
            client.chat.completions.create(model=MODEL,
                                           messages=[{"role": "user", "content": big}])
        for span in chat_spans(telemetry):
            for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
                value = span.attributes[key]
                assert len(value.encode("utf-8")) <= 16_384
                json.loads(value)
        records = telemetry.logs()
        assert records
        for record in records:
            size = len(json.dumps([record.log_record.body, dict(record.log_record.attributes)],
                                  default=str))
            assert size <= 4 * 16_384, f"an event carries {size} bytes of content"


# --- R10: cardinality attack ----------------------------------------------------------------------


def test_rel_r10_random_models_and_user_ids_cannot_explode_series(fake, instrumented, caplog):
    def reply(req: Any) -> Any:
        model = json.loads(req.content)["model"]
        return httpx2.Response(200, json=chat_completion(model=model))

    fake.default = reply
    client = _client(fake)
    caplog.set_level(logging.WARNING, logger="aiobs_otel")
    with capture(metric_cardinality_limit=50) as telemetry:
        telemetry.meter_provider.shutdown()  # rebuilt below with the limit, like configure()
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        from aiobs_otel._core import state
        from aiobs_otel.config import load_settings

        reader = InMemoryMetricReader(
            cardinality_limits=providers.cardinality_limits(load_settings(
                metric_cardinality_limit=50)))
        telemetry.metric_reader = reader
        telemetry.meter_provider = MeterProvider(metric_readers=[reader],
                                                 shutdown_on_exit=False)
        state.set_providers(telemetry.tracer_provider, telemetry.meter_provider,
                            telemetry.logger_provider)
        for _ in range(200):
            client.chat.completions.create(
                model=f"gpt-4o-{uuid.uuid4()}", messages=MESSAGES,
                user=str(uuid.uuid4()), metadata={"session": str(uuid.uuid4())})
        per_metric: dict[str, int] = {}
        for point in telemetry.metrics():
            per_metric[point.name] = per_metric.get(point.name, 0) + 1
            assert set(point.attributes) <= METRIC_ATTRIBUTE_ALLOW_LIST, point.attributes
        assert per_metric
        assert max(per_metric.values()) <= 51 * 2, per_metric  # token type doubles the limit
    warnings = [r for r in caplog.records if "price" in r.getMessage()]
    assert len(warnings) <= 20, f"{len(warnings)} 'no price' warnings for random model names"


# --- R23: secret canaries -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["key", "opaque"])
@pytest.mark.parametrize("mode", ["NO_CONTENT", "SPAN_AND_EVENT"])
def test_rel_r23_canary_secret_never_exported_or_logged(faulty, fast_export, fake, instrumented,
                                                         monkeypatch, caplog, tmp_path, mode,
                                                         shape):
    """A key-shaped canary (``sk-...``) and an opaque one (no pattern can find it): neither may
    appear, so credentials must be kept out structurally, not only by the scrubber."""
    token = secrets.token_hex(12)
    canary = f"sk-proj-{token}" if shape == "key" else f"{token}canary"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    caplog.set_level(logging.DEBUG)
    import openai

    fake.json(chat_completion())
    fake.json(chat_completion())
    fake.status(401, {"error": {"message": f"Incorrect API key provided: {canary}",
                                "type": "invalid_request_error", "code": "invalid_api_key"}})
    fake.json(chat_completion())
    env_client = openai.OpenAI(max_retries=0, base_url="http://llm.test:8080/v1",
                               http_client=httpx2.Client(
                                   transport=httpx2.MockTransport(fake.handle)))
    kwargs_client = _client(
        fake, api_key=canary, default_headers={"X-Api-Key": canary, "Authorization-2": canary},
        base_url=f"http://user:{canary}@llm.test:8080/v1?key={canary}&sig={canary}",
        default_query={"key": canary})
    with pipeline(endpoint=faulty.http_endpoint, capture_content=mode, sink_dir=tmp_path):
        env_client.chat.completions.create(model=MODEL, messages=MESSAGES)
        kwargs_client.chat.completions.create(model=MODEL, messages=MESSAGES,
                                              extra_headers={"api-key": canary})
        with pytest.raises(openai.AuthenticationError):
            kwargs_client.chat.completions.create(model=MODEL, messages=MESSAGES)
        try:
            with aiobs.llm_call(provider="openai", model=MODEL) as call:
                raise RuntimeError(f"failed with key {canary}")
        except RuntimeError:
            pass
        del call
        assert providers.force_flush(timeout_s=5)
    exported = b"".join(bytes(r.SerializeToString()) for _, _, r in faulty.requests)
    assert exported, "nothing was exported"
    assert canary.encode() not in exported
    for path in tmp_path.glob("*.jsonl"):
        assert canary not in path.read_text("utf-8")
    ours = [r for r in caplog.records if r.name.startswith(("aiobs_otel", "opentelemetry"))]
    assert not [r for r in ours if canary in r.getMessage()]
