"""A fault-injecting OTLP receiver (HTTP/protobuf and gRPC on 127.0.0.1) for the reliability suite.

Modes (set ``receiver.mode``, switchable at any time):

- ``ok``: decode and keep the request, answer 200 / OK.
- ``down``: the listening sockets are closed, so connections are refused (``down()``/``up()``
  switch it; the ports are kept, so exporters reconnect to the same address).
- ``blackhole``: accept and read the request, never answer (until the exporter's timeout).
- ``slow``: like ``ok`` after sleeping ``delay_s``.
- ``status``: answer ``status_code`` (HTTP) / ``grpc_code`` (gRPC), with ``Retry-After``
  when ``retry_after`` is set.
- ``partial``: keep the request; answer 200 with ``partial_success`` rejecting ``rejected``
  items.
- ``garbage``: answer 200 with random bytes as the body.
- ``giant``: answer 200 with an 8 MiB body.
- ``reset``: close the connection without answering.

Every attempt is recorded (``attempts``), with its time, so retry schedules can be checked.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

REQUESTS = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}
RESPONSES = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
}
_REJECTED_FIELD = {"traces": "rejected_spans", "metrics": "rejected_data_points",
                   "logs": "rejected_log_records"}


def count_items(signal: str, request: Any) -> int:
    """Spans, metric data points or log records in one export request."""
    if signal == "traces":
        return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if signal == "logs":
        return sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
    total = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                total += len(getattr(metric, kind).data_points) if kind else 0
    return total


@dataclass
class Attempt:
    signal: str
    transport: str
    mode: str
    at: float  # time.monotonic()


class FaultyReceiver:
    """OTLP over HTTP and gRPC on fixed loopback ports, with switchable faults."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay_s = 0.0
        self.status_code = 503
        self.grpc_code = grpc.StatusCode.UNAVAILABLE
        self.retry_after: str | None = None
        self.rejected = 0
        self.attempts: list[Attempt] = []
        self.requests: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()
        self._release = threading.Event()  # set to free blackholed handlers
        self.http_port = _free_port()
        self.grpc_port = _free_port()
        self._http: ThreadingHTTPServer | None = None
        self._grpc: grpc.Server | None = None
        self.up()

    # -- lifecycle ------------------------------------------------------------------------------
    def up(self) -> None:
        """Listen (again) on the same ports."""
        if self._http is None:
            self._http = _bind_http(self)
            threading.Thread(target=self._http.serve_forever, daemon=True,
                             kwargs={"poll_interval": 0.05}).start()
        if self._grpc is None:
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
            for signal, module, name in (
                ("traces", trace_service_pb2_grpc, "TraceService"),
                ("metrics", metrics_service_pb2_grpc, "MetricsService"),
                ("logs", logs_service_pb2_grpc, "LogsService"),
            ):
                servicer = _grpc_servicer(self, signal, getattr(module, f"{name}Servicer"))
                getattr(module, f"add_{name}Servicer_to_server")(servicer, server)
            server.add_insecure_port(f"127.0.0.1:{self.grpc_port}")
            server.start()
            self._grpc = server
        if self.mode == "down":
            self.mode = "ok"

    def down(self) -> None:
        """Close the listening sockets: new connections are refused."""
        self.mode = "down"
        self._release.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait(2)
            self._grpc = None
        self._release.clear()

    def stop(self) -> None:
        self._release.set()
        self.down()

    def set(self, mode: str, **options: Any) -> None:
        """Switch mode; options: delay_s, status_code, grpc_code, retry_after, rejected."""
        for key, value in options.items():
            setattr(self, key, value)
        if mode != "blackhole":
            self._release.set()
            self._release = threading.Event()
        self.mode = mode

    # -- endpoints ------------------------------------------------------------------------------
    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    # -- what arrived ---------------------------------------------------------------------------
    def record_attempt(self, signal: str, transport: str) -> str:
        mode = self.mode
        with self._lock:
            self.attempts.append(Attempt(signal, transport, mode, time.monotonic()))
        return mode

    def store(self, signal: str, transport: str, request: Any) -> None:
        with self._lock:
            self.requests.append((signal, transport, request))

    def items(self, signal: str) -> int:
        with self._lock:
            stored = [r for s, _, r in self.requests if s == signal]
        return sum(count_items(signal, r) for r in stored)

    def span_names(self) -> list[str]:
        with self._lock:
            stored = [r for s, _, r in self.requests if s == "traces"]
        return [span.name for r in stored for rs in r.resource_spans for ss in rs.scope_spans
                for span in ss.spans]

    def raw_attempts(self, signal: str) -> list[Attempt]:
        with self._lock:
            return [a for a in self.attempts if a.signal == signal]

    def clear(self) -> None:
        with self._lock:
            self.attempts.clear()
            self.requests.clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answer(receiver: FaultyReceiver, signal: str, rejected: int) -> bytes:
    response = RESPONSES[signal]()
    if rejected:
        setattr(response.partial_success, _REJECTED_FIELD[signal], rejected)
        response.partial_success.error_message = "rejected by the faulty receiver"
    return bytes(response.SerializeToString())


def _bind_http(receiver: FaultyReceiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            signal = self.path.rstrip("/").rsplit("/", 1)[-1]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            mode = receiver.record_attempt(signal, "http")
            if mode == "blackhole":
                receiver._release.wait(60)
                self.close_connection = True
                return
            if mode == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            if mode == "slow":
                time.sleep(receiver.delay_s)
            status, payload = 200, b""
            if mode == "status":
                status = receiver.status_code
            elif mode == "garbage":
                payload = os.urandom(256)
            elif mode == "giant":
                payload = b"\x0a" * (8 * 1024 * 1024)
            elif signal in REQUESTS:
                request = REQUESTS[signal]()
                request.ParseFromString(body)
                receiver.store(signal, "http", request)
                payload = _answer(receiver, signal, receiver.rejected if mode == "partial" else 0)
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            if mode == "status" and receiver.retry_after is not None:
                self.send_header("Retry-After", receiver.retry_after)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", receiver.http_port), Handler)
    server.daemon_threads = True
    return server


def _grpc_servicer(receiver: FaultyReceiver, signal: str, base: type) -> Any:
    class Servicer(base):  # type: ignore[misc, valid-type]
        def Export(self, request: Any, context: Any) -> Any:
            mode = receiver.record_attempt(signal, "grpc")
            if mode == "blackhole":
                receiver._release.wait(60)
                context.abort(grpc.StatusCode.UNAVAILABLE, "released")
            if mode in ("status", "reset", "garbage", "giant"):
                context.abort(receiver.grpc_code, f"faulty receiver: {mode}")
            if mode == "slow":
                time.sleep(receiver.delay_s)
            receiver.store(signal, "grpc", request)
            response = RESPONSES[signal]()
            if mode == "partial" and receiver.rejected:
                setattr(response.partial_success, _REJECTED_FIELD[signal], receiver.rejected)
            return response

    return Servicer()
