"""R22: hypothesis over provider-response shapes for every adapter (instrumentation/_adapters).

Properties: no exception; token counts are non-negative ints or absent; cost is finite; every
attribute an adapter produces is encodable by the OTLP encoder with nothing dropped.
``AIOBS_FUZZ_EXAMPLES`` sets the examples per property (default 25; the reliability session
uses 150).
"""

from __future__ import annotations

import math
import os
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiobs_otel._core.cost import compute_cost
from aiobs_otel.instrumentation._adapters import Usage, detect_adapter, get_adapter

EXAMPLES = int(os.environ.get("AIOBS_FUZZ_EXAMPLES", "25"))
ADAPTERS = ["openai", "openai.embeddings", "openai.responses", "anthropic", "generic"]
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KEYS = st.sampled_from([
    "model", "id", "choices", "usage", "prompt_tokens", "completion_tokens", "total_tokens",
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
    "prompt_tokens_details", "completion_tokens_details", "cached_tokens", "reasoning_tokens",
    "finish_reason", "stop_reason", "message", "delta", "content", "role", "tool_calls",
    "function", "arguments", "name", "type", "text", "index", "output", "data", "embedding",
    "input_tokens_details", "output_tokens_details", "service_tier", "system_fingerprint",
    "content_block", "event", "messages", "tools", "max_tokens", "temperature", "stream",
])
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cs"]), max_size=4),  # lone surrogates
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.just("x" * 100_000),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), HOSTILE_TEXT, st.binary(max_size=16),
)
JSONISH = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(KEYS, st.text(max_size=8)), children, max_size=6),
        st.dictionaries(KEYS, children, max_size=6).map(lambda d: SimpleNamespace(**d)),
    ),
    max_leaves=30,
)


def _check_usage(usage: Usage | None) -> None:
    if usage is None:
        return
    for name in ("input_tokens", "output_tokens", "cache_read_input_tokens",
                 "cache_creation_input_tokens", "reasoning_tokens"):
        value = getattr(usage, name)
        assert value is None or (type(value) is int and value >= 0), (name, value)
    cost = compute_cost(("gpt-4o-mini",), usage.input_tokens, usage.output_tokens,
                        usage.cache_read_input_tokens, usage.cache_creation_input_tokens,
                        usage.reasoning_tokens)
    assert cost is None or (math.isfinite(cost.amount) and cost.amount >= 0), cost


def _check_encodable(attributes: dict[str, Any]) -> None:
    from opentelemetry.exporter.otlp.proto.common._internal import _encode_attributes

    from aiobs_otel.setup.accounting import _clean_attributes

    cleaned = _clean_attributes(attributes) or attributes
    encoded = _encode_attributes(cleaned)
    assert len(encoded) == len(cleaned), "an attribute was dropped at encode"


@pytest.mark.parametrize("name", ADAPTERS)
@FUZZ
@given(response=JSONISH)
def test_rel_r22_parse_response_never_raises(name, response):
    info = get_adapter(name).parse_response(response)
    _check_usage(info.usage)
    if info.attributes:
        _check_encodable(info.attributes)


@pytest.mark.parametrize("name", ADAPTERS)
@FUZZ
@given(chunks=st.lists(JSONISH, max_size=8))
def test_rel_r22_stream_accumulation_never_raises(name, chunks):
    accumulator = get_adapter(name).new_accumulator()
    for chunk in chunks:
        accumulator.add(chunk)
    info = accumulator.result()
    _check_usage(info.usage)


@pytest.mark.parametrize("name", ADAPTERS)
@FUZZ
@given(kwargs=st.dictionaries(KEYS, JSONISH, max_size=8))
def test_rel_r22_request_side_never_raises(name, kwargs):
    adapter = get_adapter(name)
    attributes = adapter.request_attributes(kwargs)
    _check_encodable({k: v for k, v in attributes.items()})
    adapter.request_content(kwargs)


@FUZZ
@given(obj=JSONISH)
def test_rel_r22_detect_adapter_never_raises(obj):
    detect_adapter(obj)


@FUZZ
@given(tokens=st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=2**62)),
                       min_size=5, max_size=5),
       model=st.one_of(st.sampled_from(["gpt-4o-mini", "claude-sonnet-4-5", "gpt-4o"]),
                       HOSTILE_TEXT))
def test_rel_r22_cost_is_finite_and_non_negative(tokens, model):
    cost = compute_cost((model,), *tokens)
    assert cost is None or (math.isfinite(cost.amount) and cost.amount >= 0)
