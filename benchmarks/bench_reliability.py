"""Reliability: what one traced call costs when the collector is down, against baselines.

All in one run, same pipeline (our providers, batch processor, OTLP/HTTP exporter pointed at
a closed port, so the queue is full and every export fails):
* ``bare``: the undecorated function;
* ``raw_sdk``: the same span made directly on the OpenTelemetry SDK tracer;
* ``aiobs``: the function decorated with an aiobs operation (the wrapping layer + accounting).
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))
from rel_support import pipeline, traced_call

from aiobs_otel._core.otel import tracer


def _dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def bare(x: int) -> int:
    return x + 1


def raw_sdk(x: int) -> int:
    span = tracer().start_span("raw.call", kind=SpanKind.CLIENT, attributes={"demo.n": 1})
    try:
        return x + 1
    finally:
        span.end()


@pytest.mark.parametrize("kind", ["bare", "raw_sdk", "aiobs"])
def test_call_with_collector_down(benchmark, kind: str, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    fn = {"bare": bare, "raw_sdk": raw_sdk, "aiobs": traced_call}[kind]
    with pipeline(endpoint=_dead_endpoint(), metrics_exporter="none", logs_exporter="none"):
        for i in range(3_000):  # fill the queue: from here on every span is a counted drop
            fn(i)
        assert benchmark(fn, 1) == 2
