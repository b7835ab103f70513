"""GenAI telemetry: LLM calls, agents, tools and workflows by the GenAI semantic conventions.

Public API (decorators for sync/async/generator/async-generator functions, and ``with`` /
``async with``)::

    import aiobs_otel as aiobs

    @aiobs.llm_call(provider="openai", model="gpt-4o-mini")
    def ask(prompt: str) -> ChatCompletion: ...

    with aiobs.llm_call(provider="acme", model="acme-1") as call:
        resp = my_http_client.post(...)
        call.set_response(resp)
        call.record_usage(input_tokens=812, output_tokens=64, cache_read_input_tokens=512)

The instrumentors (``aiobs_otel.instrumentation``) use :func:`start_inference`. When an
inference is already open in the current context (a decorator around an instrumented SDK call),
:func:`start_inference` does not open a second span: it returns a *nested* handle that enriches
the outer invocation, which owns the span (see ``docs/genai.md``).

Two semantic-convention profiles: semantic-conventions v1.41 (default) and the
semantic-conventions-genai repository at ``semconv.GENAI_LATEST_COMMIT`` (opt in with
``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` or ``AIOBS_GENAI_SEMCONV_LATEST``).
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import time
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import Counter, Histogram, Meter
from opentelemetry.trace import NonRecordingSpan, Span, SpanKind

from .. import semconv as sc
from ..config import ContentCapture, Settings
from ..instrumentation._adapters import (
    GENERIC,
    Accumulator,
    Adapter,
    Content,
    ResponseInfo,
    Usage,
    adapter_for_provider,
    get_adapter,
    non_negative_int,
)
from . import errors, state
from .content import _cap_strings, redact, set_redactor, to_bounded_json
from .cost import Cost, compute_cost, set_pricing
from .deferred import (
    NO_EXEMPLAR,
    DeferredHistogram,
    DeferredWork,
    deferred_histogram,
    deferred_work,
)
from .otel import event_logger, instrument_set
from .wrapping import Operation, Scope, error_type, start_span

__all__ = [
    "LLMInvocation",
    "agent",
    "current_inference",
    "llm_call",
    "set_pricing",
    "set_redactor",
    "start_inference",
    "tool",
    "workflow",
]

F = TypeVar("F", bound=Callable[..., Any])

# Context keys: the open inference (for nesting) and the open agent/workflow (for is_nested).
_INFERENCE_KEY = otel_context.create_key("aiobs_otel.genai.inference")
_INVOCATION_KEY = otel_context.create_key("aiobs_otel.genai.invocation")

_clock_ns = time.perf_counter_ns

_INFERENCE_OPS = (sc.GEN_AI_OP_CHAT, sc.GEN_AI_OP_TEXT_COMPLETION, sc.GEN_AI_OP_GENERATE_CONTENT)

# Attributes only the latest profile defines; dropped under v1.41.
_LATEST_ONLY = frozenset({sc.GEN_AI_REQUEST_REASONING_LEVEL,
                          sc.GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID})


# --- configuration derived from settings (cached per Settings object) ---------------------------


@dataclass(frozen=True)
class _Config:
    latest: bool
    capture: ContentCapture
    content_on_span: bool
    content_on_event: bool
    content_max_bytes: int


_config_cache: tuple[Settings | None, _Config | None] = (None, None)


def _config() -> _Config:
    global _config_cache
    settings = state.current_settings()
    cached_settings, cached = _config_cache
    if cached_settings is settings and cached is not None:
        return cached
    capture = settings.capture_content
    config = _Config(
        latest=settings.genai_semconv_latest,
        capture=capture,
        content_on_span=capture.on_span,
        content_on_event=capture.on_event,
        # the SDK cuts longer string attributes, which would break the JSON: stay under it
        content_max_bytes=min(settings.content_max_bytes, settings.attribute_value_max_length),
    )
    _config_cache = (settings, config)
    return config


# --- instruments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Instruments:
    """LLM call metrics are plain SDK instruments recorded at collection from the snapshots in
    ``calls``; agent, workflow and tool durations are deferred histograms."""

    # v1.41
    operation_duration: Histogram
    token_usage: Histogram
    op_ttfc: Histogram
    op_tpoc: Histogram
    invoke_agent_duration: DeferredHistogram
    invoke_workflow_duration: DeferredHistogram
    # latest
    inference_duration: Histogram
    inference_ttfc: Histogram
    inference_tpoc: Histogram
    usage_input: Counter
    usage_output: Counter
    usage_cache_read: Counter
    usage_cache_write: Counter
    usage_reasoning: Counter
    op_input_tokens: Histogram
    op_output_tokens: Histogram
    embeddings_duration: Histogram
    embeddings_input_tokens: Histogram
    invocation_duration: DeferredHistogram
    # both
    execute_tool_duration: DeferredHistogram
    cost: Counter
    calls: DeferredWork  # one snapshot per LLM call, recorded into the above at collection


def _seconds(m: Meter, name: str, description: str,
             buckets: tuple[float, ...] = sc.GEN_AI_DURATION_BUCKETS) -> Histogram:
    return m.create_histogram(name, unit="s", description=description,
                              explicit_bucket_boundaries_advisory=list(buckets))


def _deferred_seconds(m: Meter, name: str, description: str,
                      buckets: tuple[float, ...] = sc.GEN_AI_DURATION_BUCKETS
                      ) -> DeferredHistogram:
    return deferred_histogram(m, name, unit="s", description=description,
                              explicit_bucket_boundaries_advisory=list(buckets))


def _tokens(m: Meter, name: str, description: str) -> Histogram:
    return m.create_histogram(name, unit="{token}", description=description,
                              explicit_bucket_boundaries_advisory=list(sc.GEN_AI_TOKEN_BUCKETS))


def _tokens_counter(m: Meter, name: str, description: str) -> Counter:
    return m.create_counter(name, unit="{token}", description=description)


@instrument_set("genai")
def _genai_instruments(m: Meter) -> _Instruments:
    """Instruments are created lazily by the SDK only when first recorded, so building both
    profiles' sets costs nothing on export: only the active profile's ever get data.

    Nothing is recorded on the caller's thread (:mod:`.deferred`): an LLM call appends one
    snapshot to ``calls`` and an agent/tool/workflow run one value; the SDK records are made
    when metrics are collected, on the export thread."""
    return _Instruments(
        operation_duration=_seconds(m, sc.GEN_AI_CLIENT_OPERATION_DURATION,
                                    "GenAI operation duration."),
        token_usage=_tokens(m, sc.GEN_AI_CLIENT_TOKEN_USAGE, "Number of input and output tokens."),
        op_ttfc=_seconds(m, sc.GEN_AI_CLIENT_OPERATION_TTFC,
                         "Time to receive the first chunk of a streamed response."),
        op_tpoc=_seconds(m, sc.GEN_AI_CLIENT_OPERATION_TPOC,
                         "Time between consecutive chunks of a streamed response."),
        invoke_agent_duration=_deferred_seconds(m, sc.GEN_AI_INVOKE_AGENT_DURATION,
                                                "Agent invocation duration.",
                                                sc.GEN_AI_INVOCATION_BUCKETS),
        invoke_workflow_duration=_deferred_seconds(m, sc.GEN_AI_INVOKE_WORKFLOW_DURATION,
                                                   "Workflow invocation duration.",
                                                   sc.GEN_AI_INVOCATION_BUCKETS),
        inference_duration=_seconds(m, sc.GEN_AI_CLIENT_INFERENCE_DURATION,
                                    "GenAI inference duration."),
        inference_ttfc=_seconds(m, sc.GEN_AI_CLIENT_INFERENCE_TTFC,
                                "Time to receive the first chunk of a streamed response."),
        inference_tpoc=_seconds(m, sc.GEN_AI_CLIENT_INFERENCE_TPOC,
                                "Time between consecutive chunks of a streamed response."),
        usage_input=_tokens_counter(m, sc.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT,
                                    "Input tokens used."),
        usage_output=_tokens_counter(m, sc.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT,
                                     "Output tokens used."),
        usage_cache_read=_tokens_counter(m, sc.GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ,
                                         "Input tokens read from cache."),
        usage_cache_write=_tokens_counter(m, sc.GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE,
                                          "Input tokens written to cache."),
        usage_reasoning=_tokens_counter(m, sc.GEN_AI_CLIENT_INFERENCE_USAGE_REASONING,
                                        "Reasoning output tokens."),
        op_input_tokens=_tokens(m, sc.GEN_AI_CLIENT_INFERENCE_OP_INPUT_TOKENS,
                                "Input tokens per inference."),
        op_output_tokens=_tokens(m, sc.GEN_AI_CLIENT_INFERENCE_OP_OUTPUT_TOKENS,
                                 "Output tokens per inference."),
        embeddings_duration=_seconds(m, sc.GEN_AI_CLIENT_EMBEDDINGS_DURATION,
                                     "GenAI embeddings duration."),
        embeddings_input_tokens=_tokens(m, sc.GEN_AI_CLIENT_EMBEDDINGS_OP_INPUT_TOKENS,
                                        "Input tokens per embeddings operation."),
        invocation_duration=_deferred_seconds(m, sc.GEN_AI_INVOCATION_DURATION,
                                              "Agent or workflow invocation duration.",
                                              sc.GEN_AI_INVOCATION_BUCKETS),
        execute_tool_duration=_deferred_seconds(m, sc.GEN_AI_EXECUTE_TOOL_DURATION,
                                                "Tool execution duration."),
        cost=m.create_counter(sc.AIOBS_GENAI_COST, unit="{USD}",
                              description="Estimated cost of LLM calls from the pricing table."),
        calls=deferred_work(m, "genai.calls"),
    )


# --- content helpers ------------------------------------------------------------------------------


def _content_json(value: Any, config: _Config) -> tuple[str, bool]:
    return to_bounded_json(redact(_precap(value, config)), config.content_max_bytes)


def _precap(value: Any, config: _Config) -> Any:
    """Cut strings that could never be recorded whole before the redactor scans them.

    Redaction cost grows with the text (about 1 s for a 1 MiB prompt); only the first
    ``content_max_bytes`` characters of any string can survive the final truncation, so strings
    are cut at 6x that (a margin no redaction can shrink below the kept prefix).
    """
    return _cap_strings(value, 6 * config.content_max_bytes + 64)


def _bounded_structure(value: Any, config: _Config) -> Any:
    """Redacted, byte-bounded structured content for event attributes."""
    text, _ = _content_json(value, config)
    return json.loads(text)


def _messages_from_user(value: Any, adapter: Adapter) -> list[dict[str, Any]] | None:
    """User-supplied messages: conventions' shape kept; provider shape mapped; text wrapped."""
    if value is None:
        return None
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"type": "text", "content": value}]}]
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if all(isinstance(m, Mapping) and "parts" in m for m in items):
        return [dict(m) for m in items]
    mapped = (adapter if adapter is not GENERIC else get_adapter("openai")).request_content(
        {"messages": items}).input_messages
    return mapped


# --- the inference handle -------------------------------------------------------------------------


class LLMInvocation(Scope):
    """One LLM inference (or embeddings) call: owns its span, metrics and events.

    The user's handle inside ``with aiobs.llm_call(...) as call:`` and what instrumentors get
    from :func:`start_inference`. Every setter is safe to call with partial or garbage data.
    """

    hook_name = "genai.inference"
    is_nested = False

    def __init__(self, span: Span, *, provider: str, operation: str,
                 request_model: str | None, adapter: Adapter, stream: bool,
                 server_address: str | None, server_port: int | None,
                 request_attributes: dict[str, Any], config: _Config) -> None:
        super().__init__(span)
        self.provider = provider
        self.operation = operation
        self.request_model = request_model
        self.adapter = adapter
        self.stream = stream
        self.server_address = server_address
        self.server_port = server_port
        self.config = config
        self.request_attributes = request_attributes
        self.response = ResponseInfo()
        self.usage = Usage()
        self._accumulator: Accumulator | None = None
        # arrival time of each streamed chunk (perf counter ns; 8 bytes each)
        self._chunk_ns: array[int] = array("q")
        self._attach_base: otel_context.Context | None = None
        self._attach_context: otel_context.Context | None = None
        self._content_store: Content | None = None  # only used when content is captured
        self._output_messages: list[dict[str, Any]] | None = None
        self._raw_response: Any = None
        self._pending_nested = 0
        self._deferred: tuple[BaseException | None] | None = None

    @property
    def _content(self) -> Content:
        content = self._content_store
        if content is None:
            content = self._content_store = Content()
        return content

    # -- context -----------------------------------------------------------------------------------
    def attach(self) -> object:
        # A decorated generator attaches once per chunk: reuse the context built on the same
        # parent context (contexts are immutable).
        parent = otel_context.get_current()
        ctx = self._attach_context
        if ctx is None or parent is not self._attach_base:
            ctx = otel_context.set_value(_INFERENCE_KEY, self,
                                         trace.set_span_in_context(self.span, parent))
            self._attach_base, self._attach_context = parent, ctx
        return otel_context.attach(ctx)

    # -- request -----------------------------------------------------------------------------------
    def set_request(self, model: str | None = None, kwargs: Mapping[str, Any] | None = None,
                    **params: Any) -> None:
        """Request model, SDK call kwargs (mapped by the provider adapter) and/or explicit
        parameters: ``temperature``, ``top_p``, ``top_k``, ``max_tokens``, ``seed``,
        ``frequency_penalty``, ``presence_penalty``, ``stop_sequences``, ``choice_count``,
        ``output_type``, ``stream``, ``server_address``, ``server_port``."""
        with errors.guard("genai.set_request"):
            if kwargs:
                self._merge_request(self.adapter.request_attributes(kwargs), override=True)
                if self.config.capture is not ContentCapture.NO_CONTENT:
                    self._merge_content(self.adapter.request_content(kwargs))
                if kwargs.get("stream") is True:
                    self.stream = True
            if model:
                self._set_request_model(model)
            if params:
                self._merge_request(_explicit_params(params, self), override=True)

    def _set_request_model(self, model: str) -> None:
        if model != self.request_model:
            self.request_model = model
            self.request_attributes[sc.GEN_AI_REQUEST_MODEL] = model
            if self.span.is_recording():
                self.span.update_name(_span_name(self.operation, model))
                self.span.set_attribute(sc.GEN_AI_REQUEST_MODEL, model)

    def _merge_request(self, attrs: Mapping[str, Any], override: bool) -> None:
        if not attrs:
            return
        model = attrs.get(sc.GEN_AI_REQUEST_MODEL)
        if isinstance(model, str) and (override or self.request_model is None):
            self._set_request_model(model)
        if attrs.get(sc.GEN_AI_REQUEST_STREAM) is True:
            self.stream = True
        for key, value in attrs.items():
            if key == sc.GEN_AI_REQUEST_MODEL or (not override and key in self.request_attributes):
                continue
            if key in _LATEST_ONLY and not self.config.latest:
                continue
            self.request_attributes[key] = value
        if self.span.is_recording():
            self.span.set_attributes({k: v for k, v in self.request_attributes.items()
                                      if k != sc.GEN_AI_REQUEST_MODEL})

    def _merge_content(self, content: Content, override: bool = True) -> None:
        for name in ("input_messages", "system_instructions", "tool_definitions"):
            value = getattr(content, name)
            if value is not None and (override or getattr(self._content, name) is None):
                setattr(self._content, name, value)

    def set_input_messages(self, messages: Any) -> None:
        """Input messages: conventions' shape (``[{role, parts}]``), provider shape, or text."""
        if self.config.capture is ContentCapture.NO_CONTENT:
            return
        with errors.guard("genai.set_input_messages"):
            self._content.input_messages = _messages_from_user(messages, self.adapter)

    def set_system_instructions(self, instructions: Any) -> None:
        if self.config.capture is ContentCapture.NO_CONTENT or instructions is None:
            return
        if isinstance(instructions, str):
            instructions = [{"type": "text", "content": instructions}]
        self._content.system_instructions = list(instructions)

    def set_tool_definitions(self, tools: Any) -> None:
        if self.config.capture is ContentCapture.NO_CONTENT or tools is None:
            return
        with errors.guard("genai.set_tool_definitions"):
            from ..instrumentation._adapters.openai import tool_definitions

            items = list(tools)
            if all(isinstance(t, Mapping) and "name" in t and "function" not in t for t in items):
                self._content.tool_definitions = [dict(t) for t in items]
            else:
                self._content.tool_definitions = tool_definitions(items)

    def set_output_messages(self, messages: Any) -> None:
        """Output messages (one per choice) in the conventions' shape, or text."""
        if self.config.capture is ContentCapture.NO_CONTENT or messages is None:
            return
        if isinstance(messages, str):
            messages = [{"role": "assistant", "parts": [{"type": "text", "content": messages}]}]
        self._output_messages = [dict(m) for m in messages]

    # -- response ----------------------------------------------------------------------------------
    def set_response(self, response: Any) -> None:
        """Take model, id, finish reasons and usage (and output, when captured) from an OpenAI- or
        Anthropic-shaped object or dict. Unknown shapes and ``None`` are ignored."""
        if response is None:
            return
        try:
            adapter = self.adapter
            info = adapter.parse_response(response)
            if adapter is GENERIC and info.model is None and info.usage is None:
                return
            self._take_response(info)
            if self.config.capture is not ContentCapture.NO_CONTENT:
                self._raw_response = response
        except Exception as exc:
            errors.report("genai.set_response", exc)

    def _take_response(self, info: ResponseInfo) -> None:
        response = self.response
        if info.model is not None:
            response.model = info.model
        if info.id is not None:
            response.id = info.id
        if info.finish_reasons is not None:
            response.finish_reasons = info.finish_reasons
        if info.choice_count:
            response.choice_count = info.choice_count
        if info.attributes:
            response.attributes.update(info.attributes)
        if info.output_messages is not None:
            response.output_messages = info.output_messages
        if info.usage is not None:
            self.usage.merge(info.usage)

    def set_response_model(self, model: str) -> None:
        if isinstance(model, str) and model:
            self.response.model = model

    def set_response_id(self, response_id: str) -> None:
        if isinstance(response_id, str) and response_id:
            self.response.id = response_id

    def set_finish_reasons(self, reasons: Any) -> None:
        if isinstance(reasons, str):
            reasons = [reasons]
        if isinstance(reasons, (list, tuple)):
            self.response.finish_reasons = [str(r) for r in reasons]

    def record_usage(self, input_tokens: int | None = None, output_tokens: int | None = None,
                     cache_read_input_tokens: int | None = None,
                     cache_creation_input_tokens: int | None = None,
                     reasoning_tokens: int | None = None) -> None:
        """Token counts; ``input_tokens`` is the total *including* cached input tokens.

        Values that are not non-negative integers are ignored; counts not given stay unknown.
        """
        self.usage.merge(Usage(
            input_tokens=non_negative_int(input_tokens),
            output_tokens=non_negative_int(output_tokens),
            cache_read_input_tokens=non_negative_int(cache_read_input_tokens),
            cache_creation_input_tokens=non_negative_int(cache_creation_input_tokens),
            reasoning_tokens=non_negative_int(reasoning_tokens),
        ))

    def set_attribute(self, key: str, value: Any) -> None:
        if self.span.is_recording():
            self.span.set_attribute(key, value)

    # -- streaming ---------------------------------------------------------------------------------
    def on_chunk(self, chunk: Any) -> None:
        """One streamed chunk arrived: its arrival time (TTFC and gaps are computed at the end,
        the gaps only when metrics are collected) and accumulation."""
        self._chunk_ns.append(_clock_ns())
        try:
            accumulator = self._accumulator
            if accumulator is None:
                self.stream = True
                accumulator = self._accumulator = self.adapter.new_accumulator()
            accumulator.add(chunk)
        except Exception as exc:
            errors.report("genai.on_chunk", exc)

    on_item = on_chunk  # type: ignore[assignment]  # a decorated generator yielded a chunk

    def on_result(self, result: Any) -> None:  # a decorated function returned
        self.set_response(result)

    def abandon(self, reason: str = "closed") -> None:
        """The consumer stopped reading a stream early: end as an error, exactly once."""
        self.finish(AbandonedStreamError(reason))

    # -- ending ------------------------------------------------------------------------------------
    def finish(self, error: BaseException | None = None) -> None:
        if self.ended:
            return
        if self._pending_nested > 0:  # a nested (instrumented) stream is still being read
            if self._deferred is None:
                self._deferred = (error,)
            return
        super().finish(error)

    def _nested_done(self, error: BaseException | None) -> None:
        self._pending_nested -= 1
        if self._pending_nested <= 0 and self._deferred is not None:
            deferred = self._deferred[0]
            self._deferred = None
            self.finish(deferred if deferred is not None else error)

    def on_end(self, error: BaseException | None) -> None:
        config = self.config
        if self._accumulator is not None:
            self._take_response(self._accumulator.result())
        response = self.response
        usage = self.usage
        if error is not None and self.stream:
            count = max(response.choice_count, len(response.finish_reasons or ()), 1)
            reasons = list(response.finish_reasons or ())
            reasons += ["error"] * (count - len(reasons))
            response.finish_reasons = reasons
        cost = None
        if error is None or usage.input_tokens is not None or usage.output_tokens is not None:
            cost = compute_cost((response.model, self.request_model), usage.input_tokens,
                                usage.output_tokens, usage.cache_read_input_tokens,
                                usage.cache_creation_input_tokens, usage.reasoning_tokens)
        span = self.span
        recording = span.is_recording()
        want_event = config.content_on_event
        if recording or want_event:
            attrs = self._final_attributes(error, cost)
            content = self._content_values(error) if config.capture is not \
                ContentCapture.NO_CONTENT else {}
            if recording:
                if content and config.content_on_span:
                    truncated = False
                    for key, value in content.items():
                        text, cut = _content_json(value, config)
                        attrs[key] = text
                        truncated = truncated or cut
                    if truncated:
                        attrs[sc.AIOBS_GENAI_CONTENT_TRUNCATED] = True
                span.set_attributes(attrs)
            if want_event:
                self._emit_event(attrs, content, error)
        # recorded with the span's context (built at collection), so exemplars point at it
        self._record_metrics(error, cost, span)

    def _final_attributes(self, error: BaseException | None, cost: Any) -> dict[str, Any]:
        response = self.response
        usage = self.usage
        attrs: dict[str, Any] = {}
        if self.stream:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
            if self._chunk_ns:
                attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (
                    (self._chunk_ns[0] - self.start_ns) / 1e9)
            if self._accumulator is not None:
                attrs[sc.AIOBS_GENAI_STREAM_CHUNKS] = self._accumulator.chunks
        if response.model is not None:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = response.model
        if response.id is not None:
            attrs[sc.GEN_AI_RESPONSE_ID] = response.id
        if response.finish_reasons:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = list(response.finish_reasons)
        if response.attributes:
            attrs.update(response.attributes)
        if usage.input_tokens is not None:
            attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
        if usage.output_tokens is not None and self.operation != sc.GEN_AI_OP_EMBEDDINGS:
            attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
        if usage.cache_read_input_tokens is not None:
            attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_input_tokens
        if usage.cache_creation_input_tokens is not None:
            key = (sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS if self.config.latest
                   else sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)
            attrs[key] = usage.cache_creation_input_tokens
        if usage.reasoning_tokens is not None:
            attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
        if cost is not None:
            attrs[sc.AIOBS_GENAI_COST] = cost.amount
            attrs[sc.AIOBS_GENAI_COST_CURRENCY] = cost.currency
            attrs[sc.AIOBS_GENAI_PRICING_SOURCE] = cost.source
        return attrs

    def _content_values(self, error: BaseException | None) -> dict[str, Any]:
        content = self._content
        values: dict[str, Any] = {}
        if content.input_messages:
            values[sc.GEN_AI_INPUT_MESSAGES] = content.input_messages
        if content.system_instructions:
            values[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.system_instructions
        if content.tool_definitions:
            values[sc.GEN_AI_TOOL_DEFINITIONS] = content.tool_definitions
        output = self._output_messages
        if output is None and self.response.output_messages is not None:
            output = self.response.output_messages  # streamed (possibly partial) output
        if output is None and self._raw_response is not None and error is None:
            output = self.adapter.output_messages(self._raw_response)
        if output:
            values[sc.GEN_AI_OUTPUT_MESSAGES] = output
        return values

    def _emit_event(self, attrs: dict[str, Any], content: dict[str, Any],
                    error: BaseException | None) -> None:
        body_attrs: dict[str, Any] = dict(self.request_attributes)
        body_attrs[sc.GEN_AI_OPERATION_NAME] = self.operation
        body_attrs[sc.GEN_AI_PROVIDER_NAME] = self.provider
        if self.request_model is not None:
            body_attrs[sc.GEN_AI_REQUEST_MODEL] = self.request_model
        if self.server_address is not None:
            body_attrs[sc.SERVER_ADDRESS] = self.server_address
        if self.server_port is not None:
            body_attrs[sc.SERVER_PORT] = self.server_port
        body_attrs.update({k: v for k, v in attrs.items() if k not in content})
        if error is not None:
            body_attrs[sc.ERROR_TYPE] = error_type(error)
        structured: dict[str, Any] = {}
        for key, value in content.items():
            structured[key] = _bounded_structure(value, self.config)
        body_attrs.update(structured)
        event_logger().emit(
            event_name=sc.GEN_AI_EVENT_INFERENCE_DETAILS,
            attributes=body_attrs,
            context=trace.set_span_in_context(self.span),
        )

    def _record_metrics(self, error: BaseException | None, cost: Cost | None,
                        span: Span) -> None:
        """Hand a snapshot of the call's figures over: the metric points are built and recorded
        at collection, on the export thread (:func:`_record_call`)."""
        instruments = _genai_instruments.get()
        usage = self.usage
        times = self._chunk_ns
        if times:
            self._chunk_ns = array("q")  # handed over with the snapshot
        instruments.calls.submit(_record_call, (
            instruments, self.config.latest, self.operation, self.provider, self.request_model,
            self.response.model, self.server_address, self.server_port,
            error_type(error) if error is not None else None, self.elapsed_s(),
            usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens, usage.reasoning_tokens, cost,
            times if times else None, self.start_ns, span.get_span_context(),
        ))


def _record_call(snapshot: tuple[Any, ...]) -> None:
    """Record one LLM call's metric points (at collection, on the export thread)."""
    (instruments, latest, operation, provider, request_model, response_model, address, port,
     error_name, duration, input_tokens, output_tokens, cache_read, cache_write, reasoning,
     cost, times, start_ns, span_context) = snapshot
    sets = _attribute_sets(operation, provider, request_model, response_model, address, port,
                           error_name)
    attrs = sets.base
    # recorded with the span's context, so exemplars point at the call's span
    ctx = trace.set_span_in_context(NonRecordingSpan(span_context), NO_EXEMPLAR)
    embeddings = operation == sc.GEN_AI_OP_EMBEDDINGS
    if latest:
        if embeddings:
            instruments.embeddings_duration.record(duration, attrs, context=ctx)
            if error_name is None and input_tokens is not None:
                instruments.embeddings_input_tokens.record(input_tokens, attrs, context=ctx)
        else:
            instruments.inference_duration.record(duration, attrs, context=ctx)
            text = sets.plus(sc.GEN_AI_TOKEN_MODALITY, "text")
            # usage counters: every inference, failed ones included; 0/"unknown" if unreported
            for counter, value in ((instruments.usage_input, input_tokens),
                                   (instruments.usage_output, output_tokens)):
                if value is None:
                    counter.add(0, sets.plus(sc.GEN_AI_TOKEN_MODALITY, "unknown"), context=ctx)
                else:
                    counter.add(value, text, context=ctx)
            for counter, value in ((instruments.usage_cache_read, cache_read),
                                   (instruments.usage_cache_write, cache_write),
                                   (instruments.usage_reasoning, reasoning)):
                if value is not None:
                    counter.add(value, text, context=ctx)
            if error_name is None:  # per-operation histograms skip failed operations
                if input_tokens is not None:
                    instruments.op_input_tokens.record(input_tokens, attrs, context=ctx)
                if output_tokens is not None:
                    instruments.op_output_tokens.record(output_tokens, attrs, context=ctx)
            _record_stream_timing(instruments.inference_ttfc, instruments.inference_tpoc, sets,
                                  times, start_ns, ctx)
    else:
        instruments.operation_duration.record(duration, attrs, context=ctx)
        if input_tokens is not None:
            instruments.token_usage.record(
                input_tokens, sets.plus(sc.GEN_AI_TOKEN_TYPE, sc.GEN_AI_TOKEN_TYPE_INPUT),
                context=ctx)
        if output_tokens is not None and not embeddings:
            instruments.token_usage.record(
                output_tokens, sets.plus(sc.GEN_AI_TOKEN_TYPE, sc.GEN_AI_TOKEN_TYPE_OUTPUT),
                context=ctx)
        _record_stream_timing(instruments.op_ttfc, instruments.op_tpoc, sets, times, start_ns,
                              ctx)
    if cost is not None:
        instruments.cost.add(cost.amount, sets.cost(cost.currency), context=ctx)


def _record_stream_timing(ttfc: Histogram, tpoc: Histogram, sets: _AttributeSets,
                          times: array[int] | None, start_ns: int,
                          ctx: otel_context.Context) -> None:
    if not times:
        return
    attrs = sets.without_error()
    ttfc.record((times[0] - start_ns) / 1e9, attrs, context=ctx)
    record = tpoc.record
    previous = times[0]
    for now in itertools.islice(times, 1, None):  # per-chunk points: no exemplar sampling
        record((now - previous) / 1e9, attrs, context=NO_EXEMPLAR)
        previous = now


def _attribute_sets(operation: str, provider: str, request_model: str | None,
                    response_model: str | None, address: str | None, port: int | None,
                    error_name: str | None) -> _AttributeSets:
    key = (operation, provider, request_model, response_model, address, port, error_name)
    sets = _ATTRIBUTE_SETS.get(key)
    if sets is None:
        attrs: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: operation,
                                 sc.GEN_AI_PROVIDER_NAME: provider}
        if request_model is not None:
            attrs[sc.GEN_AI_REQUEST_MODEL] = request_model
        if response_model is not None:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = response_model
        if address is not None:
            attrs[sc.SERVER_ADDRESS] = address
        if port is not None:
            attrs[sc.SERVER_PORT] = port
        if error_name is not None:
            attrs[sc.ERROR_TYPE] = error_name
        if len(_ATTRIBUTE_SETS) >= _ATTRIBUTE_SETS_MAX:  # many models: stay bounded
            _ATTRIBUTE_SETS.clear()
        sets = _ATTRIBUTE_SETS[key] = _AttributeSets(attrs)
    return sets


class _AttributeSets:
    """The metric attribute mappings of one (operation, provider, models, server, error) key,
    built once and shared by every call with that key: deferred values keep a reference, so
    these are never mutated."""

    __slots__ = ("_derived", "base")

    def __init__(self, base: dict[str, Any]) -> None:
        self.base = base
        self._derived: dict[Any, dict[str, Any]] = {}

    def plus(self, key: str, value: Any) -> dict[str, Any]:
        """``base`` with one more attribute."""
        derived = self._derived.get((key, value))
        if derived is None:
            derived = self._derived[(key, value)] = {**self.base, key: value}
        return derived

    def without_error(self) -> dict[str, Any]:
        if sc.ERROR_TYPE not in self.base:
            return self.base
        derived = self._derived.get(sc.ERROR_TYPE)
        if derived is None:
            derived = {k: v for k, v in self.base.items() if k != sc.ERROR_TYPE}
            self._derived[sc.ERROR_TYPE] = derived
        return derived

    def cost(self, currency: str) -> dict[str, Any]:
        """Cost attributes: no ``error.type``, plus the currency."""
        derived = self._derived.get(("cost", currency))
        if derived is None:
            derived = {**self.without_error(), sc.AIOBS_GENAI_COST_CURRENCY: currency}
            self._derived[("cost", currency)] = derived
        return derived


_ATTRIBUTE_SETS_MAX = 1024
_ATTRIBUTE_SETS: dict[tuple[Any, ...], _AttributeSets] = {}


class AbandonedStreamError(Exception):
    """A stream was closed, broken out of or garbage-collected before its end."""


class _NestedInference:
    """What :func:`start_inference` returns inside an open inference: enriches the outer one.

    The SDK call's request values (what was really sent) are merged over the outer
    invocation's; response, usage and chunks are taken as they come. :meth:`finish` does not end the
    outer span; if the outer scope already ended meanwhile (a decorated function that returned
    a stream), the outer span ends when this nested handle finishes.
    """

    is_nested = True

    def __init__(self, outer: LLMInvocation) -> None:
        self.outer = outer
        self.ended = False
        outer._pending_nested += 1

    @property
    def span(self) -> Span:
        return self.outer.span

    def attach(self) -> object:
        return None

    def detach(self, token: object) -> None:
        return None

    def set_request(self, model: str | None = None, kwargs: Mapping[str, Any] | None = None,
                    **params: Any) -> None:
        outer = self.outer
        with errors.guard("genai.nested.set_request"):
            if kwargs:  # what the SDK call really sent wins over the outer scope's guesses
                outer._merge_request(outer.adapter.request_attributes(kwargs), override=True)
                if outer.config.capture is not ContentCapture.NO_CONTENT:
                    outer._merge_content(outer.adapter.request_content(kwargs), override=True)
                if kwargs.get("stream") is True:
                    outer.stream = True
            if model:
                outer._set_request_model(model)
            if params:
                outer._merge_request(_explicit_params(params, outer), override=False)

    def __getattr__(self, name: str) -> Any:
        # set_response, record_usage, on_chunk, set_*_messages, set_attribute, ... → the outer
        return getattr(self.outer, name)

    def abandon(self, reason: str = "closed") -> None:
        self.finish(AbandonedStreamError(reason))

    def finish(self, error: BaseException | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        self.outer._nested_done(error)


def _explicit_params(params: Mapping[str, Any], inv: LLMInvocation) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        if name == "server_address":
            inv.server_address = str(value)
            attrs[sc.SERVER_ADDRESS] = str(value)
        elif name == "server_port":
            port = non_negative_int(value)
            if port is not None:
                inv.server_port = port
                attrs[sc.SERVER_PORT] = port
        elif name == "stream":
            if value is True:
                inv.stream = True
                attrs[sc.GEN_AI_REQUEST_STREAM] = True
        else:
            key = _PARAM_ATTRIBUTES.get(name)
            if key is None:
                raise TypeError(f"unknown request parameter {name!r}")
            if name == "stop_sequences" and isinstance(value, str):
                value = [value]
            attrs[key] = list(value) if isinstance(value, tuple) else value
    return attrs


_PARAM_ATTRIBUTES = {
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": sc.GEN_AI_REQUEST_TOP_P,
    "top_k": sc.GEN_AI_REQUEST_TOP_K,
    "max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "frequency_penalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "stop_sequences": sc.GEN_AI_REQUEST_STOP_SEQUENCES,
    "seed": sc.GEN_AI_REQUEST_SEED,
    "choice_count": sc.GEN_AI_REQUEST_CHOICE_COUNT,
    "output_type": sc.GEN_AI_OUTPUT_TYPE,
    "reasoning_level": sc.GEN_AI_REQUEST_REASONING_LEVEL,
    "conversation_id": sc.GEN_AI_CONVERSATION_ID,
    "encoding_formats": sc.GEN_AI_REQUEST_ENCODING_FORMATS,
    "dimension_count": sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
}


def _span_name(operation: str, model: str | None) -> str:
    return f"{operation} {model}" if model else operation


# --- low-level API for instrumentors --------------------------------------------------------------


def current_inference() -> LLMInvocation | None:
    """The inference open in the current context (set while its context is attached), if any."""
    inv = otel_context.get_value(_INFERENCE_KEY)
    if isinstance(inv, LLMInvocation) and not inv.ended:
        return inv
    return None


def _open_inference(provider: str, operation: str, request_model: str | None,
                    request_attributes: dict[str, Any], adapter: Adapter, stream: bool,
                    server_address: str | None, server_port: int | None,
                    config: _Config) -> LLMInvocation:
    attrs: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: operation,
                             sc.GEN_AI_PROVIDER_NAME: provider}
    if request_model:
        attrs[sc.GEN_AI_REQUEST_MODEL] = request_model
    if server_address is not None:
        attrs[sc.SERVER_ADDRESS] = server_address
    if server_port is not None:
        attrs[sc.SERVER_PORT] = server_port
    if stream:
        attrs[sc.GEN_AI_REQUEST_STREAM] = True
    if request_attributes:
        attrs.update(request_attributes)
    span = start_span(_span_name(operation, request_model), SpanKind.CLIENT, attrs)
    return LLMInvocation(span, provider=provider, operation=operation,
                         request_model=request_model or None, adapter=adapter, stream=stream,
                         server_address=server_address, server_port=server_port,
                         request_attributes=request_attributes, config=config)


def start_inference(provider: str, operation: str = "chat", request_model: str | None = None,
                    request_kwargs: Mapping[str, Any] | None = None, *,
                    adapter: str | Adapter | None = None, stream: bool = False,
                    server_address: str | None = None,
                    server_port: int | None = None) -> LLMInvocation | None:
    """Open an inference span for an instrumented SDK call (or return a nested handle).

    Returns ``None`` when the library is disabled or the span could not be opened; never
    raises. Inside an open inference (``current_inference()``), returns a nested handle with
    the same methods that enriches the outer invocation instead of opening a second span.

    >>> inv = start_inference("openai", "chat", "gpt-4o-mini", {"model": "gpt-4o-mini"},
    ...                       adapter="openai", server_address="api.openai.com",
    ...                       server_port=443)  # doctest: +SKIP
    >>> inv.set_response(completion); inv.finish()  # doctest: +SKIP
    """
    if state.disabled:
        return None
    try:
        chosen = (get_adapter(adapter) if isinstance(adapter, str)
                  else adapter or adapter_for_provider(provider, operation))
        outer = current_inference()
        if outer is not None:
            nested = _NestedInference(outer)
            if chosen is not GENERIC:  # the instrumentor knows which SDK API this call is
                outer.adapter = chosen
            if outer.server_address is None and server_address is not None:
                nested.set_request(server_address=server_address, server_port=server_port)
            nested.set_request(model=request_model, kwargs=request_kwargs,
                               **({"stream": True} if stream else {}))
            return nested  # type: ignore[return-value]
        config = _config()
        request_attributes = chosen.request_attributes(request_kwargs) if request_kwargs else {}
        request_attributes.pop(sc.GEN_AI_REQUEST_MODEL, None)
        if not config.latest:
            for key in _LATEST_ONLY:
                request_attributes.pop(key, None)
        model = request_model
        if model is None and request_kwargs:
            raw_model = request_kwargs.get("model")
            model = raw_model if isinstance(raw_model, str) else None
        inv = _open_inference(provider, operation, model, request_attributes, chosen,
                              stream or bool(request_kwargs
                                             and request_kwargs.get("stream") is True),
                              server_address, server_port, config)
        if request_kwargs and config.capture is not ContentCapture.NO_CONTENT:
            inv._merge_content(chosen.request_content(request_kwargs))
        return inv
    except Exception as exc:
        errors.report("genai.start_inference", exc)
        return None


# --- the public decorators / context managers -----------------------------------------------------

# Call parameters of a decorated function that carry request data.
_REQUEST_PARAM_NAMES = frozenset({
    "model", "messages", "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens",
    "max_output_tokens", "frequency_penalty", "presence_penalty", "stop", "stop_sequences",
    "seed", "n", "stream", "system", "tools", "input", "instructions", "response_format",
    "reasoning_effort", "encoding_format", "dimensions",
})


class llm_call(Operation):
    """An LLM call: decorator (sync, async, generators) or ``with`` / ``async with``.

    As a decorator it reads the request model and parameters from the call's arguments when the
    function has parameters named like the SDKs' (``model``, ``messages``, ``temperature``, ...)
    and the response model, id, finish reasons and usage from the return value (OpenAI- and
    Anthropic-shaped objects or dicts). A decorated generator is timed to its last chunk.

    >>> import aiobs_otel as aiobs
    >>> @aiobs.llm_call(provider="openai", model="gpt-4o-mini")
    ... def ask(prompt: str) -> dict:
    ...     return {"model": "gpt-4o-mini", "choices": [{"finish_reason": "stop"}]}
    >>> with aiobs.llm_call(provider="acme", model="acme-1") as call:  # doctest: +SKIP
    ...     call.record_usage(input_tokens=812, output_tokens=64)
    """

    hook_name = "genai.llm_call"

    def __init__(self, provider: str, model: str | None = None, operation: str = "chat", *,
                 server_address: str | None = None, server_port: int | None = None,
                 adapter: str | None = None, **request_params: Any) -> None:
        if not isinstance(provider, str) or not provider:
            raise ValueError("llm_call(provider=...) must be a non-empty string")
        self.provider = provider
        self.model = model
        self.operation = operation
        self.server_address = server_address
        self.server_port = server_port
        self.adapter = (get_adapter(adapter) if adapter is not None
                        else adapter_for_provider(provider, operation))
        unknown = set(request_params) - set(_PARAM_ATTRIBUTES) - {"stream"}
        if unknown:
            raise TypeError(f"llm_call() got unknown request parameters: {sorted(unknown)}")
        self.request_params = request_params
        self.stream = request_params.get("stream") is True
        self._static_attrs = {k: v for k, v in _static_params(request_params).items()}
        self._positions: tuple[tuple[str, int], ...] = ()
        self._defaults: dict[str, Any] = {}
        self._var_keyword = False
        self._reads_call = False

    def __call__(self, fn: F) -> F:
        bound = copy.copy(self)
        bound.__dict__.pop("_scopes", None)
        bound._inspect(fn)
        return Operation.__call__(bound, fn)

    def _inspect(self, fn: Callable[..., Any]) -> None:
        """At decoration time: which call parameters carry request data, and where."""
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            return
        positions: list[tuple[str, int]] = []
        defaults: dict[str, Any] = {}
        for index, param in enumerate(signature.parameters.values()):
            if (param.name in _REQUEST_PARAM_NAMES and param.default is not param.empty
                    and param.default is not None):
                defaults[param.name] = param.default
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                self._var_keyword = True
            elif param.name in _REQUEST_PARAM_NAMES and param.kind in (
                    inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.POSITIONAL_ONLY):
                positions.append((param.name, index))
            elif param.name in _REQUEST_PARAM_NAMES and param.kind is \
                    inspect.Parameter.KEYWORD_ONLY:
                positions.append((param.name, -1))
        self._positions = tuple(positions)
        self._defaults = defaults
        self._reads_call = bool(positions) or self._var_keyword

    def _call_kwargs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, index in self._positions:
            if name in kwargs:
                found[name] = kwargs[name]
            elif 0 <= index < len(args):
                found[name] = args[index]
            elif name in self._defaults:
                found[name] = self._defaults[name]
        if self._var_keyword:
            for name in _REQUEST_PARAM_NAMES.intersection(kwargs):
                found[name] = kwargs[name]
        return found

    def open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> Scope:
        config = _config()
        adapter = self.adapter
        model = self.model
        call_kwargs: dict[str, Any] | None = None
        request_attributes = dict(self._static_attrs)
        stream = self.stream
        if self._reads_call and args is not None:
            call_kwargs = self._call_kwargs(args, kwargs or {})
            if call_kwargs:
                mapped = _request_adapter(adapter, call_kwargs).request_attributes(call_kwargs)
                call_model = mapped.pop(sc.GEN_AI_REQUEST_MODEL, None)
                if call_model is not None:
                    model = call_model
                if mapped.get(sc.GEN_AI_REQUEST_STREAM) is True:
                    stream = True
                if not config.latest:
                    for key in _LATEST_ONLY:
                        mapped.pop(key, None)
                request_attributes.update(mapped)
        if not config.latest:
            for key in _LATEST_ONLY:
                request_attributes.pop(key, None)
        inv = _open_inference(self.provider, self.operation, model, request_attributes, adapter,
                              stream, self.server_address, self.server_port, config)
        if call_kwargs and config.capture is not ContentCapture.NO_CONTENT:
            inv._merge_content(_request_adapter(adapter, call_kwargs).request_content(call_kwargs))
        return inv


def _request_adapter(adapter: Adapter, call_kwargs: Mapping[str, Any]) -> Adapter:
    """The adapter that maps a decorated call's arguments (duck-typed for generic providers)."""
    if adapter is not GENERIC:
        return adapter
    anthropic_like = "system" in call_kwargs or "top_k" in call_kwargs
    return get_adapter("anthropic" if anthropic_like else "openai")


def _static_params(params: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for name, value in params.items():
        if value is None or name == "stream":
            continue
        key = _PARAM_ATTRIBUTES[name]
        if name == "stop_sequences" and isinstance(value, str):
            value = [value]
        attrs[key] = list(value) if isinstance(value, tuple) else value
    if params.get("stream") is True:
        attrs[sc.GEN_AI_REQUEST_STREAM] = True
    return attrs


# --- agents, tools, workflows ---------------------------------------------------------------------


class InvocationScope(Scope):
    """An agent, workflow or tool run. ``set_attribute`` and, for tools, ``set_call_id`` /
    ``set_result``; the duration metric is recorded when it ends."""

    hook_name = "genai.invocation"

    def __init__(self, span: Span, kind: str, metric_attrs: dict[str, Any], config: _Config,
                 is_nested: bool) -> None:
        super().__init__(span)
        self.kind = kind
        self.metric_attrs = metric_attrs
        self.config = config
        self.is_nested = is_nested
        self._result: Any = None
        self._has_result = False

    def attach(self) -> object:
        ctx = trace.set_span_in_context(self.span)
        ctx = otel_context.set_value(_INFERENCE_KEY, None, ctx)  # an LLM call inside is new
        if self.kind != sc.GEN_AI_OP_EXECUTE_TOOL:
            ctx = otel_context.set_value(_INVOCATION_KEY, self, ctx)
        return otel_context.attach(ctx)

    def set_attribute(self, key: str, value: Any) -> None:
        if self.span.is_recording():
            self.span.set_attribute(key, value)

    def set_call_id(self, call_id: str) -> None:
        """The tool call id the model gave (``gen_ai.tool.call.id``)."""
        if isinstance(call_id, str) and call_id and self.span.is_recording():
            self.span.set_attribute(sc.GEN_AI_TOOL_CALL_ID, call_id)

    def set_arguments(self, arguments: Any) -> None:
        """Tool call arguments (recorded only when content capture is on for spans)."""
        if self.config.content_on_span and self.span.is_recording():
            self.span.set_attribute(sc.GEN_AI_TOOL_CALL_ARGUMENTS,
                                    _content_json(arguments, self.config)[0])

    def set_result(self, result: Any) -> None:
        """Tool call result (recorded only when content capture is on for spans)."""
        self._result = result
        self._has_result = True

    def on_result(self, result: Any) -> None:
        if self.kind == sc.GEN_AI_OP_EXECUTE_TOOL and not self._has_result:
            self.set_result(result)

    def on_end(self, error: BaseException | None) -> None:
        if self._has_result and self.config.content_on_span and self.span.is_recording():
            self.span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT,
                                    _content_json(_jsonable(self._result), self.config)[0])
        instruments = _genai_instruments.get()
        attrs = self.metric_attrs
        if error is not None:
            attrs = {**attrs, sc.ERROR_TYPE: error_type(error)}
        duration = self.elapsed_s()
        span = self.span  # exemplars point at this span
        if self.kind == sc.GEN_AI_OP_EXECUTE_TOOL:
            instruments.execute_tool_duration.record(duration, attrs, span=span)
        elif self.config.latest:
            instruments.invocation_duration.record(
                duration, {**attrs, sc.GEN_AI_INVOCATION_IS_NESTED: self.is_nested}, span=span)
        elif self.kind == sc.GEN_AI_OP_INVOKE_AGENT:
            instruments.invoke_agent_duration.record(duration, attrs, span=span)
        else:
            instruments.invoke_workflow_duration.record(duration, attrs, span=span)


def _jsonable(value: Any) -> Any:
    from ..instrumentation._adapters import to_plain

    return to_plain(value)


class _InvocationOperation(Operation):
    kind = ""
    hook_name = "genai.invocation"

    def __init__(self, name: str, span_attrs: dict[str, Any], metric_attrs: dict[str, Any]):
        if not isinstance(name, str) or not name:
            raise ValueError(f"{type(self).__name__}(name=...) must be a non-empty string")
        self.name = name
        self.span_name = f"{self.kind} {name}"
        self.span_attrs = {sc.GEN_AI_OPERATION_NAME: self.kind, **span_attrs}
        self.metric_attrs = {sc.GEN_AI_OPERATION_NAME: self.kind, **metric_attrs}
        self._signature: inspect.Signature | None = None

    def __call__(self, fn: F) -> F:
        bound = copy.copy(self)
        bound.__dict__.pop("_scopes", None)
        if self.kind == sc.GEN_AI_OP_EXECUTE_TOOL:
            try:
                bound._signature = inspect.signature(fn)
            except (TypeError, ValueError):
                bound._signature = None
        return Operation.__call__(bound, fn)

    def open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> Scope:
        config = _config()
        parent = otel_context.get_value(_INVOCATION_KEY)
        is_nested = isinstance(parent, InvocationScope) and not parent.ended
        span = start_span(self.span_name, SpanKind.INTERNAL, self.span_attrs)
        scope = InvocationScope(span, self.kind, self.metric_attrs, config, is_nested)
        if (args is not None and config.content_on_span and self._signature is not None
                and span.is_recording()):
            with errors.guard("genai.tool.arguments"):
                bound = self._signature.bind_partial(*args, **(kwargs or {}))
                scope.set_arguments({k: _jsonable(v) for k, v in bound.arguments.items()
                                     if k not in ("self", "cls")})
        return scope


class agent(_InvocationOperation):
    """An agent invocation (``invoke_agent {name}``, INTERNAL).

    >>> import aiobs_otel as aiobs
    >>> @aiobs.agent(name="planner")
    ... def plan(goal: str) -> str:
    ...     return "steps"
    """

    kind = sc.GEN_AI_OP_INVOKE_AGENT

    def __init__(self, name: str, *, description: str | None = None, id: str | None = None,
                 provider: str | None = None, model: str | None = None) -> None:
        span_attrs: dict[str, Any] = {sc.GEN_AI_AGENT_NAME: name}
        metric_attrs: dict[str, Any] = {sc.GEN_AI_AGENT_NAME: name}
        if description:
            span_attrs[sc.GEN_AI_AGENT_DESCRIPTION] = description
        if id:
            span_attrs[sc.GEN_AI_AGENT_ID] = id
        if provider:
            span_attrs[sc.GEN_AI_PROVIDER_NAME] = provider
            metric_attrs[sc.GEN_AI_PROVIDER_NAME] = provider
        if model:
            span_attrs[sc.GEN_AI_REQUEST_MODEL] = model
            metric_attrs[sc.GEN_AI_REQUEST_MODEL] = model
        super().__init__(name, span_attrs, metric_attrs)


class workflow(_InvocationOperation):
    """A workflow the application defines (``invoke_workflow {name}``, INTERNAL).

    >>> import aiobs_otel as aiobs
    >>> with aiobs.workflow(name="support"):
    ...     pass
    """

    kind = sc.GEN_AI_OP_INVOKE_WORKFLOW

    def __init__(self, name: str) -> None:
        super().__init__(name, {sc.GEN_AI_WORKFLOW_NAME: name}, {sc.GEN_AI_WORKFLOW_NAME: name})


class tool(_InvocationOperation):
    """A tool execution (``execute_tool {name}``, INTERNAL); arguments and result are recorded
    only when content capture is on for spans.

    >>> import aiobs_otel as aiobs
    >>> @aiobs.tool(name="search")
    ... def search(query: str) -> list[str]:
    ...     return []
    """

    kind = sc.GEN_AI_OP_EXECUTE_TOOL

    def __init__(self, name: str, *, description: str | None = None, type: str = "function",
                 call_id: str | None = None) -> None:
        span_attrs: dict[str, Any] = {sc.GEN_AI_TOOL_NAME: name, sc.GEN_AI_TOOL_TYPE: type}
        if description:
            span_attrs[sc.GEN_AI_TOOL_DESCRIPTION] = description
        if call_id:
            span_attrs[sc.GEN_AI_TOOL_CALL_ID] = call_id
        super().__init__(name, span_attrs, {sc.GEN_AI_TOOL_NAME: name, sc.GEN_AI_TOOL_TYPE: type})
