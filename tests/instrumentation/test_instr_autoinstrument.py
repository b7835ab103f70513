"""Zero-code paths: ``opentelemetry-instrument`` (entry points) and ``AIOBS_INSTRUMENT``.

Each test runs a small app in a subprocess with the real ``openai`` client talking to a tiny
OpenAI-compatible HTTP server on 127.0.0.1, and checks the spans that reach a real OTLP receiver.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from instr_fakes import chat_chunks, chat_completion, sse

from otlp_receiver import attrs

pytestmark = pytest.mark.slow


class _OpenAICompatible(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if body.get("stream"):
            payload = sse(chat_chunks(usage={"prompt_tokens": 12, "completion_tokens": 5,
                                             "total_tokens": 17}))
            ctype = "text/event-stream"
        else:
            payload = json.dumps(chat_completion()).encode()
            ctype = "application/json"
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def llm_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAICompatible)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


APP = """
import openai
{prelude}
client = openai.OpenAI(api_key="sk-test-zero-code-0123456789", base_url="{base_url}")
client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])
stream = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}], stream=True,
    stream_options={{"include_usage": True}})
print("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
"""


def _run_app(tmp_path: Path, base_url: str, receiver, command: list[str], prelude: str = "",
             **env: str) -> None:
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(APP.format(base_url=base_url, prelude=prelude)))
    environ = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": "zero-code-app",
        "AIOBS_SINK_DIR": str(tmp_path / "sink"),
        "AIOBS_STRICT": "true",
        **env,
    }
    done = subprocess.run([*command, str(app)], env=environ, capture_output=True, text=True,
                          timeout=90, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hello!"


def _genai_spans(receiver) -> list[dict]:
    # the app flushed at exit, so the spans are normally there already
    receiver.wait_for(lambda: len(receiver.spans()) >= 2, timeout_s=10)
    found = []
    for span in receiver.spans():
        a = attrs(span.attributes)
        if a.get("gen_ai.provider.name") == "openai":
            found.append({"name": span.name, **a})
    return found


def _assert_two_chat_spans(receiver) -> None:
    spans = _genai_spans(receiver)
    assert [s["name"] for s in spans] == ["chat gpt-4o-mini", "chat gpt-4o-mini"], spans
    plain, streamed = spans
    assert plain["gen_ai.usage.input_tokens"] == 12
    assert streamed["gen_ai.request.stream"] is True
    assert streamed["gen_ai.usage.output_tokens"] == 5
    assert streamed["server.address"] == "127.0.0.1"


def test_opentelemetry_instrument_loads_our_entry_points(tmp_path, llm_server, otlp_receiver):
    tool = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert tool, "opentelemetry-instrumentation provides the opentelemetry-instrument command"
    _run_app(tmp_path, llm_server, otlp_receiver, [tool, sys.executable])
    _assert_two_chat_spans(otlp_receiver)


def test_aiobs_instrument_env_var(tmp_path, llm_server, otlp_receiver):
    _run_app(tmp_path, llm_server, otlp_receiver, [sys.executable],
             prelude="import aiobs_otel as aiobs\naiobs.configure()",
             AIOBS_INSTRUMENT="openai,anthropic")
    _assert_two_chat_spans(otlp_receiver)
