"""Content capture modes, truncation, redaction, cost and the two semconv profiles."""

from __future__ import annotations

import json
import logging

import pytest

import aiobs_otel as aiobs
from aiobs_otel import semconv as sc
from aiobs_otel._core import content, cost
from aiobs_otel.config import ContentCapture, load_settings
from aiobs_otel.testing import capture

MESSAGES = [{"role": "user", "content": "my key is sk-proj-ABCDEFGHIJKLMNOPQRSTUV123 ok"}]
RESPONSE = {
    "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "Bearer abcdefghijklmnop"}}],
    "usage": {"prompt_tokens": 1000, "completion_tokens": 100,
              "prompt_tokens_details": {"cached_tokens": 400}},
}


@pytest.fixture(autouse=True)
def _reset():
    cost.reset_for_tests()
    content.set_redactor(None)
    yield
    cost.reset_for_tests()
    content.set_redactor(None)


@aiobs.llm_call(provider="openai", model="gpt-4o-mini")
def ask(messages, tools=None):
    return RESPONSE


def _run(mode):
    with capture(capture_content=mode) as telemetry:
        ask(MESSAGES, tools=[{"type": "function", "function": {"name": "f"}}])
        return telemetry.spans()[0], telemetry.logs(sc.GEN_AI_EVENT_INFERENCE_DETAILS)


@pytest.mark.parametrize("mode", list(ContentCapture))
def test_content_modes(mode):
    span, events = _run(mode)
    on_span = sc.GEN_AI_INPUT_MESSAGES in span.attributes
    assert on_span is mode.on_span
    assert bool(events) is mode.on_event
    if mode.on_span:
        inputs = json.loads(span.attributes[sc.GEN_AI_INPUT_MESSAGES])
        assert inputs == [{"role": "user", "parts": [
            {"type": "text", "content": "my key is [REDACTED] ok"}]}]
        outputs = json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
        assert outputs[0]["parts"][0]["content"] == "Bearer [REDACTED]"
        assert json.loads(span.attributes[sc.GEN_AI_TOOL_DEFINITIONS]) == [
            {"type": "function", "name": "f"}]
    if mode.on_event:
        (event,) = events
        attrs = event.log_record.attributes
        assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
        assert attrs[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
        assert attrs[sc.GEN_AI_INPUT_MESSAGES][0]["role"] == "user"  # structured, not JSON
        assert event.log_record.span_id == span.context.span_id
    dumped = json.dumps({k: str(v) for k, v in span.attributes.items()})
    assert "sk-proj-ABCDEFGH" not in dumped and "abcdefghijklmnop" not in dumped


def test_invalid_capture_value_is_off_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="aiobs_otel"):
        settings = load_settings({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "LOUD"})
    assert settings.capture_content is ContentCapture.NO_CONTENT
    assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" in caplog.text
    with capture(settings=load_settings(
            {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "LOUD"}, strict=True)) as t:
        ask(MESSAGES)
        assert sc.GEN_AI_INPUT_MESSAGES not in t.spans()[0].attributes
        assert not t.logs()


def test_truncation_keeps_valid_json():
    long = [{"role": "user", "parts": [{"type": "text", "content": "é" * 5000}]},
            {"role": "assistant", "parts": [{"type": "text", "content": "x" * 3000}]}]
    for limit in (64, 300, 2000, 9000):
        text, truncated = content.to_bounded_json(long, limit)
        assert truncated
        assert len(text.encode("utf-8")) <= limit
        json.loads(text)
    text, truncated = content.to_bounded_json(long, 100_000)
    assert not truncated and json.loads(text) == long


def test_span_content_truncated_to_content_max_bytes():
    with capture(capture_content="SPAN_ONLY", content_max_bytes=200) as telemetry:
        ask([{"role": "user", "content": "word " * 1000}])
        attrs = telemetry.spans()[0].attributes
    value = attrs[sc.GEN_AI_INPUT_MESSAGES]
    assert len(value.encode()) <= 200
    assert json.loads(value)[0]["role"] == "user"
    assert attrs[sc.AIOBS_GENAI_CONTENT_TRUNCATED] is True
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1000  # usage never dropped


def test_default_redactor_patterns():
    samples = {
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlX3g":
            "eyJhbGci",
        "aws AKIAIOSFODNN7EXAMPLE here": "AKIAIOSFODNN7EXAMPLE",
        "api_key=abcd1234efgh": "abcd1234efgh",
        '{"password": "hunter22"}': "hunter22",
        "anthropic sk-ant-api03-abcdefghijklmnopqrstu": "abcdefghijklmnopqrstu",
        "gh ghp_abcdefghijklmnopqrstuvwxyz0123": "ghp_abc",
    }
    for text, secret in samples.items():
        scrubbed = content.default_redactor(text)
        assert secret not in scrubbed, scrubbed
        assert content.REDACTED in scrubbed
    assert content.default_redactor("plain words stay") == "plain words stay"


def test_custom_redactor():
    aiobs.set_redactor(lambda s: s.replace("ACME", "[CO]"))
    with capture(capture_content="SPAN_ONLY") as telemetry:
        ask([{"role": "user", "content": "ACME secret sk-proj-ABCDEFGHIJKLMNOPQRSTUV"}])
        value = telemetry.spans()[0].attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert "[CO]" in value and "sk-proj" not in value  # default still runs first
    aiobs.set_redactor(lambda s: s.upper(), keep_default=False)
    assert content.redact({"a": ["sk-proj-ABCDEFGHIJKLMNOPQRSTUV"]}) == {
        "a": ["SK-PROJ-ABCDEFGHIJKLMNOPQRSTUV"]}
    with pytest.raises(TypeError):
        aiobs.set_redactor("nope")  # type: ignore[arg-type]


def test_cost_known_model(aiobs_capture):
    ask(MESSAGES)
    attrs = aiobs_capture.spans()[0].attributes
    # 600 uncached * 0.15 + 400 cached * 0.075 + 100 out * 0.6, per 1M tokens
    assert attrs[sc.AIOBS_GENAI_COST] == pytest.approx((600 * 0.15 + 400 * 0.075 + 60) / 1e6)
    assert attrs[sc.AIOBS_GENAI_COST_CURRENCY] == "USD"
    assert attrs[sc.AIOBS_GENAI_PRICING_SOURCE].startswith("builtin:")
    (point,) = aiobs_capture.metrics(sc.AIOBS_GENAI_COST)
    assert point.value == pytest.approx(attrs[sc.AIOBS_GENAI_COST])
    assert point.attributes[sc.AIOBS_GENAI_COST_CURRENCY] == "USD"


def test_cost_anthropic_cache_and_dated_model():
    result = cost.compute_cost(("claude-sonnet-4-5-20250929",), input_tokens=1250,
                               output_tokens=70, cache_read_input_tokens=1000,
                               cache_creation_input_tokens=200)
    assert result is not None
    assert result.amount == pytest.approx((50 * 3 + 1000 * 0.3 + 200 * 3.75 + 70 * 15) / 1e6)


def test_unknown_model_no_cost_and_one_warning(aiobs_capture, caplog):
    @aiobs.llm_call(provider="acme", model="acme-9000")
    def call():
        return None

    with caplog.at_level(logging.WARNING, logger="aiobs_otel"):
        for _ in range(3):
            with aiobs.llm_call(provider="acme", model="acme-9000") as handle:
                handle.record_usage(input_tokens=10, output_tokens=1)
    assert caplog.text.count("acme-9000") == 1
    assert all(sc.AIOBS_GENAI_COST not in s.attributes for s in aiobs_capture.spans())
    assert not aiobs_capture.metrics(sc.AIOBS_GENAI_COST)


def test_no_usage_no_cost():
    assert cost.compute_cost(("gpt-4o",), None, None) is None


def test_pricing_file_and_runtime_override(tmp_path, monkeypatch):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"acme-1": {"input": 1.0, "output": 2.0}}}))
    monkeypatch.setenv("AIOBS_PRICING_FILE", str(path))
    with capture() as telemetry:
        with aiobs.llm_call(provider="acme", model="acme-1") as handle:
            handle.record_usage(input_tokens=1_000_000, output_tokens=1_000_000)
        attrs = telemetry.spans()[0].attributes
        assert attrs[sc.AIOBS_GENAI_COST] == pytest.approx(3.0)
        assert attrs[sc.AIOBS_GENAI_PRICING_SOURCE] == "file:prices.json"
        aiobs.set_pricing({"acme-1": {"input": 10.0, "output": 0.0}})
        with aiobs.llm_call(provider="acme", model="acme-1") as handle:
            handle.record_usage(input_tokens=1_000_000, output_tokens=5)
        attrs = telemetry.spans()[1].attributes
        assert attrs[sc.AIOBS_GENAI_COST] == pytest.approx(10.0)
        assert attrs[sc.AIOBS_GENAI_PRICING_SOURCE] == "runtime"
    with pytest.raises(ValueError):
        aiobs.set_pricing({"bad": {"input": -1, "output": 1}})


def test_pricing_table_is_shipped_with_source_and_date():
    from importlib.resources import files

    data = json.loads(files("aiobs_otel").joinpath("data/pricing.json").read_text())
    assert data["source"] and data["as_of"] and data["currency"] == "USD"
    assert {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "claude-haiku-4-5"} <= set(data["models"])


def test_latest_profile_names():
    with capture(genai_semconv_latest=True) as telemetry:
        with aiobs.llm_call(provider="anthropic", model="claude-haiku-4-5") as handle:
            handle.record_usage(input_tokens=30, output_tokens=5, cache_read_input_tokens=10,
                                cache_creation_input_tokens=20)
        with aiobs.llm_call(provider="acme", model="x") as handle:
            pass  # no usage reported
        spans = telemetry.spans()
        assert spans[0].attributes[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 20
        assert sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS not in spans[0].attributes
        assert telemetry.metrics(sc.GEN_AI_CLIENT_INFERENCE_DURATION)
        assert not telemetry.metrics(sc.GEN_AI_CLIENT_OPERATION_DURATION)
        assert not telemetry.metrics(sc.GEN_AI_CLIENT_TOKEN_USAGE)
        inputs = {m.attributes[sc.GEN_AI_REQUEST_MODEL]: m for m in
                  telemetry.metrics(sc.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT)}
        assert inputs["claude-haiku-4-5"].value == 30
        assert inputs["x"].value == 0
        assert inputs["x"].attributes[sc.GEN_AI_TOKEN_MODALITY] == "unknown"
        (write,) = telemetry.metrics(sc.GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE)
        assert write.value == 20
        (op_in,) = telemetry.metrics(sc.GEN_AI_CLIENT_INFERENCE_OP_INPUT_TOKENS)
        assert op_in.sum == 30


def test_v141_profile_cache_creation_name(aiobs_capture):
    with aiobs.llm_call(provider="anthropic", model="claude-haiku-4-5") as handle:
        handle.record_usage(input_tokens=30, cache_creation_input_tokens=20)
    attrs = aiobs_capture.spans()[0].attributes
    assert attrs[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 20


def test_embeddings_span():
    with capture(genai_semconv_latest=True) as telemetry:
        @aiobs.llm_call(provider="openai", model="text-embedding-3-small", operation="embeddings")
        def embed():
            return {"object": "list", "model": "text-embedding-3-small",
                    "data": [{"embedding": [0.0] * 4}],
                    "usage": {"prompt_tokens": 6, "total_tokens": 6}}

        embed()
        span = telemetry.spans()[0]
        assert span.name == "embeddings text-embedding-3-small"
        assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 6
        assert span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 4
        assert telemetry.metrics(sc.GEN_AI_CLIENT_EMBEDDINGS_DURATION)
        assert not telemetry.metrics(sc.GEN_AI_CLIENT_INFERENCE_DURATION)


def test_tool_content_only_when_captured():
    @aiobs.tool(name="lookup")
    def lookup(query: str, api_key: str = "sk-proj-ABCDEFGHIJKLMNOPQRSTUV") -> dict:
        return {"answer": 42}

    with capture(capture_content="SPAN_ONLY") as telemetry:
        lookup("weather")
        attrs = telemetry.spans()[0].attributes
    assert json.loads(attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS])["query"] == "weather"
    assert "sk-proj" not in attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS]
    assert json.loads(attrs[sc.GEN_AI_TOOL_CALL_RESULT]) == {"answer": 42}


def test_truncation_property():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    leaves = st.one_of(st.text(max_size=300), st.integers(), st.booleans(), st.none())
    values = st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=6)),
        max_leaves=30)

    @hypothesis.settings(max_examples=150, deadline=None)
    @hypothesis.given(value=values, limit=st.integers(min_value=2, max_value=3000))
    def check(value, limit):
        text, truncated = content.to_bounded_json(value, limit)
        json.loads(text)
        full = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if len(full.encode()) <= limit:
            assert not truncated and json.loads(text) == value
        else:
            assert truncated
            assert len(text.encode()) <= limit or text in ("{}", "[]", "null")

    check()
