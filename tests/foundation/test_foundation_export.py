"""End to end: the exporters deliver all three signals to a real OTLP receiver; the local sink
writes valid OTLP-JSON; ``aiobs-otel report`` reads it. Each run is its own process, because
OpenTelemetry's global providers can be set once per process."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SCRIPT = Path(__file__).with_name("emit_script.py")


def run_script(env_updates: dict[str, str], *args: str, cwd: Path | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIOBS_"))}
    env.update(env_updates)
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def assert_all_signals(receiver, transport: str) -> None:
    assert receiver.wait_for(lambda: receiver.spans(transport) and receiver.logs(transport)
                             and "aiobs.test.calls" in receiver.metric_names(transport))
    span = receiver.spans(transport)[0]
    assert span.name == "demo.op"
    assert {a.key for a in span.attributes} == {"demo.arg"}
    resource = receiver.resources("traces")[0]
    assert resource["service.name"] == "export-test"
    [log] = receiver.logs(transport)
    assert log.event_name == "aiobs.test.event"


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_env_endpoint_delivers_all_signals(otlp_receiver, protocol, tmp_path):
    endpoint = otlp_receiver.grpc_endpoint if protocol == "grpc" else otlp_receiver.http_endpoint
    result = run_script({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                         "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_all_signals(otlp_receiver, "grpc" if protocol == "grpc" else "http")
    assert not (tmp_path / ".aiobs").exists(), "an OTLP endpoint must not also write the sink"


def test_configure_endpoint_argument_and_headers(otlp_receiver, tmp_path):
    result = run_script({"OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme"},
                        f"endpoint={otlp_receiver.http_endpoint}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_all_signals(otlp_receiver, "http")
    assert otlp_receiver.requests("traces")[0].headers.get("x-tenant") == "acme"


def test_per_signal_endpoint_and_exporter_none(otlp_receiver, tmp_path):
    result = run_script({
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_receiver.http_endpoint + "/v1/traces",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert otlp_receiver.wait_for(lambda: otlp_receiver.spans())
    assert otlp_receiver.metrics() == [] and otlp_receiver.logs() == []


def test_sdk_disabled_sends_nothing(otlp_receiver, tmp_path):
    result = run_script({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.http_endpoint,
                         "OTEL_SDK_DISABLED": "true"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not otlp_receiver.wait_for(lambda: bool(otlp_receiver.received), timeout_s=1.0)


def _hex_to_b64(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                assert all(c in "0123456789abcdef" for c in value), value
                assert len(value) in (16, 32)
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                _hex_to_b64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_to_b64(item)


def test_local_sink_writes_valid_otlp_json_and_report_reads_it(tmp_path):
    sink = tmp_path / "telemetry"
    result = run_script({"AIOBS_SINK_DIR": str(sink)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"writing telemetry to {sink}" in result.stderr  # the first run says where
    for name, message_type in (("traces", ExportTraceServiceRequest),
                               ("metrics", ExportMetricsServiceRequest),
                               ("logs", ExportLogsServiceRequest)):
        lines = (sink / f"{name}.jsonl").read_text().splitlines()
        assert lines
        for line in lines:
            data = json.loads(line)
            _hex_to_b64(data)
            json_format.ParseDict(data, message_type())  # strict: unknown fields fail
    report = subprocess.run([sys.executable, "-m", "aiobs_otel", "report", str(sink)],
                            capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    assert "demo.op" in report.stdout and "aiobs.test.calls" in report.stdout
    assert "aiobs.test.event" in report.stdout
    # The second run is quiet about the directory: it exists already.
    again = run_script({"AIOBS_SINK_DIR": str(sink)}, cwd=tmp_path)
    assert again.returncode == 0 and "writing telemetry" not in again.stderr


def test_existing_application_providers_are_used(tmp_path):
    code = """
import logging, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
import aiobs_otel as aiobs
from aiobs_otel._core import state
logging.basicConfig()
aiobs.configure(endpoint="http://127.0.0.1:9")
assert state.STATE.tracer_provider is provider
from aiobs_otel._core.otel import tracer
with tracer().start_as_current_span("app.span"):
    pass
assert [s.name for s in exporter.get_finished_spans()] == ["app.span"]
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIOBS_"))}
    env["AIOBS_SINK_DIR"] = str(tmp_path / "sink")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "already set some OpenTelemetry providers (traces)" in result.stderr
