"""OpenAI adapters: chat completions (and legacy completions), embeddings, and the Responses API.

Pure: works on ``openai`` typed objects and on plain dicts of the same shape, without importing
``openai``. Usage mapping: ``prompt_tokens``/``input_tokens`` already include cached tokens
(``*_details.cached_tokens`` → cache read, ``cache_write_tokens`` → cache write);
``completion_tokens``/``output_tokens`` include ``reasoning_tokens``.
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
    parse_json_arguments,
    reader,
    text,
    to_plain,
)

__all__ = ["CHAT", "EMBEDDINGS", "RESPONSES", "usage_from"]

# finish_reason (provider value) → the conventions' FinishReason for output messages
_FINISH_MAP = {"stop": "stop", "length": "length", "content_filter": "content_filter",
               "tool_calls": "tool_call", "function_call": "tool_call"}

_OUTPUT_TYPES = {"text": "text", "json_object": "json", "json_schema": "json"}


def usage_from(usage: Any) -> Usage | None:
    """Chat-completions, embeddings or Responses usage → :class:`Usage` (None when absent)."""
    if usage is None:
        return None
    get = reader(usage)
    input_tokens = non_negative_int(get(usage, "prompt_tokens", None))
    output_tokens = non_negative_int(get(usage, "completion_tokens", None))
    if input_tokens is not None or output_tokens is not None:  # chat / completions / embeddings
        in_details = get(usage, "prompt_tokens_details", None)
        out_details = get(usage, "completion_tokens_details", None)
    else:  # the Responses API
        input_tokens = non_negative_int(get(usage, "input_tokens", None))
        output_tokens = non_negative_int(get(usage, "output_tokens", None))
        in_details = get(usage, "input_tokens_details", None)
        out_details = get(usage, "output_tokens_details", None)
    result = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_input_tokens=(non_negative_int(field(in_details, "cached_tokens"))
                                 if in_details is not None else None),
        cache_creation_input_tokens=(non_negative_int(field(in_details, "cache_write_tokens"))
                                     if in_details is not None else None),
        reasoning_tokens=(non_negative_int(field(out_details, "reasoning_tokens"))
                          if out_details is not None else None),
    )
    return None if result.is_empty() else result


def _common_request(kwargs: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    common_request(kwargs, attrs)
    tier = text(kwargs.get("service_tier"))
    if tier is not None and tier != "auto":
        attrs[semconv.OPENAI_REQUEST_SERVICE_TIER] = tier


def _reasoning_level(kwargs: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    effort = text(kwargs.get("reasoning_effort")) or text(field(kwargs.get("reasoning"), "effort"))
    if effort is not None:
        attrs[semconv.GEN_AI_REQUEST_REASONING_LEVEL] = effort


# --- content mapping (conventions' JSON shape) ---------------------------------------------------


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """OpenAI message content (a string or a list of content parts) → conventions' parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for part in as_list(content):
        if isinstance(part, str):
            parts.append({"type": "text", "content": part})
            continue
        kind = field(part, "type")
        if kind in ("text", "input_text", "output_text"):
            parts.append({"type": "text", "content": field(part, "text") or ""})
        elif kind == "refusal":
            parts.append({"type": "text", "content": field(part, "refusal") or ""})
        elif kind in ("image_url", "input_image"):
            url = field(part, "image_url")
            url = field(url, "url") if not isinstance(url, str) else url
            parts.append(_uri_or_blob(url, "image"))
        elif kind == "input_audio":
            audio = field(part, "input_audio")
            fmt = field(audio, "format")
            parts.append({"type": "blob", "modality": "audio",
                          "mime_type": f"audio/{fmt}" if isinstance(fmt, str) else None,
                          "content": field(audio, "data")})
        elif kind in ("file", "input_file"):
            file_obj = field(part, "file") or part
            file_id = field(file_obj, "file_id")
            if file_id is not None:
                parts.append({"type": "file", "modality": "document", "file_id": file_id})
            else:
                parts.append({"type": "blob", "modality": "document",
                              "content": field(file_obj, "file_data")})
        else:
            parts.append({"type": "generic", "generic_type": str(kind), **_plain_dict(part)})
    return [{k: v for k, v in p.items() if v is not None} for p in parts]


def _plain_dict(value: Any) -> dict[str, Any]:
    plain = to_plain(value)
    if isinstance(plain, dict):
        plain.pop("type", None)
        return plain
    return {}


def _uri_or_blob(url: Any, modality: str) -> dict[str, Any]:
    if isinstance(url, str) and url.startswith("data:") and "," in url:
        header, _, data = url.partition(",")
        mime = header[5:].split(";")[0] or None
        return {"type": "blob", "modality": modality, "mime_type": mime, "content": data}
    return {"type": "uri", "modality": modality, "uri": url}


def _tool_call_parts(tool_calls: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for call in as_list(tool_calls):
        function = field(call, "function") or field(call, "custom")
        part: dict[str, Any] = {"type": "tool_call", "id": field(call, "id"),
                                "name": field(function, "name")}
        arguments = field(function, "arguments")
        if arguments is None:
            arguments = field(function, "input")
        if arguments is not None:
            part["arguments"] = parse_json_arguments(arguments)
        parts.append({k: v for k, v in part.items() if v is not None})
    return parts


def chat_input_messages(messages: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for message in as_list(messages):
        role = field(message, "role")
        role = role if isinstance(role, str) else "user"
        if role == "tool":
            parts: list[dict[str, Any]] = [{
                "type": "tool_call_response", "id": field(message, "tool_call_id"),
                "response": _tool_response(field(message, "content")),
            }]
        else:
            parts = _content_parts(field(message, "content"))
            parts.extend(_tool_call_parts(field(message, "tool_calls")))
        entry: dict[str, Any] = {"role": role,
                                 "parts": [{k: v for k, v in p.items() if v is not None}
                                           for p in parts]}
        name = text(field(message, "name"))
        if name is not None:
            entry["name"] = name
        result.append(entry)
    return result


def _tool_response(content: Any) -> Any:
    if isinstance(content, str):
        return content
    pieces = [field(p, "text") for p in as_list(content)]
    if pieces and all(isinstance(p, str) for p in pieces):
        return "".join(pieces)  # type: ignore[arg-type]
    return to_plain(content)


def tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    result: list[dict[str, Any]] = []
    for tool in as_list(tools):
        kind = field(tool, "type") or "function"
        function = field(tool, "function")
        source = function if function is not None else tool
        entry: dict[str, Any] = {"type": kind, "name": field(source, "name")}
        description = field(source, "description")
        if description is not None:
            entry["description"] = description
        parameters = field(source, "parameters")
        if parameters is not None:
            entry["parameters"] = to_plain(parameters)
        result.append({k: v for k, v in entry.items() if v is not None})
    return result or None


def _message_output(message: Any, finish_reason: Any) -> dict[str, Any]:
    parts = _content_parts(field(message, "content"))
    refusal = text(field(message, "refusal"))
    if refusal is not None:
        parts.append({"type": "text", "content": refusal})
    parts.extend(_tool_call_parts(field(message, "tool_calls")))
    entry: dict[str, Any] = {"role": field(message, "role") or "assistant", "parts": parts}
    mapped = _FINISH_MAP.get(finish_reason) if isinstance(finish_reason, str) else None
    if mapped is not None:
        entry["finish_reason"] = mapped
    return entry


# --- chat completions -----------------------------------------------------------------------------


class ChatCompletionsAdapter:
    """``client.chat.completions.create`` (and legacy ``client.completions.create``)."""

    name = "openai"

    def request_attributes(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        _common_request(kwargs, attrs)
        max_tokens = non_negative_int(kwargs.get("max_completion_tokens"))
        if max_tokens is None:
            max_tokens = non_negative_int(kwargs.get("max_tokens"))
        if max_tokens is not None:
            attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
        stop = kwargs.get("stop")
        if isinstance(stop, str):
            attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
        elif isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop) and stop:
            attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
        seed = kwargs.get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool):
            attrs[semconv.GEN_AI_REQUEST_SEED] = seed
        n = non_negative_int(kwargs.get("n"))
        if n is not None and n != 1:
            attrs[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
        fmt = field(kwargs.get("response_format"), "type")
        output_type = _OUTPUT_TYPES.get(fmt) if isinstance(fmt, str) else None
        if output_type is not None:
            attrs[semconv.GEN_AI_OUTPUT_TYPE] = output_type
        _reasoning_level(kwargs, attrs)
        return attrs

    def request_content(self, kwargs: Mapping[str, Any]) -> Content:
        messages = kwargs.get("messages")
        if messages is None and kwargs.get("prompt") is not None:  # legacy completions
            prompt = kwargs.get("prompt")
            prompts = prompt if isinstance(prompt, list) else [prompt]
            messages = [{"role": "user", "content": p} for p in prompts if isinstance(p, str)]
        return Content(
            input_messages=chat_input_messages(messages) if messages is not None else None,
            tool_definitions=tool_definitions(kwargs.get("tools")),
        )

    def parse_response(self, response: Any) -> ResponseInfo:
        get = reader(response)
        raw_choices = get(response, "choices", None)
        if raw_choices is None:
            other = _other_shape(response, self)
            if other is not None:
                return other.parse_response(response)  # type: ignore[no-any-return]
        choices = as_list(raw_choices)
        info = ResponseInfo(model=text(get(response, "model", None)),
                            id=text(get(response, "id", None)),
                            usage=usage_from(get(response, "usage", None)),
                            choice_count=len(choices))
        reasons = [reader(c)(c, "finish_reason", None) for c in choices]
        if reasons:
            info.finish_reasons = [r if isinstance(r, str) else "error" for r in reasons]
        _response_extras(response, info.attributes)
        return info

    def output_messages(self, response: Any) -> list[dict[str, Any]] | None:
        choices = as_list(field(response, "choices"))
        if not choices:
            other = _other_shape(response, self)
            return other.output_messages(response) if other is not None else None
        messages = []
        for choice in choices:
            message = field(choice, "message")
            if message is None and field(choice, "text") is not None:  # legacy completions
                message = {"role": "assistant", "content": field(choice, "text")}
            messages.append(_message_output(message, field(choice, "finish_reason")))
        return messages

    def new_accumulator(self) -> ChatStreamAccumulator:
        return ChatStreamAccumulator()


def _other_shape(response: Any, adapter: Any) -> Any:
    from . import detect_adapter

    other = detect_adapter(response)
    return other if other is not None and other is not adapter else None


def _response_extras(response: Any, attrs: dict[str, Any]) -> None:
    get = reader(response)
    tier = text(get(response, "service_tier", None))
    if tier is not None:
        attrs[semconv.OPENAI_RESPONSE_SERVICE_TIER] = tier
    fingerprint = text(get(response, "system_fingerprint", None))
    if fingerprint is not None:
        attrs[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint


class _ChoiceState:
    __slots__ = ("finish_reason", "role", "text", "tool_calls")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.role: str | None = None
        self.finish_reason: str | None = None
        self.tool_calls: dict[int, dict[str, Any]] = {}


class ChatStreamAccumulator:
    """Merges ``ChatCompletionChunk`` deltas by choice index; usage from the final chunk."""

    def __init__(self) -> None:
        self.chunks = 0
        self._model: str | None = None
        self._id: str | None = None
        self._usage: Usage | None = None
        self._choices: dict[int, _ChoiceState] = {}
        self._extras: dict[str, Any] = {}

    def add(self, chunk: Any) -> None:
        # the per-chunk path: SDK models are read with the builtin getattr (see reader())
        get = reader(chunk)
        self.chunks += 1
        if self.chunks == 1 or self._id is None:  # the first chunk carries id, model, extras
            self._id = text(get(chunk, "id", None))
            self._model = text(get(chunk, "model", None))
            _response_extras(chunk, self._extras)
        elif self._model is None:
            self._model = text(get(chunk, "model", None))
        usage = get(chunk, "usage", None)
        if usage is not None:
            parsed = usage_from(usage)
            if parsed is not None:
                self._usage = parsed
        choices = get(chunk, "choices", None)
        if not choices:
            return
        for choice in choices if isinstance(choices, (list, tuple)) else ():
            get = reader(choice)
            index = get(choice, "index", None)
            if index.__class__ is not int or index < 0:
                index = non_negative_int(index) or 0
            state = self._choices.get(index)
            if state is None:
                state = self._choices[index] = _ChoiceState()
            delta = get(choice, "delta", None)
            if delta is not None:
                get_delta = reader(delta)
                piece = get_delta(delta, "content", None)
                if piece.__class__ is str:
                    state.text.append(piece)
                if state.role is None:
                    role = get_delta(delta, "role", None)
                    if isinstance(role, str):
                        state.role = role
                tool_calls = get_delta(delta, "tool_calls", None)
                if tool_calls:
                    self._add_tool_calls(state, tool_calls)
            elif get(choice, "text", None) is not None:  # legacy completions stream
                piece = get(choice, "text", None)
                if isinstance(piece, str):
                    state.text.append(piece)
            reason = get(choice, "finish_reason", None)
            if isinstance(reason, str):
                state.finish_reason = reason

    @staticmethod
    def _add_tool_calls(state: _ChoiceState, tool_calls: Any) -> None:
        for call in as_list(tool_calls):
            index = non_negative_int(field(call, "index")) or 0
            entry = state.tool_calls.setdefault(index, {"id": None, "name": None, "args": []})
            call_id = field(call, "id")
            if isinstance(call_id, str):
                entry["id"] = call_id
            function = field(call, "function")
            name = field(function, "name")
            if isinstance(name, str):
                entry["name"] = name
            arguments = field(function, "arguments")
            if isinstance(arguments, str):
                entry["args"].append(arguments)

    def result(self) -> ResponseInfo:
        info = ResponseInfo(model=self._model, id=self._id, usage=self._usage,
                            attributes=dict(self._extras))
        if self._choices:
            indexes = sorted(self._choices)
            info.choice_count = len(indexes)
            info.finish_reasons = [self._choices[i].finish_reason or "error" for i in indexes]
            info.output_messages = []
            for i in indexes:
                state = self._choices[i]
                parts: list[dict[str, Any]] = []
                if state.text:
                    parts.append({"type": "text", "content": "".join(state.text)})
                for _, call in sorted(state.tool_calls.items()):
                    part: dict[str, Any] = {"type": "tool_call", "id": call["id"],
                                            "name": call["name"]}
                    if call["args"]:
                        part["arguments"] = parse_json_arguments("".join(call["args"]))
                    parts.append({k: v for k, v in part.items() if v is not None})
                message: dict[str, Any] = {"role": state.role or "assistant", "parts": parts}
                mapped = _FINISH_MAP.get(state.finish_reason or "")
                if mapped is not None:
                    message["finish_reason"] = mapped
                info.output_messages.append(message)
        return info


# --- embeddings -----------------------------------------------------------------------------------


class EmbeddingsAdapter:
    """``client.embeddings.create``: input tokens only, dimension count, encoding formats."""

    name = "openai.embeddings"

    def request_attributes(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        model = text(kwargs.get("model"))
        if model is not None:
            attrs[semconv.GEN_AI_REQUEST_MODEL] = model
        fmt = text(kwargs.get("encoding_format"))
        if fmt is not None:
            attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [fmt]
        dimensions = non_negative_int(kwargs.get("dimensions"))
        if dimensions is not None:
            attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
        return attrs

    def request_content(self, kwargs: Mapping[str, Any]) -> Content:
        return Content()

    def parse_response(self, response: Any) -> ResponseInfo:
        info = ResponseInfo(model=text(field(response, "model")))
        usage = usage_from(field(response, "usage"))
        if usage is not None:
            usage.output_tokens = None
            info.usage = None if usage.is_empty() else usage
        data = as_list(field(response, "data"))
        if data:
            vector = field(data[0], "embedding")
            if isinstance(vector, (list, tuple)) and vector:
                info.attributes[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(vector)
        return info

    def output_messages(self, response: Any) -> list[dict[str, Any]] | None:
        return None

    def new_accumulator(self) -> ChatStreamAccumulator:
        return ChatStreamAccumulator()


# --- Responses API --------------------------------------------------------------------------------

_RESPONSES_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


class ResponsesAdapter:
    """``client.responses.create`` / ``.stream``: one output, status → finish reason."""

    name = "openai.responses"

    def request_attributes(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        _common_request(kwargs, attrs)
        max_tokens = non_negative_int(kwargs.get("max_output_tokens"))
        if max_tokens is not None:
            attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
        fmt = field(field(kwargs.get("text"), "format"), "type")
        output_type = _OUTPUT_TYPES.get(fmt) if isinstance(fmt, str) else None
        if output_type is not None:
            attrs[semconv.GEN_AI_OUTPUT_TYPE] = output_type
        previous = text(kwargs.get("previous_response_id"))
        if previous is not None:
            attrs[semconv.GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID] = previous
        _reasoning_level(kwargs, attrs)
        return attrs

    def request_content(self, kwargs: Mapping[str, Any]) -> Content:
        content = Content(tool_definitions=tool_definitions(kwargs.get("tools")))
        instructions = kwargs.get("instructions")
        if isinstance(instructions, str):
            content.system_instructions = [{"type": "text", "content": instructions}]
        items = kwargs.get("input")
        if isinstance(items, str):
            content.input_messages = [{"role": "user",
                                       "parts": [{"type": "text", "content": items}]}]
        elif items is not None:
            content.input_messages = self._input_items(items)
        return content

    @staticmethod
    def _input_items(items: Any) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for item in as_list(items):
            kind = field(item, "type")
            if kind == "function_call":
                messages.append({"role": "assistant", "parts": [_function_call_part(item)]})
            elif kind == "function_call_output":
                messages.append({"role": "tool", "parts": [{
                    "type": "tool_call_response", "id": field(item, "call_id"),
                    "response": _tool_response(field(item, "output"))}]})
            else:
                role = field(item, "role")
                messages.append({"role": role if isinstance(role, str) else "user",
                                 "parts": _content_parts(field(item, "content"))})
        return messages

    def parse_response(self, response: Any) -> ResponseInfo:
        info = ResponseInfo(model=text(field(response, "model")), id=text(field(response, "id")),
                            usage=usage_from(field(response, "usage")), choice_count=1)
        status = field(response, "status")
        if status == "completed":
            info.finish_reasons = ["stop"]
        elif status == "incomplete":
            reason = field(field(response, "incomplete_details"), "reason")
            info.finish_reasons = [_RESPONSES_INCOMPLETE.get(reason, str(reason or "length"))]
        elif status in ("failed", "cancelled"):
            info.finish_reasons = ["error"]
        if any(field(item, "type") == "function_call" for item in
               as_list(field(response, "output"))) and info.finish_reasons == ["stop"]:
            info.finish_reasons = ["tool_call"]
        tier = text(field(response, "service_tier"))
        if tier is not None:
            info.attributes[semconv.OPENAI_RESPONSE_SERVICE_TIER] = tier
        return info

    def output_messages(self, response: Any) -> list[dict[str, Any]] | None:
        output = as_list(field(response, "output"))
        if not output:
            return None
        parts: list[dict[str, Any]] = []
        for item in output:
            kind = field(item, "type")
            if kind == "message":
                parts.extend(_content_parts(field(item, "content")))
            elif kind == "function_call":
                parts.append(_function_call_part(item))
            elif kind == "reasoning":
                summary = [field(s, "text") for s in as_list(field(item, "summary"))]
                joined = "".join(s for s in summary if isinstance(s, str))
                if joined:
                    parts.append({"type": "reasoning", "content": joined})
        info = self.parse_response(response)
        message: dict[str, Any] = {"role": "assistant", "parts": parts}
        if info.finish_reasons:
            message["finish_reason"] = info.finish_reasons[0]
        return [message]

    def new_accumulator(self) -> ResponsesStreamAccumulator:
        return ResponsesStreamAccumulator(self)


def _function_call_part(item: Any) -> dict[str, Any]:
    part = {"type": "tool_call", "id": field(item, "call_id"), "name": field(item, "name"),
            "arguments": parse_json_arguments(field(item, "arguments"))}
    return {k: v for k, v in part.items() if v is not None}


class ResponsesStreamAccumulator:
    """Responses streaming events: the final ``response.completed`` (or ``.incomplete`` /
    ``.failed``) carries the whole response; text deltas are kept for partial output."""

    _FINAL = ("response.completed", "response.incomplete", "response.failed")

    def __init__(self, adapter: ResponsesAdapter) -> None:
        self.chunks = 0
        self._adapter = adapter
        self._response: Any = None
        self._final: Any = None
        self._texts: list[str] = []

    def add(self, chunk: Any) -> None:
        self.chunks += 1
        kind = field(chunk, "type")
        if kind == "response.output_text.delta":
            delta = field(chunk, "delta")
            if isinstance(delta, str):
                self._texts.append(delta)
        elif kind in self._FINAL:
            self._final = field(chunk, "response")
        elif kind in ("response.created", "response.in_progress"):
            self._response = field(chunk, "response")

    def result(self) -> ResponseInfo:
        source = self._final if self._final is not None else self._response
        info = self._adapter.parse_response(source) if source is not None else ResponseInfo()
        if self._final is not None:
            info.output_messages = self._adapter.output_messages(self._final)
        else:
            info.finish_reasons = None  # not finished: the invocation fills in "error"
            if self._texts:
                info.output_messages = [{"role": "assistant", "parts": [
                    {"type": "text", "content": "".join(self._texts)}]}]
        info.choice_count = 1
        return info


CHAT = ChatCompletionsAdapter()
EMBEDDINGS = EmbeddingsAdapter()
RESPONSES = ResponsesAdapter()
