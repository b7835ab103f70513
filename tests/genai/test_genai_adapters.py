"""Pure adapters on real openai / anthropic typed objects and on plain dicts."""

from __future__ import annotations

import pytest

from aiobs_otel import semconv as sc
from aiobs_otel.instrumentation._adapters import Usage, detect_adapter, get_adapter
from aiobs_otel.instrumentation._adapters import anthropic as anthropic_adapter
from aiobs_otel.instrumentation._adapters import openai as openai_adapter

openai_types = pytest.importorskip("openai.types")
anthropic_types = pytest.importorskip("anthropic.types")
from openai.types import CreateEmbeddingResponse  # noqa: E402
from openai.types.chat import ChatCompletion, ChatCompletionChunk  # noqa: E402
from openai.types.responses import Response  # noqa: E402

CHAT = {
    "id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-08-06",
    "system_fingerprint": "fp_1", "service_tier": "default",
    "choices": [
        {"index": 0, "finish_reason": "stop", "logprobs": None,
         "message": {"role": "assistant", "content": "one"}},
        {"index": 1, "finish_reason": "tool_calls", "logprobs": None,
         "message": {"role": "assistant", "content": None, "tool_calls": [
             {"id": "call_1", "type": "function",
              "function": {"name": "search", "arguments": "{\"q\": \"x\"}"}}]}},
    ],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
              "prompt_tokens_details": {"cached_tokens": 1024},
              "completion_tokens_details": {"reasoning_tokens": 256}},
}


@pytest.mark.parametrize("typed", [False, True])
def test_openai_chat_response(typed):
    response = ChatCompletion.model_validate(CHAT) if typed else CHAT
    adapter = get_adapter("openai")
    info = adapter.parse_response(response)
    assert info.model == "gpt-4o-2024-08-06" and info.id == "chatcmpl-9"
    assert info.finish_reasons == ["stop", "tool_calls"]  # one per choice, in order
    assert info.usage == Usage(input_tokens=1200, output_tokens=300,
                               cache_read_input_tokens=1024, reasoning_tokens=256)
    assert info.attributes[sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_1"
    out = adapter.output_messages(response)
    assert out[0] == {"role": "assistant", "parts": [{"type": "text", "content": "one"}],
                      "finish_reason": "stop"}
    assert out[1]["parts"] == [{"type": "tool_call", "id": "call_1", "name": "search",
                                "arguments": {"q": "x"}}]
    assert out[1]["finish_reason"] == "tool_call"
    assert detect_adapter(response) is adapter


def test_openai_request_attributes_and_content():
    adapter = get_adapter("openai")
    kwargs = {"model": "gpt-4o", "temperature": 0.3, "top_p": 1, "max_completion_tokens": 50,
              "stop": "END", "seed": 7, "n": 3, "frequency_penalty": 0.1,
              "presence_penalty": 0, "stream": True, "response_format": {"type": "json_object"},
              "service_tier": "flex", "reasoning_effort": "low",
              "messages": [{"role": "system", "content": "be brief"},
                           {"role": "user", "content": [
                               {"type": "text", "text": "what is this"},
                               {"type": "image_url",
                                "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                           {"role": "tool", "tool_call_id": "call_1", "content": "42"}],
              "tools": [{"type": "function", "function": {
                  "name": "search", "description": "d", "parameters": {"type": "object"}}}]}
    attrs = adapter.request_attributes(kwargs)
    assert attrs == {
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_REQUEST_TEMPERATURE: 0.3,
        sc.GEN_AI_REQUEST_TOP_P: 1.0, sc.GEN_AI_REQUEST_MAX_TOKENS: 50,
        sc.GEN_AI_REQUEST_STOP_SEQUENCES: ["END"], sc.GEN_AI_REQUEST_SEED: 7,
        sc.GEN_AI_REQUEST_CHOICE_COUNT: 3, sc.GEN_AI_REQUEST_FREQUENCY_PENALTY: 0.1,
        sc.GEN_AI_REQUEST_PRESENCE_PENALTY: 0.0, sc.GEN_AI_REQUEST_STREAM: True,
        sc.GEN_AI_OUTPUT_TYPE: "json", sc.OPENAI_REQUEST_SERVICE_TIER: "flex",
        sc.GEN_AI_REQUEST_REASONING_LEVEL: "low",
    }
    content = adapter.request_content(kwargs)
    assert content.input_messages[0] == {"role": "system",
                                         "parts": [{"type": "text", "content": "be brief"}]}
    assert content.input_messages[1]["parts"][1] == {
        "type": "blob", "modality": "image", "mime_type": "image/png", "content": "AAAA"}
    assert content.input_messages[2] == {"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "call_1", "response": "42"}]}
    assert content.tool_definitions == [{"type": "function", "name": "search",
                                         "description": "d", "parameters": {"type": "object"}}]


def _chunk(**fields):
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-4o-mini"}
    return ChatCompletionChunk.model_validate({**base, **fields})


def test_openai_stream_accumulates_n_choices_tool_calls_and_final_usage():
    acc = get_adapter("openai").new_accumulator()
    acc.add(_chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": "a"}},
                            {"index": 1, "delta": {"role": "assistant", "tool_calls": [
                                {"index": 0, "id": "call_9", "type": "function",
                                 "function": {"name": "f", "arguments": "{\"x\""}}]}}]))
    acc.add(_chunk(choices=[{"index": 0, "delta": {"content": "b"}, "finish_reason": "length"},
                            {"index": 1, "delta": {"tool_calls": [
                                {"index": 0, "function": {"arguments": ": 1}"}}]},
                             "finish_reason": "tool_calls"}]))
    acc.add(_chunk(choices=[], usage={"prompt_tokens": 9, "completion_tokens": 4,
                                      "total_tokens": 13}))
    info = acc.result()
    assert acc.chunks == 3
    assert info.finish_reasons == ["length", "tool_calls"]
    assert info.usage == Usage(input_tokens=9, output_tokens=4)
    assert info.output_messages[0]["parts"] == [{"type": "text", "content": "ab"}]
    assert info.output_messages[1]["parts"] == [
        {"type": "tool_call", "id": "call_9", "name": "f", "arguments": {"x": 1}}]


def test_openai_stream_without_usage_invents_nothing():
    acc = get_adapter("openai").new_accumulator()
    acc.add(_chunk(choices=[{"index": 0, "delta": {"content": "a"}}]))
    info = acc.result()
    assert info.usage is None
    assert info.finish_reasons == ["error"]  # the choice never finished


def test_openai_embeddings():
    response = CreateEmbeddingResponse.model_validate({
        "object": "list", "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
        "usage": {"prompt_tokens": 8, "total_tokens": 8}})
    adapter = get_adapter("openai.embeddings")
    info = adapter.parse_response(response)
    assert info.usage == Usage(input_tokens=8)
    assert info.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 3
    attrs = adapter.request_attributes({"model": "text-embedding-3-small",
                                        "encoding_format": "float", "input": "x"})
    assert attrs[sc.GEN_AI_REQUEST_ENCODING_FORMATS] == ["float"]


def test_openai_responses_api():
    data = {
        "id": "resp_1", "object": "response", "created_at": 1, "model": "o4-mini",
        "status": "completed", "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "output": [{"type": "message", "id": "m", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": "hi", "annotations": []}]}],
        "usage": {"input_tokens": 20, "output_tokens": 30, "total_tokens": 50,
                  "input_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": 16}},
    }
    try:
        response = Response.model_validate(data)
    except Exception:  # the typed model may need more fields in this SDK version
        response = Response.model_construct(**data)
    adapter = get_adapter("openai.responses")
    for value in (response, data):
        info = adapter.parse_response(value)
        assert info.finish_reasons == ["stop"]
        assert info.usage.input_tokens == 20 and info.usage.cache_read_input_tokens == 10
        assert info.usage.reasoning_tokens == 16
    assert adapter.output_messages(data)[0]["parts"] == [{"type": "text", "content": "hi"}]
    assert detect_adapter(data) is adapter


ANTHROPIC = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "answer"},
                {"type": "tool_use", "id": "tu_1", "name": "search", "input": {"q": "x"}}],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 50, "output_tokens": 70, "cache_read_input_tokens": 1000,
              "cache_creation_input_tokens": 200,
              "output_tokens_details": {"thinking_tokens": 40}},
}


@pytest.mark.parametrize("typed", [False, True])
def test_anthropic_message_sums_cached_input(typed):
    response = anthropic_types.Message.model_validate(ANTHROPIC) if typed else ANTHROPIC
    adapter = get_adapter("anthropic")
    info = adapter.parse_response(response)
    assert info.usage == Usage(input_tokens=1250, output_tokens=70,
                               cache_read_input_tokens=1000, cache_creation_input_tokens=200,
                               reasoning_tokens=40)
    assert info.finish_reasons == ["tool_use"]
    out = adapter.output_messages(response)[0]
    assert [p["type"] for p in out["parts"]] == ["reasoning", "text", "tool_call"]
    assert out["finish_reason"] == "tool_call"
    assert detect_adapter(response) is adapter


def test_anthropic_request_and_content():
    kwargs = {"model": "claude-haiku-4-5", "max_tokens": 256, "temperature": 0.5, "top_k": 3,
              "stop_sequences": ["\n\nHuman:"], "system": "terse",
              "messages": [{"role": "user", "content": "hi"},
                           {"role": "user", "content": [
                               {"type": "tool_result", "tool_use_id": "tu_1",
                                "content": [{"type": "text", "text": "42"}]}]}],
              "tools": [{"name": "search", "description": "d",
                         "input_schema": {"type": "object"}}]}
    adapter = get_adapter("anthropic")
    attrs = adapter.request_attributes(kwargs)
    assert attrs[sc.GEN_AI_REQUEST_TOP_K] == 3 and attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256
    content = adapter.request_content(kwargs)
    assert content.system_instructions == [{"type": "text", "content": "terse"}]
    assert content.input_messages[1] == {"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "tu_1", "response": "42"}]}
    assert content.tool_definitions[0]["parameters"] == {"type": "object"}


def test_anthropic_stream_events():
    events = [
        {"type": "message_start", "message": {
            "id": "msg_s", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 5, "output_tokens": 1, "cache_read_input_tokens": 20,
                      "cache_creation_input_tokens": 0}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "he"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "y"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    acc = get_adapter("anthropic").new_accumulator()
    for event in events:
        acc.add(event)
    info = acc.result()
    assert info.id == "msg_s" and info.model == "claude-haiku-4-5"
    assert info.usage == Usage(input_tokens=25, output_tokens=9, cache_read_input_tokens=20,
                               cache_creation_input_tokens=0)
    assert info.finish_reasons == ["end_turn"]
    assert info.output_messages[0]["parts"] == [{"type": "text", "content": "hey"}]


@pytest.mark.parametrize("garbage", [
    None, 5, "text", [], {}, {"usage": "lots"}, {"usage": {"prompt_tokens": -1}},
    {"usage": {"prompt_tokens": True, "completion_tokens": "3"}},
    {"choices": "nope"}, {"choices": [None, 3]}, object(),
])
def test_adapters_survive_garbage(garbage):
    for name in ("openai", "openai.embeddings", "openai.responses", "anthropic", "generic"):
        adapter = get_adapter(name)
        info = adapter.parse_response(garbage)
        assert info.usage is None or all(
            v is None or (isinstance(v, int) and v >= 0) for v in vars(info.usage).values())
        adapter.output_messages(garbage)
        acc = adapter.new_accumulator()
        acc.add(garbage)
        acc.result()
    assert openai_adapter.usage_from({"prompt_tokens": -5}) is None
    assert anthropic_adapter.usage_from({"input_tokens": None, "output_tokens": 2.0}) == Usage(
        output_tokens=2)


def test_anthropic_typed_stream_events():
    from anthropic.types import (
        RawContentBlockDeltaEvent,
        RawContentBlockStartEvent,
        RawMessageDeltaEvent,
        RawMessageStartEvent,
        RawMessageStopEvent,
    )

    events = [
        RawMessageStartEvent.model_validate({"type": "message_start", "message": {
            "id": "msg_t", "type": "message", "role": "assistant", "model": "claude-opus-4-5",
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 7, "output_tokens": 1,
                      "cache_creation_input_tokens": 3}}}),
        RawContentBlockStartEvent.model_validate({
            "type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "tu_9", "name": "calc", "input": {}}}),
        RawContentBlockDeltaEvent.model_validate({
            "type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": "{\"a\": 1}"}}),
        RawMessageDeltaEvent.model_validate({
            "type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 12}}),
        RawMessageStopEvent.model_validate({"type": "message_stop"}),
    ]
    acc = get_adapter("anthropic").new_accumulator()
    for event in events:
        acc.add(event)
    info = acc.result()
    assert info.usage == Usage(input_tokens=10, output_tokens=12, cache_creation_input_tokens=3)
    assert info.finish_reasons == ["tool_use"]
    assert info.output_messages[0]["parts"] == [
        {"type": "tool_call", "id": "tu_9", "name": "calc", "arguments": {"a": 1}}]
    assert detect_adapter(events[0]) is get_adapter("anthropic")
