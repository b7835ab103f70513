"""Fixtures for the auto-instrumentation tests: real SDK clients, only the network is fake.

``FakeLLM`` is an ``httpx2.MockTransport`` handler that answers with canned OpenAI- or
Anthropic-shaped bodies (JSON or server-sent events) queued by each test, and records every
request it got (so a test can count retries and check headers).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest

API_KEY = "sk-test-SECRET-a1b2c3d4e5f6g7h8i9j0"
ANTHROPIC_KEY = "sk-ant-api03-SECRET-zz9yy8xx7ww6vv5uu4"


# --- canned bodies ---------------------------------------------------------------------------


def chat_completion(
    content: str = "Hello!", *, model: str = "gpt-4o-mini-2024-07-18", n: int = 1,
    finish: str | list[str] = "stop", usage: dict[str, Any] | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    finishes = [finish] * n if isinstance(finish, str) else finish
    choices = []
    for i in range(n):
        message: dict[str, Any] = {"role": "assistant", "content": None if tool_calls else content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        choices.append({"index": i, "message": message, "finish_reason": finishes[i],
                        "logprobs": None})
    body: dict[str, Any] = {
        "id": "chatcmpl-123", "object": "chat.completion", "created": 1700000000,
        "model": model, "choices": choices, "system_fingerprint": "fp_1",
    }
    body["usage"] = usage if usage is not None else {
        "prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    return body


def chat_chunks(
    parts: tuple[str, ...] = ("Hel", "lo", "!"), *, model: str = "gpt-4o-mini-2024-07-18",
    usage: dict[str, Any] | None = None, n: int = 1,
) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = []
    for index in range(n):
        for i, text in enumerate(parts):
            delta: dict[str, Any] = {"content": text}
            if i == 0:
                delta["role"] = "assistant"
            last = i == len(parts) - 1
            chunks.append({
                "id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1700000000,
                "model": model,
                "choices": [{"index": index, "delta": delta,
                             "finish_reason": "stop" if last else None}],
            })
    if usage is not None:  # stream_options={"include_usage": True}: a final chunk, no choices
        chunks.append({"id": "chatcmpl-s1", "object": "chat.completion.chunk",
                       "created": 1700000000, "model": model, "choices": [], "usage": usage})
    return chunks


def sse(events: list[Any], *, done: bool = True, named: bool = False) -> bytes:
    out = []
    for event in events:
        if named:
            out.append(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n")
        else:
            out.append(f"data: {json.dumps(event)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def embedding(n: int = 1, dims: int = 4) -> dict[str, Any]:
    return {
        "object": "list", "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": i, "embedding": [0.1] * dims} for i in range(n)],
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }


def anthropic_message(
    text: str = "Hi there", *, usage: dict[str, Any] | None = None,
    content: list[dict[str, Any]] | None = None, stop_reason: str = "end_turn",
) -> dict[str, Any]:
    return {
        "id": "msg_01", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content if content is not None else [{"type": "text", "text": text}],
        "stop_reason": stop_reason, "stop_sequence": None,
        "usage": usage if usage is not None else {"input_tokens": 20, "output_tokens": 6},
    }


def anthropic_events(
    parts: tuple[str, ...] = ("Hi", " there"), *, usage: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    start_usage = usage or {"input_tokens": 20, "output_tokens": 1}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {
            "id": "msg_s1", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": start_usage}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    for text in parts:
        events.append({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "text_delta", "text": text}})
    events += [
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 6}},
        {"type": "message_stop"},
    ]
    return events


# --- the fake provider -----------------------------------------------------------------------

Reply = Callable[[httpx2.Request], httpx2.Response]


class FakeLLM:
    """Queued replies (``json``, ``stream``, ``status``, ``timeout``), or ``default``."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[httpx2.Request] = []
        self.default: Reply | None = None

    # replies
    def json(self, body: dict[str, Any], status: int = 200) -> FakeLLM:
        self.replies.append(lambda req: httpx2.Response(status, json=body))
        return self

    def stream(self, payload: bytes, *, fail_after: int | None = None,
               failure: type[Exception] = httpx2.ReadError) -> FakeLLM:
        """An SSE body; ``fail_after=k`` fails the read (``failure``) after ``k`` events."""
        def reply(req: httpx2.Request) -> httpx2.Response:
            headers = {"content-type": "text/event-stream"}
            if fail_after is None:
                return httpx2.Response(200, headers=headers, content=payload)
            events = [e + b"\n\n" for e in payload.split(b"\n\n") if e]
            return httpx2.Response(200, headers=headers,
                                   stream=_BrokenStream(events[:fail_after], req, failure))
        self.replies.append(reply)
        return self

    def status(self, code: int, body: dict[str, Any] | None = None) -> FakeLLM:
        err = body or {"error": {"message": f"status {code}", "type": "server_error"}}
        # retry-after-ms keeps the SDK's retry back-off to a millisecond in tests
        self.replies.append(lambda req: httpx2.Response(
            code, json=err, headers={"retry-after-ms": "1", "x-should-retry": "true"}))
        return self

    def timeout(self) -> FakeLLM:
        def reply(req: httpx2.Request) -> httpx2.Response:
            raise httpx2.ReadTimeout("timed out", request=req)
        self.replies.append(reply)
        return self

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.replies:
            return self.replies.pop(0)(request)
        if self.default is not None:
            return self.default(request)
        raise AssertionError(f"FakeLLM: no reply queued for {request.method} {request.url}")

    def body(self, i: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[i].content)  # type: ignore[no-any-return]


class _BrokenStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """Yields some events, then the connection drops (a read error mid-stream)."""

    def __init__(self, events: list[bytes], request: httpx2.Request,
                 failure: type[Exception]) -> None:
        self.events = events
        self.request = request
        self.failure = failure

    def __iter__(self) -> Iterator[bytes]:
        yield from self.events
        raise self.failure("connection lost mid-stream", request=self.request)  # type: ignore[call-arg]

    async def __aiter__(self):  # type: ignore[override]
        for event in self.events:
            yield event
        raise self.failure("connection lost mid-stream", request=self.request)  # type: ignore[call-arg]


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM()


def _transport(fake: FakeLLM) -> httpx2.MockTransport:
    return httpx2.MockTransport(fake.handle)


@pytest.fixture
def openai_client(fake: FakeLLM) -> Any:
    import openai

    return openai.OpenAI(api_key=API_KEY, base_url="http://llm.test:8080/v1", max_retries=2,
                         http_client=httpx2.Client(transport=_transport(fake)))


@pytest.fixture
def async_openai_client(fake: FakeLLM) -> Any:
    import openai

    return openai.AsyncOpenAI(api_key=API_KEY, base_url="http://llm.test:8080/v1", max_retries=2,
                              http_client=httpx2.AsyncClient(transport=_transport(fake)))


@pytest.fixture
def anthropic_client(fake: FakeLLM) -> Any:
    import anthropic

    return anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url="http://claude.test",
                               max_retries=2, http_client=httpx2.Client(transport=_transport(fake)))


@pytest.fixture
def async_anthropic_client(fake: FakeLLM) -> Any:
    import anthropic

    return anthropic.AsyncAnthropic(
        api_key=ANTHROPIC_KEY, base_url="http://claude.test", max_retries=2,
        http_client=httpx2.AsyncClient(transport=_transport(fake)))


@pytest.fixture
def instrumented() -> Iterator[None]:
    """openai and anthropic instrumented for one test, restored afterwards."""
    from aiobs_otel.instrumentation import instrument, uninstrument

    instrument("openai", "anthropic")
    yield
    uninstrument("openai", "anthropic")


@pytest.fixture
def telemetry(aiobs_capture: Any, instrumented: None) -> Any:
    """The in-memory capture with both SDKs instrumented."""
    return aiobs_capture


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def chat_spans(capture: Any) -> list[Any]:
    """Our GenAI client spans (not the SDK's own HTTP-level spans)."""
    return [s for s in capture.spans() if s.instrumentation_scope.name == "aiobs_otel"]


def only_span(capture: Any) -> Any:
    spans = chat_spans(capture)
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def is_error(span: Any) -> bool:
    from opentelemetry.trace import StatusCode

    return span.status.status_code == StatusCode.ERROR and "error.type" in span.attributes


MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
