"""R15: re-entrancy. The exporter's own HTTP never becomes telemetry, and the SDK's logging routed
back into OpenTelemetry (a failing LoggingHandler on the root logger) never loops or deadlocks."""

from __future__ import annotations

import logging
import threading

import pytest
from rel_support import emit_all, pipeline, traced_call

from aiobs_otel._core import state
from aiobs_otel.setup import providers


def test_rel_r15_instrumented_requests_does_not_trace_the_exporter(faulty, fast_export):
    requests_instrumentation = pytest.importorskip("opentelemetry.instrumentation.requests")
    instrumentor = requests_instrumentation.RequestsInstrumentor()
    with pipeline(endpoint=faulty.http_endpoint, metrics_exporter="none"):
        instrumentor.instrument(tracer_provider=state.STATE.tracer_provider)
        try:
            emit_all(20)
            assert providers.force_flush(timeout_s=5)
            emit_all(1)  # a later batch would carry any span made by the first export's POST
            assert providers.force_flush(timeout_s=5)
        finally:
            instrumentor.uninstrument()
    names = faulty.span_names()
    assert names.count("demo.call") == 21
    assert set(names) == {"demo.call"}, "the exporter's HTTP request was traced"


@pytest.mark.filterwarnings("ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated")
@pytest.mark.parametrize("processor", ["batch", "simple"])
def test_rel_r15_sdk_logs_into_a_failing_otel_handler_never_loop(faulty, fast_export, processor):
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import (
        BatchLogRecordProcessor,
        LogRecordExporter,
        SimpleLogRecordProcessor,
    )

    class Failing(LogRecordExporter):
        def export(self, batch):  # type: ignore[no-untyped-def]
            logging.getLogger("opentelemetry.sdk._shared_internal").error("export failed again")
            raise RuntimeError("the log backend is down")

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return True

    app_logs = LoggerProvider(shutdown_on_exit=False)
    wrap = SimpleLogRecordProcessor if processor == "simple" else BatchLogRecordProcessor
    app_logs.add_log_record_processor(wrap(Failing()))
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=app_logs)
    root = logging.getLogger()
    root.addHandler(handler)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            faulty.down()
            with pipeline(endpoint=faulty.http_endpoint):
                for i in range(200):
                    assert traced_call(i) == i + 1
                    if i % 50 == 0:
                        logging.getLogger("aiobs_otel").warning("app-side warning %d", i)
                providers.force_flush(timeout_s=2)
        except BaseException as exc:
            failures.append(exc)

    try:
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        thread.join(20)
        assert not thread.is_alive(), "deadlock: logging re-entered the telemetry pipeline"
    finally:
        root.removeHandler(handler)
        app_logs.shutdown()
    assert not failures, failures
    assert not any(isinstance(f, RecursionError) for f in failures)
