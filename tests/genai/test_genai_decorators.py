"""llm_call / agent / tool / workflow on every function kind and as context managers."""

from __future__ import annotations

import asyncio
import inspect
import pickle
import time

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import aiobs_otel as aiobs
from aiobs_otel import semconv as sc
from aiobs_otel._core import genai, wrapping
from aiobs_otel.testing import capture

COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "hello"}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3},
}


@aiobs.llm_call(provider="openai", model="gpt-4o-mini")
def module_level_ask(prompt: str, temperature: float = 0.5) -> dict:
    """Ask the model."""
    return COMPLETION


def _one(telemetry, name=None):
    spans = telemetry.spans(name)
    assert len(spans) == 1, [s.name for s in telemetry.spans()]
    return spans[0]


def test_sync_function_reads_request_and_response(aiobs_capture):
    result = module_level_ask("hi", temperature=0.2)
    assert result is COMPLETION
    span = _one(aiobs_capture)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    attrs = span.attributes
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert tuple(attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert sc.GEN_AI_INPUT_MESSAGES not in attrs  # content is off by default
    (duration,) = aiobs_capture.metrics(sc.GEN_AI_CLIENT_OPERATION_DURATION)
    assert duration.unit == "s" and duration.count == 1
    assert tuple(duration.point.explicit_bounds) == sc.GEN_AI_DURATION_BUCKETS
    tokens = {m.attributes[sc.GEN_AI_TOKEN_TYPE]: m for m in
              aiobs_capture.metrics(sc.GEN_AI_CLIENT_TOKEN_USAGE)}
    assert tokens["input"].sum == 12 and tokens["output"].sum == 3
    assert tuple(tokens["input"].point.explicit_bounds) == tuple(
        float(b) for b in sc.GEN_AI_TOKEN_BUCKETS)


def test_default_argument_and_positional_model_are_read(aiobs_capture):
    @aiobs.llm_call(provider="openai")
    def ask(model, prompt, temperature=0.7):
        return None

    ask("gpt-4.1", "x")
    span = _one(aiobs_capture)
    assert span.name == "chat gpt-4.1"
    assert span.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.7


def test_sampling_attributes_are_set_at_start(aiobs_capture, monkeypatch):
    seen = {}
    original = wrapping.start_span

    def spy(name, kind, attributes):
        seen.update(attributes or {})
        return original(name, kind, attributes)

    monkeypatch.setattr(genai, "start_span", spy)
    aiobs.llm_call(provider="openai", model="m", server_address="api.x", server_port=443)(
        lambda: None)()
    for key in (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL,
                sc.SERVER_ADDRESS, sc.SERVER_PORT):
        assert key in seen


def test_metadata_signature_and_pickling_preserved():
    assert module_level_ask.__name__ == "module_level_ask"
    assert module_level_ask.__doc__ == "Ask the model."
    assert inspect.signature(module_level_ask) == inspect.signature(module_level_ask.__wrapped__)
    assert list(inspect.signature(module_level_ask).parameters) == ["prompt", "temperature"]
    assert pickle.loads(pickle.dumps(module_level_ask)) is module_level_ask


def test_async_function(aiobs_capture):
    @aiobs.llm_call(provider="openai", model="gpt-4o-mini")
    async def ask():
        await asyncio.sleep(0)
        return COMPLETION

    assert inspect.iscoroutinefunction(ask)
    assert asyncio.run(ask()) is COMPLETION
    assert _one(aiobs_capture).attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12


def _chunks():
    base = {"id": "c2", "object": "chat.completion.chunk", "model": "gpt-4o-mini"}
    yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "he"}}]}
    yield {**base, "choices": [{"index": 0, "delta": {"content": "llo"}}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield {**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}


def test_generator_is_timed_to_last_chunk(aiobs_capture):
    @aiobs.llm_call(provider="openai", model="gpt-4o-mini", stream=True)
    def stream():
        for chunk in _chunks():
            time.sleep(0.01)
            yield chunk

    assert inspect.isgeneratorfunction(stream)
    start = time.perf_counter()
    items = list(stream())
    elapsed = time.perf_counter() - start
    assert len(items) == 4
    span = _one(aiobs_capture)
    assert (span.end_time - span.start_time) / 1e9 >= 0.04 - 1e-3
    assert (span.end_time - span.start_time) / 1e9 <= elapsed + 0.01
    attrs = span.attributes
    assert attrs[sc.GEN_AI_REQUEST_STREAM] is True
    assert attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0.01 - 1e-3
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert tuple(attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    (tpoc,) = aiobs_capture.metrics(sc.GEN_AI_CLIENT_OPERATION_TPOC)
    assert tpoc.count == 3
    (ttfc,) = aiobs_capture.metrics(sc.GEN_AI_CLIENT_OPERATION_TTFC)
    assert ttfc.count == 1


def test_async_generator_and_early_close(aiobs_capture):
    @aiobs.llm_call(provider="openai", model="gpt-4o-mini")
    async def stream():
        for chunk in _chunks():
            yield chunk

    async def main():
        got = []
        async for chunk in stream():
            got.append(chunk)
        agen = stream()
        await agen.__anext__()
        await agen.aclose()
        return got

    assert len(asyncio.run(main())) == 4
    complete, abandoned = aiobs_capture.spans()
    assert complete.status.status_code is not StatusCode.ERROR
    assert abandoned.status.status_code is StatusCode.ERROR
    assert tuple(abandoned.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("error",)
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in abandoned.attributes  # never invented zeros


def test_exceptions_propagate_unchanged(aiobs_capture):
    error = ValueError("boom")

    @aiobs.llm_call(provider="openai", model="gpt-4o-mini")
    def ask():
        raise error

    with pytest.raises(ValueError) as info:
        ask()
    assert info.value is error
    span = _one(aiobs_capture)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "ValueError"
    (duration,) = aiobs_capture.metrics(sc.GEN_AI_CLIENT_OPERATION_DURATION)
    assert duration.attributes[sc.ERROR_TYPE] == "ValueError"
    assert not aiobs_capture.metrics(sc.GEN_AI_CLIENT_TOKEN_USAGE)


def test_context_manager_handle(aiobs_capture):
    with aiobs.llm_call(provider="acme", model="acme-1") as call:
        call.record_usage(input_tokens=812, output_tokens=64, cache_read_input_tokens=512)
        call.set_response_model("acme-1-2026")
        call.set_finish_reasons("stop")
        call.record_usage(output_tokens=-3, reasoning_tokens="many")  # garbage is ignored
    span = _one(aiobs_capture)
    assert span.name == "chat acme-1"
    attrs = span.attributes
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 812
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 64
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 512
    assert sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS not in attrs
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == "acme-1-2026"


def test_async_with_and_error(aiobs_capture):
    async def main():
        async with aiobs.llm_call(provider="anthropic", model="claude-haiku-4-5") as call:
            call.set_response({"type": "message", "id": "msg_1", "model": "claude-haiku-4-5",
                               "role": "assistant", "content": [], "stop_reason": "end_turn",
                               "usage": {"input_tokens": 10, "output_tokens": 1,
                                         "cache_read_input_tokens": 100}})
            raise KeyError("x")

    with pytest.raises(KeyError):
        asyncio.run(main())
    span = _one(aiobs_capture)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 110
    assert span.attributes[sc.ERROR_TYPE] == "KeyError"


def test_disabled_mode_is_a_noop(monkeypatch):
    monkeypatch.setenv("AIOBS_DISABLED", "true")
    with capture() as telemetry:
        assert module_level_ask("x") is COMPLETION
        with aiobs.llm_call(provider="openai", model="m") as call:
            call.record_usage(input_tokens=1)
            call.set_response(COMPLETION)
        with aiobs.agent(name="a"), aiobs.tool(name="t"):
            pass
        assert genai.start_inference("openai", "chat", "m") is None
        assert telemetry.spans() == []
        assert telemetry.metrics() == []


def test_agent_tool_llm_parenting(aiobs_capture):
    @aiobs.tool(name="search", description="Web search")
    def search(query: str) -> list[str]:
        return [query]

    @aiobs.agent(name="planner")
    def plan():
        search("q")
        return module_level_ask("p")

    with aiobs.workflow(name="support"):
        plan()
    spans = {s.name: s for s in aiobs_capture.spans()}
    wf = spans["invoke_workflow support"]
    ag = spans["invoke_agent planner"]
    tl = spans["execute_tool search"]
    llm = spans["chat gpt-4o-mini"]
    assert ag.parent.span_id == wf.context.span_id
    assert tl.parent.span_id == ag.context.span_id
    assert llm.parent.span_id == ag.context.span_id
    assert tl.kind is SpanKind.INTERNAL and ag.kind is SpanKind.INTERNAL
    assert tl.attributes[sc.GEN_AI_TOOL_NAME] == "search"
    assert tl.attributes[sc.GEN_AI_TOOL_TYPE] == "function"
    assert sc.GEN_AI_TOOL_CALL_ARGUMENTS not in tl.attributes  # content off
    assert ag.attributes[sc.GEN_AI_AGENT_NAME] == "planner"
    assert wf.attributes[sc.GEN_AI_WORKFLOW_NAME] == "support"
    assert aiobs_capture.metrics(sc.GEN_AI_EXECUTE_TOOL_DURATION)[0].count == 1
    assert aiobs_capture.metrics(sc.GEN_AI_INVOKE_AGENT_DURATION)[0].count == 1
    assert aiobs_capture.metrics(sc.GEN_AI_INVOKE_WORKFLOW_DURATION)[0].count == 1


def test_tools_under_gather_are_parented_to_the_agent(aiobs_capture):
    @aiobs.tool(name="fetch")
    async def fetch(i: int) -> int:
        await asyncio.sleep(0.001)
        return i

    @aiobs.agent(name="fanout")
    async def run():
        return await asyncio.gather(*(fetch(i) for i in range(5)))

    assert asyncio.run(run()) == [0, 1, 2, 3, 4]
    agent_span = _one(aiobs_capture, "invoke_agent fanout")
    tools = aiobs_capture.spans("execute_tool fetch")
    assert len(tools) == 5
    assert all(t.parent.span_id == agent_span.context.span_id for t in tools)


def test_latest_profile_invocation_is_nested():
    with capture(genai_semconv_latest=True) as telemetry:
        with aiobs.agent(name="outer"), aiobs.agent(name="inner"):
            pass
        points = telemetry.metrics(sc.GEN_AI_INVOCATION_DURATION)
        nested = sorted(p.attributes[sc.GEN_AI_INVOCATION_IS_NESTED] for p in points)
        assert nested == [False, True]
        assert not telemetry.metrics(sc.GEN_AI_INVOKE_AGENT_DURATION)


def test_nested_start_inference_enriches_the_outer_span(aiobs_capture):
    @aiobs.llm_call(provider="openai")
    def ask():
        inner = genai.start_inference(
            "openai", "chat", "gpt-4o", {"model": "gpt-4o", "temperature": 0.1},
            adapter="openai", server_address="api.openai.com", server_port=443)
        assert inner is not None and inner.is_nested
        inner.set_response(COMPLETION)
        inner.finish()
        return COMPLETION

    ask()
    span = _one(aiobs_capture)
    assert span.name == "chat gpt-4o"
    assert span.attributes[sc.SERVER_ADDRESS] == "api.openai.com"
    assert span.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.1
    tokens = aiobs_capture.metrics(sc.GEN_AI_CLIENT_TOKEN_USAGE)
    assert sum(m.sum for m in tokens) == 15  # not double counted


def test_nested_stream_outliving_the_decorated_function_defers_the_end(aiobs_capture):
    @aiobs.llm_call(provider="openai", model="gpt-4o-mini")
    def ask():
        inner = genai.start_inference("openai", "chat", "gpt-4o-mini", {"stream": True},
                                      adapter="openai", stream=True)

        def consume():
            for chunk in _chunks():
                inner.on_chunk(chunk)
                yield chunk
            inner.finish()

        return consume()

    stream = ask()
    assert aiobs_capture.spans() == []  # still open while the stream is read
    assert len(list(stream)) == 4
    span = _one(aiobs_capture)
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 2


def test_top_level_start_inference_and_current_inference(aiobs_capture):
    inv = genai.start_inference("anthropic", "chat", "claude-sonnet-4-5",
                                {"model": "claude-sonnet-4-5", "max_tokens": 100, "top_k": 5},
                                adapter="anthropic")
    assert inv is not None and not inv.is_nested
    assert genai.current_inference() is None
    token = inv.attach()
    assert genai.current_inference() is inv
    inv.detach(token)
    inv.finish(TimeoutError())
    inv.finish()  # idempotent
    span = _one(aiobs_capture)
    assert span.attributes[sc.GEN_AI_REQUEST_TOP_K] == 5
    assert span.attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 100
    assert span.attributes[sc.ERROR_TYPE] == "TimeoutError"


def test_next_span_is_not_child_of_abandoned_stream(aiobs_capture):
    @aiobs.llm_call(provider="openai", model="m")
    def stream():
        yield from _chunks()

    gen = stream()
    next(gen)
    del gen  # garbage-collected mid-stream
    module_level_ask("after")
    first, second = aiobs_capture.spans()
    assert first.status.status_code is StatusCode.ERROR
    assert second.parent is None


def test_tools_in_a_thread_pool_keep_their_parent(aiobs_capture):
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    @aiobs.tool(name="work")
    def work(i: int) -> int:
        time.sleep(0.001)
        return i * 2

    with aiobs.agent(name="pool"), ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(contextvars.copy_context().run, work, i) for i in range(8)]
        assert [f.result() for f in futures] == [i * 2 for i in range(8)]
    agent_span = _one(aiobs_capture, "invoke_agent pool")
    tools = aiobs_capture.spans("execute_tool work")
    assert len(tools) == 8
    assert {t.parent.span_id for t in tools} == {agent_span.context.span_id}
    assert len({t.context.span_id for t in tools}) == 8


def test_instrumentor_path_with_content_and_abandon():
    with capture(capture_content="SPAN_ONLY") as telemetry:
        inv = genai.start_inference(
            "openai", "chat", "gpt-4o-mini",
            {"model": "gpt-4o-mini", "stream": True, "n": 2,
             "messages": [{"role": "user", "content": "hi"}]},
            adapter="openai", stream=True)
        inv.on_chunk({"id": "c", "model": "gpt-4o-mini", "object": "chat.completion.chunk",
                      "choices": [{"index": 0, "delta": {"content": "par"}},
                                  {"index": 1, "delta": {"content": "x"},
                                   "finish_reason": "stop"}]})
        inv.abandon("closed")
        inv.abandon("gc")  # ends once
        (span,) = telemetry.spans()
    attrs = span.attributes
    assert span.status.status_code is StatusCode.ERROR
    assert attrs[sc.ERROR_TYPE].endswith("AbandonedStreamError")
    assert tuple(attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("error", "stop")
    assert attrs[sc.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert '"content":"par"' in attrs[sc.GEN_AI_OUTPUT_MESSAGES]  # partial output kept
    assert '"content":"hi"' in attrs[sc.GEN_AI_INPUT_MESSAGES]
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in attrs


def test_handle_content_setters():
    with capture(capture_content="SPAN_AND_EVENT") as telemetry:
        with aiobs.llm_call(provider="acme", model="acme-1") as call:
            call.set_input_messages("question?")
            call.set_system_instructions("be kind")
            call.set_tool_definitions([{"type": "function", "name": "f"}])
            call.set_output_messages("answer!")
            call.set_request(temperature=0.9, max_tokens=5, stop_sequences="X", seed=3)
        (span,) = telemetry.spans()
        (event,) = telemetry.logs(sc.GEN_AI_EVENT_INFERENCE_DETAILS)
    attrs = span.attributes
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.9
    assert tuple(attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("X",)
    assert '"content":"be kind"' in attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert '"content":"answer!"' in attrs[sc.GEN_AI_OUTPUT_MESSAGES]
    assert event.log_record.attributes[sc.GEN_AI_REQUEST_SEED] == 3
    with capture(), pytest.raises(aiobs_internal_error()):  # strict mode surfaces the misuse
        with aiobs.llm_call(provider="acme", model="acme-1") as call:
            call.set_request(bogus=1)


def aiobs_internal_error():
    from aiobs_otel._core.errors import InternalError

    return InternalError


def test_bad_arguments_fail_at_construction():
    with pytest.raises(ValueError):
        aiobs.llm_call(provider="")
    with pytest.raises(TypeError):
        aiobs.llm_call(provider="openai", temprature=0.1)
    with pytest.raises(ValueError):
        aiobs.agent(name="")


def test_metric_exemplars_point_at_the_inference_span(aiobs_capture):
    with aiobs.agent(name="outer"):
        module_level_ask("x")
    llm = _one(aiobs_capture, "chat gpt-4o-mini")
    (duration,) = aiobs_capture.metrics(sc.GEN_AI_CLIENT_OPERATION_DURATION)
    exemplars = list(getattr(duration.point, "exemplars", None) or [])
    if not exemplars:
        pytest.skip("this SDK build records no exemplars")
    assert exemplars[0].span_id == llm.context.span_id


def test_sdk_call_inside_a_tool_inside_an_llm_call_is_its_own_span(aiobs_capture):
    @aiobs.tool(name="sub")
    def sub():
        inner = genai.start_inference("openai", "chat", "gpt-4o", {"model": "gpt-4o"},
                                      adapter="openai")
        assert inner is not None and not inner.is_nested
        inner.finish()

    with aiobs.llm_call(provider="openai", model="gpt-4o-mini"):
        sub()
    names = sorted(s.name for s in aiobs_capture.spans())
    assert names == ["chat gpt-4o", "chat gpt-4o-mini", "execute_tool sub"]
    inner = _one(aiobs_capture, "chat gpt-4o")
    assert inner.parent.span_id == _one(aiobs_capture, "execute_tool sub").context.span_id
