"""A small OpenAI-compatible chat endpoint on 127.0.0.1, for the demo and the backend tests.

It answers ``POST /v1/chat/completions`` like the real service does, as far as an SDK can tell:
plain and streamed (server-sent events, with a final usage chunk when
``stream_options.include_usage`` is set) responses, tool calls when ``tools`` are offered, and a
``429`` rate-limit error for any request whose model name contains ``overloaded`` or whose last
message contains ``[429]``. Latency is simulated (tens of milliseconds, varying by model).

>>> with FakeOpenAI() as server:  # doctest: +SKIP
...     client = openai.OpenAI(base_url=server.base_url, api_key="demo")
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ANSWERS = (
    "Paris is the capital of France.",
    "A binary search halves the search interval at every step, so it runs in O(log n).",
    "Gradient clipping caps the norm of the gradients to keep training stable.",
    "The order ships within two business days and arrives in about a week.",
)


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _prompt_text(messages: list[dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return " ".join(parts)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "demo", "created": 0}
                for m in ("gpt-4o-mini", "gpt-4o")]})
            return
        self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._json(400, {"error": {"message": "bad JSON", "type": "invalid_request_error"}})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        self.server.requests += 1
        model = str(body.get("model", "gpt-4o-mini"))
        messages = body.get("messages") or []
        prompt = _prompt_text(messages)
        rng = random.Random(self.server.requests)
        base = 0.12 if "mini" not in model else 0.04
        time.sleep(base + rng.random() * base)
        if "overloaded" in model or "[429]" in (messages[-1].get("content") or "" if messages
                                                else ""):
            self._json(429, {"error": {"message": "Rate limit reached for requests",
                                       "type": "requests", "code": "rate_limit_exceeded"}},
                       {"retry-after-ms": "10"})
            return
        wants_tool = bool(body.get("tools")) and messages and messages[-1].get("role") == "user"
        answer = _ANSWERS[self.server.requests % len(_ANSWERS)]
        completion_id = f"chatcmpl-demo{self.server.requests:06d}"
        usage = {"prompt_tokens": _tokens(prompt) + 12, "completion_tokens": _tokens(answer),
                 "total_tokens": _tokens(prompt) + 12 + _tokens(answer)}
        if wants_tool:
            tool = body["tools"][0]["function"]["name"]
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [{
                "id": f"call_{self.server.requests:06d}", "type": "function",
                "function": {"name": tool, "arguments": json.dumps({"city": "Paris"})}}]}
            finish = "tool_calls"
            usage["completion_tokens"] = 18
        else:
            message = {"role": "assistant", "content": answer}
            finish = "stop"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(completion_id, model, message, finish, usage if include_usage else None)
            return
        self._json(200, {
            "id": completion_id, "object": "chat.completion", "created": int(time.time()),
            "model": f"{model}-2024-07-18" if model == "gpt-4o-mini" else model,
            "system_fingerprint": "fp_demo",
            "choices": [{"index": 0, "message": message, "finish_reason": finish,
                         "logprobs": None}],
            "usage": usage,
        })

    def _json(self, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", f"req_{self.server.requests}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, completion_id: str, model: str, message: dict[str, Any], finish: str,
                usage: dict[str, int] | None) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish_reason: str | None = None,
                  with_usage: dict[str, int] | None = None, choices: bool = True) -> None:
            payload: dict[str, Any] = {
                "id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": model, "system_fingerprint": "fp_demo",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason,
                             "logprobs": None}] if choices else [],
            }
            if with_usage is not None:
                payload["usage"] = with_usage
            self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            self.wfile.flush()

        chunk({"role": "assistant", "content": ""})
        text = message.get("content") or ""
        for word in text.split(" "):
            time.sleep(0.004)
            chunk({"content": word + " "})
        chunk({}, finish)
        if usage is not None:
            chunk({}, with_usage=usage, choices=False)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests = 0


class FakeOpenAI:
    """The endpoint, served from a daemon thread while the ``with`` block runs."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="aiobs-fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> int:
        return self._server.requests

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
