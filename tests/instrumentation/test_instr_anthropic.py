"""The real ``anthropic`` client, instrumented, against a fake network."""

from __future__ import annotations

import gc

import anthropic
import pytest
from instr_fakes import (
    anthropic_events,
    anthropic_message,
    chat_spans,
    is_error,
    only_span,
    run,
    sse,
)
from opentelemetry.trace import SpanKind

MODEL = "claude-sonnet-4-5"
MESSAGES = [{"role": "user", "content": "Hello"}]


def assert_claude_span(span, *, stream: bool = False) -> None:
    a = span.attributes
    assert span.name == f"chat {MODEL}"
    assert span.kind == SpanKind.CLIENT
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.request.max_tokens"] == 100
    assert a["server.address"] == "claude.test"
    assert a["gen_ai.response.model"] == "claude-sonnet-4-5-20250929"
    assert tuple(a["gen_ai.response.finish_reasons"]) == ("end_turn",)
    assert a["gen_ai.usage.input_tokens"] == 20
    assert a["gen_ai.usage.output_tokens"] == 6
    if stream:
        assert a["gen_ai.request.stream"] is True


def test_messages_create(telemetry, fake, anthropic_client):
    fake.json(anthropic_message())
    msg = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert msg.content[0].text == "Hi there"
    span = only_span(telemetry)
    assert_claude_span(span)
    assert span.attributes["gen_ai.response.id"] == "msg_01"


def test_messages_create_async(telemetry, fake, async_anthropic_client):
    fake.json(anthropic_message())
    run(async_anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES))
    assert_claude_span(only_span(telemetry))


def test_cache_tokens_are_summed_into_input(telemetry, fake, anthropic_client):
    fake.json(anthropic_message(usage={
        "input_tokens": 20, "output_tokens": 6,
        "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 300}))
    anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    a = only_span(telemetry).attributes
    assert a["gen_ai.usage.input_tokens"] == 1320
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1000
    # v1.41 name by default; cache_write in the "latest" profile
    write = a.get("gen_ai.usage.cache_write.input_tokens",
                  a.get("gen_ai.usage.cache_creation.input_tokens"))
    assert write == 300


def test_create_stream_true(telemetry, fake, anthropic_client):
    fake.stream(sse(anthropic_events(), done=False, named=True))
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES,
                                              stream=True)
    assert isinstance(stream, anthropic.Stream)
    events = list(stream)
    assert events[-1].type == "message_stop"
    assert_claude_span(only_span(telemetry), stream=True)


def test_create_stream_true_async(telemetry, fake, async_anthropic_client):
    fake.stream(sse(anthropic_events(), done=False, named=True))

    async def main():
        stream = await async_anthropic_client.messages.create(
            model=MODEL, max_tokens=100, messages=MESSAGES, stream=True)
        return [e async for e in stream]

    run(main())
    assert_claude_span(only_span(telemetry), stream=True)


def test_messages_stream_helper(telemetry, fake, anthropic_client):
    fake.stream(sse(anthropic_events(), done=False, named=True))
    with anthropic_client.messages.stream(model=MODEL, max_tokens=100,
                                          messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hi there" and final.usage.output_tokens == 6
    assert_claude_span(only_span(telemetry), stream=True)


def test_messages_stream_helper_async(telemetry, fake, async_anthropic_client):
    fake.stream(sse(anthropic_events(), done=False, named=True))

    async def main():
        async with async_anthropic_client.messages.stream(
                model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
            return "".join([t async for t in stream.text_stream])

    assert run(main()) == "Hi there"
    assert_claude_span(only_span(telemetry), stream=True)


def test_messages_stream_helper_left_early(telemetry, fake, anthropic_client):
    fake.stream(sse(anthropic_events(("a", "b", "c")), done=False, named=True))
    with anthropic_client.messages.stream(model=MODEL, max_tokens=100,
                                          messages=MESSAGES) as stream:
        for _ in stream:
            break
    assert is_error(only_span(telemetry))


@pytest.mark.parametrize("how", ["break", "close", "gc"])
def test_abandoned_stream(telemetry, fake, anthropic_client, how):
    fake.stream(sse(anthropic_events(("a", "b", "c")), done=False, named=True))
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES,
                                              stream=True)
    for _ in stream:
        break
    if how == "close":
        stream.close()
    del stream
    gc.collect()
    assert is_error(only_span(telemetry))


def test_raw_and_streaming_response(telemetry, fake, anthropic_client):
    fake.json(anthropic_message()).stream(sse(anthropic_events(), done=False, named=True))
    raw = anthropic_client.messages.with_raw_response.create(
        model=MODEL, max_tokens=100, messages=MESSAGES)
    assert raw.parse().content[0].text == "Hi there"
    with anthropic_client.messages.with_streaming_response.create(
            model=MODEL, max_tokens=100, messages=MESSAGES, stream=True) as resp:
        list(resp.parse())
    spans = chat_spans(telemetry)
    assert len(spans) == 2
    assert_claude_span(spans[0])
    assert_claude_span(spans[1], stream=True)


def test_errors_and_retries(telemetry, fake, anthropic_client, async_anthropic_client):
    fake.status(529, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    fake.json(anthropic_message())
    anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert len(fake.requests) == 2
    assert_claude_span(only_span(telemetry))
    telemetry.clear()
    fake.status(429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}})
    with pytest.raises(anthropic.RateLimitError):
        run(async_anthropic_client.with_options(max_retries=0).messages.create(
            model=MODEL, max_tokens=100, messages=MESSAGES))
    span = only_span(telemetry)
    assert is_error(span) and "RateLimitError" in span.attributes["error.type"]


def test_error_event_mid_stream(telemetry, fake, anthropic_client):
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    events = [*anthropic_events()[:3], overloaded]
    fake.stream(sse(events, done=False, named=True))
    with pytest.raises(anthropic.APIStatusError):
        list(anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES,
                                              stream=True))
    assert is_error(only_span(telemetry))


def test_async_abandoned_and_raw_responses(telemetry, fake, async_anthropic_client):
    fake.stream(sse(anthropic_events(("a", "b", "c")), done=False, named=True))
    fake.json(anthropic_message())
    fake.stream(sse(anthropic_events(), done=False, named=True))

    async def main():
        stream = await async_anthropic_client.messages.create(
            model=MODEL, max_tokens=100, messages=MESSAGES, stream=True)
        async for _ in stream:
            break
        del stream
        gc.collect()
        raw = await async_anthropic_client.messages.with_raw_response.create(
            model=MODEL, max_tokens=100, messages=MESSAGES)
        assert (await raw.parse()).content[0].text == "Hi there"
        async with async_anthropic_client.messages.with_streaming_response.create(
                model=MODEL, max_tokens=100, messages=MESSAGES, stream=True) as resp:
            return [e async for e in await resp.parse()]

    assert run(main())[-1].type == "message_stop"
    abandoned, raw, streamed = chat_spans(telemetry)
    assert is_error(abandoned)
    assert_claude_span(raw)
    assert_claude_span(streamed, stream=True)
