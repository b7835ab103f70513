"""Content capture, secrets, nesting under @llm_call, tool calls around instrumented SDK calls."""

from __future__ import annotations

import asyncio
import contextvars
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from instr_fakes import (
    ANTHROPIC_KEY,
    API_KEY,
    MESSAGES,
    anthropic_message,
    chat_chunks,
    chat_completion,
    chat_spans,
    only_span,
    run,
    sse,
)

import aiobs_otel as aiobs
from aiobs_otel.config import ContentCapture, load_settings
from aiobs_otel.testing import capture

MODEL = "gpt-4o-mini"
CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


@pytest.mark.parametrize("mode", [m.value for m in ContentCapture])
def test_content_modes(fake, openai_client, instrumented, mode):
    fake.json(chat_completion())
    with capture(capture_content=mode) as telemetry:
        openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
        span = only_span(telemetry)
        logs = [r for r in telemetry.logs() if (r.log_record.event_name or "").startswith("gen_ai")]
    on_span = mode in ("SPAN_ONLY", "SPAN_AND_EVENT")
    on_event = mode in ("EVENT_ONLY", "SPAN_AND_EVENT")
    for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
        assert (key in span.attributes) is on_span, (mode, key)
    assert bool(logs) is on_event, mode
    if on_span:
        sent = json.loads(span.attributes["gen_ai.input.messages"])
        assert sent[-1]["role"] == "user"
        assert sent[-1]["parts"][0] == {"type": "text", "content": "Say hello"}
        # OpenAI's system message: a system instruction or a "system" input message
        if "gen_ai.system_instructions" in span.attributes:
            system = json.loads(span.attributes["gen_ai.system_instructions"])
            assert system[0]["content"] == "Be brief."
        else:
            assert sent[0]["role"] == "system"
        out = json.loads(span.attributes["gen_ai.output.messages"])
        assert out[0]["parts"][0]["content"] == "Hello!"


def test_stream_output_content_is_accumulated(fake, openai_client, instrumented):
    fake.stream(sse(chat_chunks()))
    with capture(capture_content="SPAN_ONLY") as telemetry:
        list(openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
        span = only_span(telemetry)
    out = json.loads(span.attributes["gen_ai.output.messages"])
    assert out[0]["parts"][0]["content"] == "Hello!"


def test_invalid_capture_value_falls_back_to_no_content(fake, openai_client, instrumented):
    settings = load_settings({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "bogus",
                              "AIOBS_STRICT": "true"})
    assert settings.capture_content is ContentCapture.NO_CONTENT
    with pytest.raises(ValueError):
        load_settings({}, capture_content="bogus")
    fake.json(chat_completion())
    with capture(settings=settings) as telemetry:
        openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
        span = only_span(telemetry)
    assert not [k for k in span.attributes if k in CONTENT_KEYS]


def _everything_exported(telemetry) -> str:
    parts = []
    for span in telemetry.spans():
        parts.append(repr(dict(span.attributes)))
        parts.extend(repr(dict(e.attributes or {})) for e in span.events)
    for record in telemetry.logs():
        parts.append(repr(record.log_record.body))
        parts.append(repr(dict(record.log_record.attributes or {})))
    for point in telemetry.metrics():
        parts.append(repr(point.attributes))
    return "\n".join(parts)


def test_api_keys_never_exported(fake, openai_client, anthropic_client, instrumented):
    fake.json(chat_completion(f"your key is {API_KEY}")).json(anthropic_message())
    leaky = [{"role": "user", "content": f"my key is {API_KEY}, bearer Bearer {API_KEY}"}]
    with capture(capture_content="SPAN_AND_EVENT") as telemetry:
        openai_client.chat.completions.create(
            model=MODEL, messages=leaky, extra_headers={"Authorization": f"Bearer {API_KEY}"})
        anthropic_client.messages.create(
            model="claude-sonnet-4-5", max_tokens=10,
            messages=[{"role": "user", "content": f"key {ANTHROPIC_KEY}"}])
        exported = _everything_exported(telemetry)
        assert len(chat_spans(telemetry)) == 2
    assert "gen_ai.input.messages" in exported  # content was captured ...
    assert API_KEY not in exported  # ... but never the secret
    assert ANTHROPIC_KEY not in exported
    assert "SECRET" not in exported


# --- nesting -----------------------------------------------------------------------------------


def test_llm_call_decorator_around_instrumented_call_gives_one_span(
        telemetry, fake, openai_client):
    @aiobs.llm_call(provider="openai", model=MODEL)
    def ask(question: str):
        return openai_client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": question}])

    fake.json(chat_completion())
    assert ask("hi").choices[0].message.content == "Hello!"
    span = only_span(telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.attributes["gen_ai.usage.input_tokens"] == 12
    assert span.attributes["server.address"] == "llm.test"


def test_llm_call_around_an_instrumented_stream_gives_one_span(telemetry, fake, openai_client):
    @aiobs.llm_call(provider="openai", model=MODEL)
    def ask():
        return openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                     stream_options={"include_usage": True})

    fake.stream(sse(chat_chunks(usage={"prompt_tokens": 12, "completion_tokens": 5,
                                       "total_tokens": 17})))
    list(ask())
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.output_tokens"] == 5


def test_llm_call_context_manager_around_async_call(telemetry, fake, async_openai_client):
    async def main():
        async with aiobs.llm_call(provider="openai", model=MODEL):
            await async_openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)

    fake.json(chat_completion())
    run(main())
    assert only_span(telemetry).attributes["gen_ai.usage.input_tokens"] == 12


# --- tool calls --------------------------------------------------------------------------------

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


def _tool_calls(*cities: str):
    return [{"id": f"call_{i}", "type": "function",
             "function": {"name": "get_weather", "arguments": json.dumps({"city": c})}}
            for i, c in enumerate(cities)]


def _follow_up(first, results):
    msg = first.choices[0].message
    return [*MESSAGES, msg.model_dump(exclude_none=True), *(
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
        for call, result in zip(msg.tool_calls, results))]


def _assert_tool_tree(telemetry, n_tools: int) -> None:
    spans = telemetry.spans()
    agent = next(s for s in spans if s.name.startswith("invoke_agent"))
    tools = [s for s in spans if s.name == "execute_tool get_weather"]
    chats = [s for s in spans if s.name == f"chat {MODEL}"]
    assert len(tools) == n_tools and len(chats) == 2
    for span in tools + chats:
        assert span.parent is not None and span.parent.span_id == agent.context.span_id
    assert tuple(chats[0].attributes["gen_ai.response.finish_reasons"]) == ("tool_calls",)
    assert len({s.context.span_id for s in tools}) == n_tools


def test_parallel_tool_calls_under_gather(telemetry, fake, async_openai_client):
    fake.json(chat_completion(tool_calls=_tool_calls("Paris", "Oslo", "Lima"),
                              finish="tool_calls")).json(chat_completion("Sunny everywhere"))

    @aiobs.tool(name="get_weather")
    async def get_weather(city: str) -> dict:
        await asyncio.sleep(0)
        return {"city": city, "sky": "sunny"}

    @aiobs.agent(name="planner")
    async def plan():
        first = await async_openai_client.chat.completions.create(
            model=MODEL, messages=MESSAGES, tools=TOOLS)
        calls = first.choices[0].message.tool_calls
        results = await asyncio.gather(
            *(get_weather(**json.loads(c.function.arguments)) for c in calls))
        return await async_openai_client.chat.completions.create(
            model=MODEL, messages=_follow_up(first, results), tools=TOOLS)

    assert run(plan()).choices[0].message.content == "Sunny everywhere"
    _assert_tool_tree(telemetry, 3)


def test_parallel_tool_calls_in_a_thread_pool(telemetry, fake, openai_client):
    fake.json(chat_completion(tool_calls=_tool_calls("Paris", "Oslo"),
                              finish="tool_calls")).json(chat_completion("Sunny"))

    @aiobs.tool(name="get_weather")
    def get_weather(city: str) -> dict:
        return {"city": city, "sky": "sunny"}

    @aiobs.agent(name="planner")
    def plan():
        first = openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
        calls = first.choices[0].message.tool_calls
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(contextvars.copy_context().run, get_weather,
                                   **json.loads(c.function.arguments)) for c in calls]
            results = [f.result() for f in futures]
        return openai_client.chat.completions.create(
            model=MODEL, messages=_follow_up(first, results), tools=TOOLS)

    plan()
    _assert_tool_tree(telemetry, 2)
