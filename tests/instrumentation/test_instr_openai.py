"""The real ``openai`` client, instrumented, against a fake network: calls, streams, errors."""

from __future__ import annotations

import gc

import httpx2
import openai
import pytest
from instr_fakes import (
    MESSAGES,
    chat_chunks,
    chat_completion,
    chat_spans,
    embedding,
    is_error,
    only_span,
    run,
    sse,
)
from opentelemetry.trace import SpanKind, StatusCode

MODEL = "gpt-4o-mini"
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}


def assert_chat_span(span, *, stream: bool = False, usage: bool = True) -> None:
    a = span.attributes
    assert span.name == f"chat {MODEL}"
    assert span.kind == SpanKind.CLIENT
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == MODEL
    assert a["server.address"] == "llm.test"
    assert a["server.port"] == 8080
    assert a["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert tuple(a["gen_ai.response.finish_reasons"]) == ("stop",)
    if stream:
        assert a["gen_ai.request.stream"] is True
    else:
        assert "gen_ai.request.stream" not in a or a["gen_ai.request.stream"] is False
    if usage:
        assert a["gen_ai.usage.input_tokens"] == 12
        assert a["gen_ai.usage.output_tokens"] == 5
    else:
        assert not [k for k in a if k.startswith("gen_ai.usage.")], dict(a)
    assert span.status.status_code != StatusCode.ERROR


# --- request / response --------------------------------------------------------------------------


def test_chat_sync(telemetry, fake, openai_client):
    fake.json(chat_completion())
    resp = openai_client.chat.completions.create(model=MODEL, messages=MESSAGES,
                                                 temperature=0.2, max_tokens=50)
    assert resp.choices[0].message.content == "Hello!"
    span = only_span(telemetry)
    assert_chat_span(span)
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-123"
    assert span.attributes["gen_ai.request.temperature"] == 0.2
    assert span.attributes["gen_ai.request.max_tokens"] == 50


def test_chat_async(telemetry, fake, async_openai_client):
    fake.json(chat_completion())
    resp = run(async_openai_client.chat.completions.create(model=MODEL, messages=MESSAGES))
    assert resp.choices[0].message.content == "Hello!"
    assert_chat_span(only_span(telemetry))


def test_parse_helper_is_instrumented(telemetry, fake, openai_client):
    fake.json(chat_completion('{"answer": 4}'))
    openai_client.chat.completions.parse(model=MODEL, messages=MESSAGES)
    assert_chat_span(only_span(telemetry))


def test_sdk_call_span_is_parent_of_nothing_left_behind(telemetry, fake, openai_client):
    from opentelemetry import trace

    fake.json(chat_completion())
    openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert not trace.get_current_span().get_span_context().is_valid


def test_n_choices(telemetry, fake, openai_client):
    fake.json(chat_completion(n=3, finish=["stop", "length", "stop"]))
    openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, n=3)
    a = only_span(telemetry).attributes
    assert a["gen_ai.request.choice.count"] == 3
    assert tuple(a["gen_ai.response.finish_reasons"]) == ("stop", "length", "stop")


def test_cache_and_reasoning_tokens(telemetry, fake, openai_client):
    fake.json(chat_completion(usage={
        "prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 256},
    }))
    openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    a = only_span(telemetry).attributes
    assert a["gen_ai.usage.input_tokens"] == 1200  # already includes the cached ones
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1024
    assert a["gen_ai.usage.output_tokens"] == 300
    assert a["gen_ai.usage.reasoning.output_tokens"] == 256


def test_embeddings(telemetry, fake, openai_client, async_openai_client):
    fake.json(embedding(n=2)).json(embedding())
    openai_client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    run(async_openai_client.embeddings.create(model="text-embedding-3-small", input="a"))
    spans = chat_spans(telemetry)
    assert [s.name for s in spans] == ["embeddings text-embedding-3-small"] * 2
    a = spans[0].attributes
    assert a["gen_ai.operation.name"] == "embeddings"
    assert a["gen_ai.usage.input_tokens"] == 7
    assert "gen_ai.usage.output_tokens" not in a
    assert telemetry.metrics("gen_ai.client.operation.duration")


def test_responses_api(telemetry, fake, openai_client):
    fake.json({
        "id": "resp_1", "object": "response", "created_at": 1700000000, "model": "gpt-4o-mini",
        "status": "completed", "output": [{
            "type": "message", "id": "m1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}],
        "usage": {"input_tokens": 9, "output_tokens": 2, "total_tokens": 11,
                  "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": 0}},
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
    })
    resp = openai_client.responses.create(model=MODEL, input="hi")
    assert resp.output_text == "Hi"
    span = only_span(telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.attributes["gen_ai.usage.input_tokens"] == 9
    assert span.attributes["gen_ai.response.id"] == "resp_1"


# --- streaming ----------------------------------------------------------------------------------


def test_stream_with_usage_in_final_chunk(telemetry, fake, openai_client):
    fake.stream(sse(chat_chunks(usage=USAGE)))
    stream = openai_client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    assert isinstance(stream, openai.Stream)  # the proxy keeps isinstance working
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Hello!"
    span = only_span(telemetry)
    assert_chat_span(span, stream=True)
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-s1"
    assert telemetry.metrics("gen_ai.client.operation.time_to_first_chunk")


def test_stream_without_usage_invents_no_zeros(telemetry, fake, openai_client):
    fake.stream(sse(chat_chunks()))
    list(openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert_chat_span(only_span(telemetry), stream=True, usage=False)


def test_async_stream_with_usage(telemetry, fake, async_openai_client):
    fake.stream(sse(chat_chunks(usage=USAGE)))

    async def main():
        stream = await async_openai_client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        assert isinstance(stream, openai.AsyncStream)
        return [c async for c in stream]

    assert len(run(main())) == 4
    assert_chat_span(only_span(telemetry), stream=True)


def test_async_stream_without_usage(telemetry, fake, async_openai_client):
    fake.stream(sse(chat_chunks()))

    async def main():
        stream = await async_openai_client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True)
        return [c async for c in stream]

    run(main())
    assert_chat_span(only_span(telemetry), stream=True, usage=False)


def test_stream_n_choices_merged_by_index(telemetry, fake, openai_client):
    fake.stream(sse(chat_chunks(n=2, usage=USAGE)))
    list(openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, n=2))
    a = only_span(telemetry).attributes
    assert tuple(a["gen_ai.response.finish_reasons"]) == ("stop", "stop")


def _next_span_is_not_a_child(telemetry, fake, client, stream_span):
    fake.json(chat_completion())
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    follow = chat_spans(telemetry)[-1]
    assert follow.parent is None or follow.parent.span_id != stream_span.context.span_id
    assert follow.context.trace_id != stream_span.context.trace_id


@pytest.mark.parametrize("how", ["break", "close", "gc", "with-exit", "never-iterated"])
def test_abandoned_stream_ends_once_as_error(telemetry, fake, openai_client, how):
    fake.stream(sse(chat_chunks(("a", "b", "c", "d"))))
    stream = openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    if how == "break":
        for _chunk in stream:
            break
        del stream
        gc.collect()
    elif how == "close":
        next(iter(stream))
        stream.close()
        stream.close()  # twice: still one end
    elif how == "gc":
        next(iter(stream))
        del stream
        gc.collect()
    elif how == "with-exit":
        with stream as s:
            next(iter(s))
    elif how == "never-iterated":
        stream.close()
    span = only_span(telemetry)  # exactly one, ended once (SDK warns on a second end)
    assert is_error(span)
    assert span.attributes["gen_ai.request.stream"] is True
    _next_span_is_not_a_child(telemetry, fake, openai_client, span)


def test_break_then_close_ends_once(telemetry, fake, openai_client):
    fake.stream(sse(chat_chunks()))
    stream = openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    for _ in stream:
        break
    stream.close()
    del stream
    gc.collect()
    assert len(chat_spans(telemetry)) == 1


@pytest.mark.parametrize("how", ["break", "aclose", "gc"])
def test_async_abandoned_stream(telemetry, fake, async_openai_client, how):
    fake.stream(sse(chat_chunks(("a", "b", "c"))))

    async def main():
        stream = await async_openai_client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True)
        async for _ in stream:
            break
        if how == "aclose":
            await stream.close()
        del stream
        gc.collect()

    run(main())
    assert is_error(only_span(telemetry))


def test_stream_as_context_manager_drained(telemetry, fake, openai_client):
    fake.stream(sse(chat_chunks(usage=USAGE)))
    with openai_client.chat.completions.create(model=MODEL, messages=MESSAGES,
                                               stream=True) as stream:
        for _ in stream:
            pass
    assert_chat_span(only_span(telemetry), stream=True)


def test_user_error_inside_stream_loop(telemetry, fake, openai_client):
    fake.stream(sse(chat_chunks()))
    with pytest.raises(KeyError):
        with openai_client.chat.completions.create(model=MODEL, messages=MESSAGES,
                                                   stream=True) as stream:
            for _ in stream:
                raise KeyError("user bug")
    span = only_span(telemetry)
    assert is_error(span)
    assert "KeyError" in span.attributes["error.type"]


def test_stream_helper_manager(telemetry, fake, openai_client):
    fake.stream(sse(chat_chunks(usage=USAGE)))
    with openai_client.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello!"
    assert_chat_span(only_span(telemetry), stream=True)


def test_stream_helper_manager_left_early(telemetry, fake, openai_client):
    fake.stream(sse(chat_chunks(("a", "b", "c"))))
    with openai_client.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        for _ in stream:
            break
    assert is_error(only_span(telemetry))


# --- raw responses -----------------------------------------------------------------------------


def test_with_raw_response(telemetry, fake, openai_client):
    fake.json(chat_completion())
    raw = openai_client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    assert raw.headers is not None
    assert raw.parse().choices[0].message.content == "Hello!"
    assert_chat_span(only_span(telemetry))


def test_with_raw_response_stream(telemetry, fake, openai_client):
    fake.stream(sse(chat_chunks(usage=USAGE)))
    raw = openai_client.chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES, stream=True)
    stream = raw.parse()
    assert stream is raw.parse()
    list(stream)
    assert_chat_span(only_span(telemetry), stream=True)


def test_with_streaming_response(telemetry, fake, openai_client):
    fake.json(chat_completion())
    with openai_client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=MESSAGES) as resp:
        assert resp.parse().choices[0].message.content == "Hello!"
    assert_chat_span(only_span(telemetry))


def test_with_streaming_response_stream(telemetry, fake, openai_client):
    fake.stream(sse(chat_chunks(usage=USAGE)))
    with openai_client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=MESSAGES, stream=True) as resp:
        chunks = list(resp.parse())
    assert len(chunks) == 4
    assert_chat_span(only_span(telemetry), stream=True)


def test_with_streaming_response_read_as_json(telemetry, fake, openai_client):
    fake.json(chat_completion())
    with openai_client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=MESSAGES) as resp:
        assert resp.json()["id"] == "chatcmpl-123"
    assert_chat_span(only_span(telemetry))


def test_async_raw_and_streaming_response(telemetry, fake, async_openai_client):
    fake.json(chat_completion()).stream(sse(chat_chunks(usage=USAGE)))

    async def main():
        raw = await async_openai_client.chat.completions.with_raw_response.create(
            model=MODEL, messages=MESSAGES)
        raw.parse()
        async with async_openai_client.chat.completions.with_streaming_response.create(
                model=MODEL, messages=MESSAGES, stream=True) as resp:
            stream = await resp.parse()
            return [c async for c in stream]

    assert len(run(main())) == 4
    spans = chat_spans(telemetry)
    assert len(spans) == 2
    assert_chat_span(spans[0])
    assert_chat_span(spans[1], stream=True)


# --- errors and retries ------------------------------------------------------------------------


@pytest.mark.parametrize("code,exc", [(429, openai.RateLimitError),
                                      (500, openai.InternalServerError)])
def test_provider_error_before_the_response(telemetry, fake, openai_client, code, exc):
    client = openai_client.with_options(max_retries=0)
    fake.status(code)
    with pytest.raises(exc):
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    span = only_span(telemetry)
    assert is_error(span)
    assert exc.__name__ in span.attributes["error.type"]
    assert "gen_ai.response.finish_reasons" not in span.attributes or tuple(
        span.attributes["gen_ai.response.finish_reasons"]) == ("error",)
    durations = telemetry.metrics("gen_ai.client.operation.duration")
    assert durations and "error.type" in durations[0].attributes


def test_provider_error_before_a_stream_async(telemetry, fake, async_openai_client):
    client = async_openai_client.with_options(max_retries=0)
    fake.status(429)
    with pytest.raises(openai.RateLimitError):
        run(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert is_error(only_span(telemetry))


def test_timeout(telemetry, fake, openai_client, async_openai_client):
    fake.timeout().timeout()
    with pytest.raises(openai.APITimeoutError):
        openai_client.with_options(max_retries=0).chat.completions.create(
            model=MODEL, messages=MESSAGES)
    with pytest.raises(openai.APITimeoutError):
        run(async_openai_client.with_options(max_retries=0).chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True))
    spans = chat_spans(telemetry)
    assert len(spans) == 2 and all(is_error(s) for s in spans)
    assert all("APITimeoutError" in s.attributes["error.type"] for s in spans)


def test_retries_make_one_span(telemetry, fake, openai_client, async_openai_client):
    fake.status(429).status(500).json(chat_completion())
    openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert len(fake.requests) == 3
    assert_chat_span(only_span(telemetry))
    telemetry.clear()
    fake.status(503).stream(sse(chat_chunks(usage=USAGE)))

    async def main():
        stream = await async_openai_client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True)
        return [c async for c in stream]

    run(main())
    assert len(fake.requests) == 5
    assert_chat_span(only_span(telemetry), stream=True)


def test_provider_error_event_mid_stream(telemetry, fake, openai_client):
    events = [*chat_chunks(("a",))[:1], {"error": {"message": "overloaded", "type": "server"}}]
    fake.stream(sse(events, done=False))
    stream = openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    span = only_span(telemetry)
    assert is_error(span)
    assert "APIError" in span.attributes["error.type"]


@pytest.mark.parametrize("failure,exc", [
    (httpx2.ReadError, openai.APIConnectionError), (httpx2.ReadTimeout, openai.APITimeoutError)])
def test_connection_drop_or_timeout_mid_stream(telemetry, fake, openai_client,
                                               async_openai_client, failure, exc):
    fake.stream(sse(chat_chunks(("a", "b", "c"))), fail_after=2, failure=failure)
    fake.stream(sse(chat_chunks(("a", "b", "c"))), fail_after=2, failure=failure)
    with pytest.raises(exc):
        list(openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))

    async def main():
        stream = await async_openai_client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True)
        return [c async for c in stream]

    with pytest.raises(exc):
        run(main())
    spans = chat_spans(telemetry)
    assert len(spans) == 2 and all(is_error(s) for s in spans)
    assert all(exc.__name__ in s.attributes["error.type"] for s in spans)


def test_async_error_event_and_user_error_mid_stream(telemetry, fake, async_openai_client):
    events = [*chat_chunks(("a",))[:1], {"error": {"message": "overloaded", "type": "server"}}]
    fake.stream(sse(events, done=False)).stream(sse(chat_chunks()))

    async def main():
        stream = await async_openai_client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
        with pytest.raises(KeyError):
            async with await async_openai_client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, stream=True) as stream:
                async for _ in stream:
                    raise KeyError("user bug")

    run(main())
    provider_error, user_error = chat_spans(telemetry)
    assert is_error(provider_error) and "APIError" in provider_error.attributes["error.type"]
    assert is_error(user_error) and "KeyError" in user_error.attributes["error.type"]


def test_async_stream_helper_and_n_choices(telemetry, fake, async_openai_client):
    fake.stream(sse(chat_chunks(usage=USAGE)))
    fake.json(chat_completion(n=2, finish=["stop", "length"]))

    async def main():
        async with async_openai_client.chat.completions.stream(
                model=MODEL, messages=MESSAGES) as stream:
            async for _ in stream:
                pass
        await async_openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, n=2)

    run(main())
    streamed, plain = chat_spans(telemetry)
    assert_chat_span(streamed, stream=True)
    assert tuple(plain.attributes["gen_ai.response.finish_reasons"]) == ("stop", "length")
    assert plain.attributes["gen_ai.request.choice.count"] == 2


def test_disabled_library_records_nothing(fake, openai_client, instrumented):
    from aiobs_otel.testing import capture

    fake.json(chat_completion())
    with capture(disabled=True) as telemetry:
        openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert chat_spans(telemetry) == []


@pytest.mark.parametrize("touch_response", [False, True])
def test_dropped_stream_ends_without_waiting_for_the_cycle_collector(
        telemetry, fake, openai_client, touch_response):
    fake.stream(sse(chat_chunks(("a", "b", "c"))))
    stream = openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    if touch_response:
        assert stream.response.status_code == 200  # the close hook must not create a cycle
    next(stream)
    gc.disable()
    try:
        del stream
        assert len(chat_spans(telemetry)) == 1
    finally:
        gc.enable()
    assert is_error(only_span(telemetry))


def test_streaming_response_read_and_dropped_without_close(telemetry, fake, openai_client):
    fake.json(chat_completion())
    resp = openai_client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES).__enter__()
    assert resp.json()["id"] == "chatcmpl-123"
    del resp
    gc.collect()
    assert_chat_span(only_span(telemetry))


def _response_body(status: str = "completed", text: str = "Hi") -> dict:
    return {
        "id": "resp_s1", "object": "response", "created_at": 1700000000, "model": "gpt-4o-mini",
        "status": status, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "output": [] if status != "completed" else [{
            "type": "message", "id": "m1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        "usage": None if status != "completed" else {
            "input_tokens": 9, "output_tokens": 2, "total_tokens": 11,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0}},
    }


def test_responses_stream_helper(telemetry, fake, openai_client):
    events = [
        {"type": "response.created", "sequence_number": 0,
         "response": _response_body("in_progress")},
        {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
         "item": {"type": "message", "id": "m1", "role": "assistant", "status": "in_progress",
                  "content": []}},
        {"type": "response.content_part.added", "sequence_number": 2, "item_id": "m1",
         "output_index": 0, "content_index": 0,
         "part": {"type": "output_text", "text": "", "annotations": []}},
        {"type": "response.output_text.delta", "sequence_number": 3, "item_id": "m1",
         "output_index": 0, "content_index": 0, "delta": "Hi", "logprobs": []},
        {"type": "response.completed", "sequence_number": 4, "response": _response_body()},
    ]
    fake.stream(sse(events, done=False, named=True))
    with openai_client.responses.stream(model=MODEL, input="hi") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == "Hi"
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.input_tokens"] == 9
    assert span.attributes["gen_ai.response.id"] == "resp_s1"
    assert not is_error(span)
