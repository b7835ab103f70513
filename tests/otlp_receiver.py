"""A real OTLP receiver for tests: gRPC and HTTP/protobuf on 127.0.0.1 (opentelemetry-proto).

Nothing is mocked: exporters talk to real sockets, the bodies are parsed with the generated
protobuf classes, and the receiver keeps every request so tests can assert on what arrived.
``http_status`` / ``delay_s`` let a test make the receiver misbehave.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

REQUEST_TYPES = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}
RESPONSE_TYPES = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
}


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


def attrs(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


@dataclass
class Received:
    signal: str
    transport: str  # "grpc" | "http"
    request: Any
    headers: dict[str, str] = field(default_factory=dict)


class OTLPReceiver:
    """Both transports on free loopback ports; ``stop()`` closes them."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.http_status = 200
        self.delay_s = 0.0
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        for signal, module, name in (
            ("traces", trace_service_pb2_grpc, "TraceService"),
            ("metrics", metrics_service_pb2_grpc, "MetricsService"),
            ("logs", logs_service_pb2_grpc, "LogsService"),
        ):
            servicer = self._servicer(signal, getattr(module, f"{name}Servicer"))
            getattr(module, f"add_{name}Servicer_to_server")(servicer, self._grpc)
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                signal = self.path.rstrip("/").rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                if signal not in REQUEST_TYPES:
                    self.send_response(404)
                    self.end_headers()
                    return
                status = receiver.http_status
                if status == 200:
                    request = REQUEST_TYPES[signal]()
                    request.ParseFromString(body)
                    receiver._store(Received(signal, "http", request, dict(self.headers)))
                payload = RESPONSE_TYPES[signal]().SerializeToString()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        self._http_thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._http_thread.start()

    def _servicer(self, signal: str, base: type) -> Any:
        receiver = self

        class Servicer(base):  # type: ignore[misc, valid-type]
            def Export(self, request: Any, context: Any) -> Any:
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                metadata = {k: v for k, v in context.invocation_metadata()}
                receiver._store(Received(signal, "grpc", request, metadata))
                return RESPONSE_TYPES[signal]()

        return Servicer()

    def _store(self, item: Received) -> None:
        with self._lock:
            self.received.append(item)

    # -- endpoints ------------------------------------------------------------------------------
    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    # -- what arrived ---------------------------------------------------------------------------
    def requests(self, signal: str, transport: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received
                    if r.signal == signal and (transport is None or r.transport == transport)]

    def spans(self, transport: str | None = None) -> list[Any]:
        return [s for r in self.requests("traces", transport)
                for rs in r.request.resource_spans for ss in rs.scope_spans for s in ss.spans]

    def resources(self, signal: str = "traces") -> list[dict[str, Any]]:
        key = {"traces": "resource_spans", "metrics": "resource_metrics", "logs": "resource_logs"}
        return [attrs(res.resource.attributes) for r in self.requests(signal)
                for res in getattr(r.request, key[signal])]

    def metrics(self, transport: str | None = None) -> list[Any]:
        return [m for r in self.requests("metrics", transport)
                for rm in r.request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]

    def metric_names(self, transport: str | None = None) -> set[str]:
        return {m.name for m in self.metrics(transport)}

    def logs(self, transport: str | None = None) -> list[Any]:
        return [lr for r in self.requests("logs", transport)
                for rl in r.request.resource_logs for sl in rl.scope_logs for lr in sl.log_records]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        """Poll ``predicate`` until it holds or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._grpc.stop(grace=None)
