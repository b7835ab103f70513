"""Pure provider adapters: SDK request kwargs, responses and stream chunks → normalized data.

No OpenTelemetry imports here and no provider SDK imports either: adapters read typed SDK
objects (pydantic models) and plain dicts alike through :func:`field`, and never raise on
missing, ``None`` or garbage fields. Token counts are non-negative ints or ``None`` (absent),
never invented zeros.

>>> from aiobs_otel.instrumentation._adapters import get_adapter
>>> info = get_adapter("openai").parse_response(
...     {"model": "gpt-4o-mini", "choices": [{"finish_reason": "stop"}],
...      "usage": {"prompt_tokens": 12, "completion_tokens": 3}})
>>> (info.model, info.finish_reasons, info.usage.input_tokens if info.usage else None)
('gpt-4o-mini', ['stop'], 12)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Protocol

from ... import semconv

__all__ = [
    "Accumulator",
    "Adapter",
    "Content",
    "ResponseInfo",
    "Usage",
    "adapter_for_provider",
    "common_request",
    "detect_adapter",
    "field",
    "get_adapter",
    "non_negative_int",
    "reader",
]

_MISSING = object()


_IS_MAPPING: dict[type, bool] = {dict: True}


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` otherwise; ``None`` when absent."""
    if obj is None:
        return None
    cls = type(obj)
    is_mapping = _IS_MAPPING.get(cls)
    if is_mapping is None:  # one ABC check per type, not per access
        is_mapping = _IS_MAPPING[cls] = isinstance(obj, Mapping)
    if is_mapping:
        try:
            return obj.get(name)
        except Exception:
            return None
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


Reader = Callable[[Any, str, Any], Any]
_SDK_MODEL: dict[type, bool] = {}
_SDK_PACKAGES = ("openai.", "anthropic.")


def _field_or_none(obj: Any, name: str, _default: Any = None) -> Any:
    return field(obj, name)


def reader(obj: Any) -> Reader:
    """How to read fields of ``obj`` on a hot path: the builtin ``getattr`` for the SDKs' own
    pydantic models (declared fields are plain attributes: reading cannot raise), else
    :func:`field` (mappings, arbitrary objects whose properties might). Call as
    ``get(obj, name, None)``."""
    cls = type(obj)
    safe = _SDK_MODEL.get(cls)
    if safe is None:
        try:
            module = cls.__module__
            safe = (isinstance(module, str) and module.startswith(_SDK_PACKAGES)
                    and hasattr(cls, "model_fields") and not isinstance(obj, Mapping))
        except Exception:
            safe = False
        if len(_SDK_MODEL) < 4096:
            _SDK_MODEL[cls] = safe
    return getattr if safe else _field_or_none


def non_negative_int(value: Any) -> int | None:
    """``value`` if it is a non-negative int (not a bool), integral floats included; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def text(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    return None


_SAMPLING_PARAMS = (("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
                    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
                    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
                    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY))


def common_request(kwargs: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    """Request attributes every provider SDK names alike: model, sampling numbers, stream."""
    model = text(kwargs.get("model"))
    if model is not None:
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    for key, attr in _SAMPLING_PARAMS:
        value = number(kwargs.get(key))
        if value is not None:
            attrs[attr] = float(value)
    if kwargs.get("stream") is True:
        attrs[semconv.GEN_AI_REQUEST_STREAM] = True


def as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return []


def parse_json_arguments(raw: Any) -> Any:
    """Tool-call arguments: JSON text parsed into an object when it parses, else kept as is."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def to_plain(value: Any, depth: int = 0) -> Any:
    """A JSON-friendly copy of ``value`` (pydantic models via ``model_dump``)."""
    if depth > 20:
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return to_plain(dump(exclude_none=True), depth + 1)
        except Exception:
            return str(value)
    return str(value)


@dataclass
class Usage:
    """Token counts in the conventions' meaning: ``input_tokens`` includes cached input tokens,
    ``output_tokens`` includes reasoning tokens. ``None`` means "not reported"."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    reasoning_tokens: int | None = None

    def is_empty(self) -> bool:
        return (self.input_tokens is None and self.output_tokens is None
                and self.cache_read_input_tokens is None
                and self.cache_creation_input_tokens is None and self.reasoning_tokens is None)

    def merge(self, other: Usage) -> None:
        """Take every count ``other`` reports (later reports win)."""
        if other.input_tokens is not None:
            self.input_tokens = other.input_tokens
        if other.output_tokens is not None:
            self.output_tokens = other.output_tokens
        if other.cache_read_input_tokens is not None:
            self.cache_read_input_tokens = other.cache_read_input_tokens
        if other.cache_creation_input_tokens is not None:
            self.cache_creation_input_tokens = other.cache_creation_input_tokens
        if other.reasoning_tokens is not None:
            self.reasoning_tokens = other.reasoning_tokens


@dataclass
class Content:
    """Request content in the conventions' JSON shape (lists of plain dicts)."""

    input_messages: list[dict[str, Any]] | None = None
    system_instructions: list[dict[str, Any]] | None = None
    tool_definitions: list[dict[str, Any]] | None = None


@dataclass
class ResponseInfo:
    """What a response (or an accumulated stream) tells us."""

    model: str | None = None
    id: str | None = None
    finish_reasons: list[str] | None = None
    usage: Usage | None = None
    output_messages: list[dict[str, Any]] | None = None
    attributes: dict[str, Any] = dc_field(default_factory=dict)  # provider extras (semconv keys)
    choice_count: int = 0  # choices seen (streams: by index), for "error" finish-reason filling


class Accumulator(Protocol):
    """Folds stream chunks into one :class:`ResponseInfo`."""

    chunks: int

    def add(self, chunk: Any) -> None: ...

    def result(self) -> ResponseInfo: ...


class Adapter(Protocol):
    """Maps one provider API's requests, responses and chunks."""

    name: str

    def request_attributes(self, kwargs: Mapping[str, Any]) -> dict[str, Any]: ...

    def request_content(self, kwargs: Mapping[str, Any]) -> Content: ...

    def parse_response(self, response: Any) -> ResponseInfo: ...

    def new_accumulator(self) -> Accumulator: ...

    def output_messages(self, response: Any) -> list[dict[str, Any]] | None: ...


class GenericAccumulator:
    """Accumulates any chunk: text pieces (``str``), or provider-shaped chunks duck-typed."""

    def __init__(self) -> None:
        self.chunks = 0
        self._texts: list[str] = []
        self._delegate: Accumulator | None = None

    def add(self, chunk: Any) -> None:
        self.chunks += 1
        if isinstance(chunk, str):
            self._texts.append(chunk)
            return
        if self._delegate is None:
            adapter = detect_adapter(chunk)
            if adapter is None:
                return
            self._delegate = adapter.new_accumulator()
        self._delegate.add(chunk)

    def result(self) -> ResponseInfo:
        if self._delegate is not None:
            return self._delegate.result()
        info = ResponseInfo()
        if self._texts:
            info.output_messages = [
                {"role": "assistant", "parts": [{"type": "text", "content": "".join(self._texts)}]}
            ]
            info.choice_count = 1
        return info


class GenericAdapter:
    """For ``llm_call(provider="anything")``: recognises OpenAI- and Anthropic-shaped data."""

    name = "generic"

    def request_attributes(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        adapter = _detect_request(kwargs)
        return adapter.request_attributes(kwargs) if adapter is not None else {}

    def request_content(self, kwargs: Mapping[str, Any]) -> Content:
        adapter = _detect_request(kwargs)
        return adapter.request_content(kwargs) if adapter is not None else Content()

    def parse_response(self, response: Any) -> ResponseInfo:
        adapter = detect_adapter(response)
        return adapter.parse_response(response) if adapter is not None else ResponseInfo()

    def output_messages(self, response: Any) -> list[dict[str, Any]] | None:
        adapter = detect_adapter(response)
        return adapter.output_messages(response) if adapter is not None else None

    def new_accumulator(self) -> Accumulator:
        return GenericAccumulator()


def _detect_request(kwargs: Mapping[str, Any]) -> Adapter | None:
    if not kwargs:
        return None
    from . import anthropic, openai

    if "system" in kwargs or "top_k" in kwargs or "thinking" in kwargs:
        return anthropic.MESSAGES
    if "input" in kwargs and "messages" not in kwargs:
        if "instructions" in kwargs or "max_output_tokens" in kwargs or "reasoning" in kwargs:
            return openai.RESPONSES
        return openai.EMBEDDINGS if "model" in kwargs and "tools" not in kwargs else None
    return openai.CHAT


def detect_adapter(obj: Any) -> Adapter | None:
    """The adapter whose API produced ``obj`` (a response or a stream chunk), by its shape."""
    from . import anthropic, openai

    obj_type = field(obj, "type")
    object_kind = field(obj, "object")
    if isinstance(object_kind, str):
        if object_kind.startswith("chat.completion"):
            return openai.CHAT
        if object_kind == "list" and field(obj, "data") is not None:
            return openai.EMBEDDINGS
        if object_kind == "response":
            return openai.RESPONSES
        if object_kind == "text_completion":
            return openai.CHAT
    if isinstance(obj_type, str):
        if obj_type == "message" or obj_type.startswith(("message_", "content_block_")):
            return anthropic.MESSAGES
        if obj_type.startswith("response."):
            return openai.RESPONSES
    if field(obj, "choices") is not None:
        return openai.CHAT
    if field(obj, "stop_reason") is not None or (
        field(obj, "content") is not None and field(obj, "role") == "assistant"
    ):
        return anthropic.MESSAGES
    if field(obj, "output") is not None and field(obj, "usage") is not None:
        return openai.RESPONSES
    return None


def get_adapter(name: str) -> Adapter:
    """``"openai"`` (chat completions and legacy completions), ``"openai.embeddings"``,
    ``"openai.responses"``, ``"anthropic"``, or ``"generic"`` (duck-typed)."""
    from . import anthropic, openai

    adapters: dict[str, Adapter] = {
        "openai": openai.CHAT,
        "openai.chat": openai.CHAT,
        "openai.embeddings": openai.EMBEDDINGS,
        "openai.responses": openai.RESPONSES,
        "anthropic": anthropic.MESSAGES,
        "anthropic.messages": anthropic.MESSAGES,
        "generic": GENERIC,
    }
    return adapters.get(name, GENERIC)


def adapter_for_provider(provider: str, operation: str) -> Adapter:
    """The best adapter for a provider name and operation (generic when unknown)."""
    if operation == "embeddings" and provider.startswith(("openai", "azure")):
        return get_adapter("openai.embeddings")
    if provider == "anthropic" or provider.startswith("anthropic"):
        return get_adapter("anthropic")
    if provider == "openai" or provider.startswith("azure.ai.openai"):
        return get_adapter("openai")  # hands other response shapes to the matching adapter
    return GENERIC


GENERIC = GenericAdapter()
