"""Anthropic adapter: ``client.messages.create`` / ``.stream``, typed objects or dicts.

Anthropic reports cached input separately from ``input_tokens``; the conventions' input count
includes them, so ``input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens``
(each part only when reported). ``output_tokens_details.thinking_tokens`` → reasoning tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import semconv
from . import (
    Content,
    ResponseInfo,
    Usage,
    as_list,
    common_request,
    field,
    non_negative_int,
    text,
    to_plain,
)

__all__ = ["MESSAGES", "usage_from"]

_FINISH_MAP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
               "tool_use": "tool_call", "refusal": "content_filter",
               "model_context_window_exceeded": "length", "pause_turn": "stop"}


def usage_from(usage: Any) -> Usage | None:
    """Anthropic usage → :class:`Usage`, cached parts added into the input total."""
    if usage is None:
        return None
    uncached = non_negative_int(field(usage, "input_tokens"))
    cache_read = non_negative_int(field(usage, "cache_read_input_tokens"))
    cache_write = non_negative_int(field(usage, "cache_creation_input_tokens"))
    total: int | None = None
    if uncached is not None:
        total = uncached + (cache_read or 0) + (cache_write or 0)
    result = Usage(
        input_tokens=total,
        output_tokens=non_negative_int(field(usage, "output_tokens")),
        cache_read_input_tokens=cache_read,
        cache_creation_input_tokens=cache_write,
        reasoning_tokens=non_negative_int(
            field(field(usage, "output_tokens_details"), "thinking_tokens")),
    )
    return None if result.is_empty() else result


def _block_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for block in as_list(content):
        kind = field(block, "type")
        if kind == "text":
            parts.append({"type": "text", "content": field(block, "text") or ""})
        elif kind in ("thinking", "redacted_thinking"):
            thought = field(block, "thinking")
            if isinstance(thought, str):
                parts.append({"type": "reasoning", "content": thought})
        elif kind == "tool_use":
            parts.append({"type": "tool_call", "id": field(block, "id"),
                          "name": field(block, "name"),
                          "arguments": to_plain(field(block, "input"))})
        elif kind == "server_tool_use":
            parts.append({"type": "server_tool_call", "id": field(block, "id"),
                          "name": field(block, "name"),
                          "server_tool_call": {"type": field(block, "name"),
                                               "input": to_plain(field(block, "input"))}})
        elif kind == "tool_result":
            parts.append({"type": "tool_call_response", "id": field(block, "tool_use_id"),
                          "response": _tool_result(field(block, "content"))})
        elif kind in ("image", "document"):
            source = field(block, "source")
            modality = "image" if kind == "image" else "document"
            source_type = field(source, "type")
            if source_type == "base64":
                parts.append({"type": "blob", "modality": modality,
                              "mime_type": field(source, "media_type"),
                              "content": field(source, "data")})
            elif source_type == "url":
                parts.append({"type": "uri", "modality": modality, "uri": field(source, "url")})
            elif source_type == "file":
                parts.append({"type": "file", "modality": modality,
                              "file_id": field(source, "file_id")})
            else:
                parts.append({"type": "generic", "generic_type": str(kind)})
        else:
            plain = to_plain(block)
            extra = plain if isinstance(plain, dict) else {}
            extra.pop("type", None)
            parts.append({"type": "generic", "generic_type": str(kind), **extra})
    return [{k: v for k, v in p.items() if v is not None} for p in parts]


def _tool_result(content: Any) -> Any:
    if isinstance(content, str):
        return content
    pieces = [field(p, "text") for p in as_list(content)]
    if pieces and all(isinstance(p, str) for p in pieces):
        return "".join(pieces)  # type: ignore[arg-type]
    return to_plain(content)


class MessagesAdapter:
    """The Messages API."""

    name = "anthropic"

    def request_attributes(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        common_request(kwargs, attrs)
        max_tokens = non_negative_int(kwargs.get("max_tokens"))
        if max_tokens is not None:
            attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
        top_k = non_negative_int(kwargs.get("top_k"))
        if top_k is not None:
            attrs[semconv.GEN_AI_REQUEST_TOP_K] = top_k
        stop = kwargs.get("stop_sequences")
        if isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
            attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
        thinking = kwargs.get("thinking")
        budget = non_negative_int(field(thinking, "budget_tokens"))
        if field(thinking, "type") == "enabled" and budget is not None:
            attrs[semconv.GEN_AI_REQUEST_REASONING_LEVEL] = str(budget)
        effort = text(field(kwargs.get("output_config"), "effort"))
        if effort is not None:
            attrs[semconv.GEN_AI_REQUEST_REASONING_LEVEL] = effort
        return attrs

    def request_content(self, kwargs: Mapping[str, Any]) -> Content:
        content = Content()
        messages = kwargs.get("messages")
        if messages is not None:
            result = []
            for message in as_list(messages):
                role = field(message, "role")
                parts = _block_parts(field(message, "content"))
                if role == "user" and parts and all(p["type"] == "tool_call_response"
                                                     for p in parts):
                    role = "tool"
                result.append({"role": role if isinstance(role, str) else "user",
                               "parts": parts})
            content.input_messages = result
        system = kwargs.get("system")
        if isinstance(system, str):
            content.system_instructions = [{"type": "text", "content": system}]
        elif isinstance(system, (list, tuple)):
            content.system_instructions = _block_parts(system)
        tools = []
        for tool in as_list(kwargs.get("tools")):
            entry: dict[str, Any] = {"type": "function" if field(tool, "input_schema") is not None
                                     else str(field(tool, "type") or "function"),
                                     "name": field(tool, "name")}
            if field(tool, "description") is not None:
                entry["description"] = field(tool, "description")
            if field(tool, "input_schema") is not None:
                entry["parameters"] = to_plain(field(tool, "input_schema"))
            tools.append({k: v for k, v in entry.items() if v is not None})
        content.tool_definitions = tools or None
        return content

    def parse_response(self, response: Any) -> ResponseInfo:
        reason = field(response, "stop_reason")
        info = ResponseInfo(model=text(field(response, "model")), id=text(field(response, "id")),
                            usage=usage_from(field(response, "usage")), choice_count=1)
        if isinstance(reason, str):
            info.finish_reasons = [reason]
        return info

    def output_messages(self, response: Any) -> list[dict[str, Any]] | None:
        content = field(response, "content")
        if content is None:
            return None
        message: dict[str, Any] = {"role": field(response, "role") or "assistant",
                                   "parts": _block_parts(content)}
        mapped = _FINISH_MAP.get(field(response, "stop_reason") or "")
        if mapped is not None:
            message["finish_reason"] = mapped
        return [message]

    def new_accumulator(self) -> MessagesStreamAccumulator:
        return MessagesStreamAccumulator()


class MessagesStreamAccumulator:
    """Raw stream events (``message_start`` … ``message_stop``) and the SDK's ``MessageStream``
    events (which add ``text``/``input_json`` conveniences, ignored here)."""

    def __init__(self) -> None:
        self.chunks = 0
        self._id: str | None = None
        self._model: str | None = None
        self._usage = Usage()
        self._uncached: int | None = None
        self._stop_reason: str | None = None
        self._blocks: dict[int, dict[str, Any]] = {}
        self._started = False

    def add(self, chunk: Any) -> None:
        self.chunks += 1
        kind = field(chunk, "type")
        if kind == "content_block_delta":
            self._delta(chunk)
        elif kind == "message_start":
            self._started = True
            message = field(chunk, "message")
            self._id = text(field(message, "id"))
            self._model = text(field(message, "model"))
            self._take_usage(field(message, "usage"))
        elif kind == "content_block_start":
            index = non_negative_int(field(chunk, "index")) or 0
            block = field(chunk, "content_block")
            self._blocks[index] = {"type": field(block, "type"), "text": [],
                                   "id": field(block, "id"), "name": field(block, "name"),
                                   "json": [], "input": field(block, "input")}
            initial = field(block, "text")
            if isinstance(initial, str) and initial:
                self._blocks[index]["text"].append(initial)
        elif kind == "message_delta":
            reason = field(field(chunk, "delta"), "stop_reason")
            if isinstance(reason, str):
                self._stop_reason = reason
            self._take_usage(field(chunk, "usage"))

    def _delta(self, chunk: Any) -> None:
        index = non_negative_int(field(chunk, "index")) or 0
        block = self._blocks.get(index)
        if block is None:
            block = self._blocks[index] = {"type": "text", "text": [], "id": None,
                                           "name": None, "json": [], "input": None}
        delta = field(chunk, "delta")
        kind = field(delta, "type")
        if kind == "text_delta":
            piece = field(delta, "text")
            if isinstance(piece, str):
                block["text"].append(piece)
        elif kind == "input_json_delta":
            piece = field(delta, "partial_json")
            if isinstance(piece, str):
                block["json"].append(piece)
        elif kind == "thinking_delta":
            piece = field(delta, "thinking")
            if isinstance(piece, str):
                block["text"].append(piece)

    def _take_usage(self, usage: Any) -> None:
        if usage is None:
            return
        uncached = non_negative_int(field(usage, "input_tokens"))
        if uncached is not None:
            self._uncached = uncached
        for name in ("cache_read_input_tokens", "cache_creation_input_tokens"):
            value = non_negative_int(field(usage, name))
            if value is not None:
                setattr(self._usage, name, value)
        output = non_negative_int(field(usage, "output_tokens"))  # cumulative in message_delta
        if output is not None:
            self._usage.output_tokens = output
        thinking = non_negative_int(field(field(usage, "output_tokens_details"), "thinking_tokens"))
        if thinking is not None:
            self._usage.reasoning_tokens = thinking

    def result(self) -> ResponseInfo:
        usage = Usage(**vars(self._usage))
        if self._uncached is not None:
            usage.input_tokens = (self._uncached + (usage.cache_read_input_tokens or 0)
                                  + (usage.cache_creation_input_tokens or 0))
        info = ResponseInfo(model=self._model, id=self._id,
                            usage=None if usage.is_empty() else usage)
        if self._started or self._blocks:
            info.choice_count = 1
            if self._stop_reason is not None:
                info.finish_reasons = [self._stop_reason]
            parts: list[dict[str, Any]] = []
            for _, block in sorted(self._blocks.items()):
                kind = block["type"]
                if kind == "tool_use":
                    from . import parse_json_arguments

                    raw = "".join(block["json"])
                    arguments = parse_json_arguments(raw) if raw else to_plain(block["input"])
                    part = {"type": "tool_call", "id": block["id"], "name": block["name"],
                            "arguments": arguments}
                    parts.append({k: v for k, v in part.items() if v is not None})
                elif kind == "thinking":
                    parts.append({"type": "reasoning", "content": "".join(block["text"])})
                elif block["text"]:
                    parts.append({"type": "text", "content": "".join(block["text"])})
            message: dict[str, Any] = {"role": "assistant", "parts": parts}
            mapped = _FINISH_MAP.get(self._stop_reason or "")
            if mapped is not None:
                message["finish_reason"] = mapped
            info.output_messages = [message]
        return info


MESSAGES = MessagesAdapter()
