"""The setup layer: builds OpenTelemetry SDK providers and exporters from :class:`Settings`.

This is the only place that imports the OpenTelemetry SDK and its exporters. ``configure()``
is idempotent and thread-safe. If the application already installed its own global providers,
they are used as they are (our exporter settings are then ignored, with a warning if any were
asked for explicitly). Shutdown is capped by ``shutdown_timeout_s`` so a dead collector can
never hang the process at exit.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs._internal import ProxyLoggerProvider as _PROXY_LOGGERS

from .. import semconv
from .._core import errors, state
from ..config import Settings, distributed_identity, load_settings

_log = logging.getLogger("aiobs_otel")
_atexit_registered = False
# ids of the providers our configure() installed as OpenTelemetry's globals (they stay installed
# for the life of the process: the OTel API sets each global once).
_installed_globals: set[int] = set()

# Settings that shape providers and exporters: changing them needs shutdown() first.
_EXPORT_FIELDS = (
    "service_name", "endpoint", "traces_endpoint", "metrics_endpoint", "logs_endpoint", "protocol",
    "headers", "traces_exporter", "metrics_exporter", "logs_exporter",
    "metric_export_interval_ms", "sink_dir", "sink_max_bytes", "sink_backups",
    "attribute_value_max_length", "metric_cardinality_limit", "prometheus_port", "gpu_dcgm",
    "prometheus_host",
)


def configure(**options: Any) -> Settings:
    """Set the library up: settings from ``options`` → environment → defaults; providers; exporters.

    >>> import aiobs_otel as aiobs
    >>> aiobs.configure(service_name="checkout-bot")  # doctest: +SKIP

    Safe to call more than once: an identical call does nothing; a call that changes export
    settings after providers exist warns and keeps the running exporters (call ``shutdown()``
    first to rebuild them); other settings (content capture, strict mode, ...) take effect.
    Raises ``ValueError`` for a bad argument. Returns the active settings.
    """
    settings = load_settings(**options)
    with state.STATE.lock:
        previous = state.STATE.settings
        if state.STATE.configured and previous is not None:
            if previous == settings:
                return settings
            changed = [f for f in _EXPORT_FIELDS if getattr(previous, f) != getattr(settings, f)]
            if changed:
                _log.warning(
                    "aiobs_otel: already configured; %s unchanged (call aiobs_otel.shutdown() "
                    "before configure() to rebuild the exporters)", ", ".join(changed),
                )
                keep = {f: getattr(previous, f) for f in _EXPORT_FIELDS}
                settings = Settings(**{**_as_dict(settings), **keep})
            state._apply_settings(settings)
        else:
            state._apply_settings(settings)
            _install(settings, explicit=options)
            state.STATE.configured = True
            state.STATE.shut_down = False
    # Parts switched on by settings (GPU collector, instrumentors) start idempotently, also when
    # a later configure() turns them on.
    _start_optional_parts(settings)
    return settings


def auto_configure() -> None:
    """Configure from the environment alone; called on the first use of any telemetry.

    Not after ``shutdown()``: later telemetry calls are no-ops until ``configure()`` is called.
    """
    if state.STATE.configured or state.STATE.shut_down:
        return
    try:
        configure()
    except Exception as exc:  # a failure here must not reach the application
        with state.STATE.lock:
            state.STATE.configured = True
        errors.report("setup.auto_configure", exc)


def _as_dict(settings: Settings) -> dict[str, Any]:
    from dataclasses import asdict

    return {k: getattr(settings, k) for k in asdict(settings)}


def _install(settings: Settings, explicit: dict[str, Any]) -> None:
    if settings.disabled:
        state.set_providers(
            trace.NoOpTracerProvider(), metrics.NoOpMeterProvider(), _logs.NoOpLoggerProvider()
        )
        state.STATE.owns_providers = False
        return
    existing = _existing_providers()
    asked_for_export = any(
        k in explicit and explicit[k] is not None
        for k in ("endpoint", "traces_exporter", "metrics_exporter", "logs_exporter", "headers",
                  "protocol", "sink_dir")
    )
    if all(p is not None for p in existing.values()):
        if asked_for_export:
            _log.warning(
                "aiobs_otel: the application already set OpenTelemetry providers; using them as "
                "they are and ignoring the exporter settings passed to configure()"
            )
        state.set_providers(existing["traces"], existing["metrics"], existing["logs"])
        state.STATE.owns_providers = False
        return
    if any(p is not None for p in existing.values()) and asked_for_export:
        _log.warning(
            "aiobs_otel: the application already set some OpenTelemetry providers (%s); those are "
            "used as they are and the exporter settings apply only to the others",
            ", ".join(k for k, v in existing.items() if v is not None),
        )
    resource = build_resource(settings)
    tracer_provider = existing["traces"] or _tracer_provider(settings, resource)
    meter_provider = existing["metrics"] or _meter_provider(settings, resource)
    logger_provider = existing["logs"] or _logger_provider(settings, resource)
    # Install ours as the globals too, so other instrumentations share them (once per process).
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(tracer_provider)
        _installed_globals.add(id(tracer_provider))
    if type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider":
        metrics.set_meter_provider(meter_provider)
        _installed_globals.add(id(meter_provider))
    if isinstance(_logs.get_logger_provider(), _PROXY_LOGGERS):
        _logs.set_logger_provider(logger_provider)
        _installed_globals.add(id(logger_provider))
    state.set_providers(tracer_provider, meter_provider, logger_provider)
    state.STATE.owns_providers = True
    from .accounting import install_log_limits

    install_log_limits()
    _register_atexit()


def _existing_providers() -> dict[str, Any]:
    """Global providers the application installed (None where the global is still the proxy,
    or is one that an earlier configure() of ours installed and shutdown() stopped)."""
    found: dict[str, Any] = {"traces": None, "metrics": None, "logs": None}
    tp = trace.get_tracer_provider()
    if not isinstance(tp, trace.ProxyTracerProvider) and id(tp) not in _installed_globals:
        found["traces"] = tp
    mp = metrics.get_meter_provider()
    if type(mp).__name__ != "_ProxyMeterProvider" and id(mp) not in _installed_globals:
        found["metrics"] = mp
    lp = _logs.get_logger_provider()
    if not isinstance(lp, _PROXY_LOGGERS) and id(lp) not in _installed_globals:
        found["logs"] = lp
    return found


def build_resource(settings: Settings) -> Any:
    """The Resource: SDK defaults + OTEL_RESOURCE_ATTRIBUTES + service name + job identity."""
    from opentelemetry.sdk.resources import Resource

    attributes: dict[str, Any] = {}
    if settings.service_name:
        attributes[semconv.SERVICE_NAME] = settings.service_name
    ident = distributed_identity()
    for key, value in (
        (semconv.RESOURCE_RANK, ident.rank),
        (semconv.RESOURCE_LOCAL_RANK, ident.local_rank),
        (semconv.RESOURCE_WORLD_SIZE, ident.world_size),
        (semconv.RESOURCE_JOB_ID, ident.job_id),
        (semconv.RESOURCE_LAUNCHER, ident.launcher),
    ):
        if value is not None:
            attributes[key] = value
    return Resource.create(attributes)


def _endpoint_for(settings: Settings, signal: str) -> str | None:
    per_signal = getattr(settings, f"{signal}_endpoint")
    if per_signal:
        return str(per_signal)
    if not settings.endpoint:
        return None
    if settings.protocol == "grpc":
        return settings.endpoint
    return settings.endpoint.rstrip("/") + f"/v1/{signal}"


def _otlp_kwargs(settings: Settings, signal: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    endpoint = _endpoint_for(settings, signal)
    if endpoint:
        kwargs["endpoint"] = endpoint
    if settings.headers is not None:
        kwargs["headers"] = dict(settings.headers)
    if settings.protocol == "grpc" and endpoint and endpoint.startswith("http://"):
        kwargs["insecure"] = True
    if settings.protocol != "grpc":
        from .accounting import partial_success_session

        kwargs["session"] = partial_success_session(signal)
    return kwargs


def _sink_file(settings: Settings, signal: str) -> Any:
    from .sink import JsonLinesFile

    return JsonLinesFile(settings.sink_dir, signal, settings.sink_max_bytes, settings.sink_backups)


def _span_exporter(settings: Settings) -> Any:
    kind = settings.traces_exporter
    if kind == "none":
        return None
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if kind == "local":
        from .sink import LocalSpanExporter

        return LocalSpanExporter(_sink_file(settings, "traces"))
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(**_otlp_kwargs(settings, "traces"))
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HTTPSpanExporter,
    )

    return HTTPSpanExporter(**_otlp_kwargs(settings, "traces"))


def _metric_exporter(settings: Settings) -> Any:
    kind = settings.metrics_exporter
    if kind == "none":
        return None
    if kind == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter()
    if kind == "local":
        from .sink import LocalMetricExporter

        return LocalMetricExporter(_sink_file(settings, "metrics"))
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(**_otlp_kwargs(settings, "metrics"))
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HTTPMetricExporter,
    )

    return HTTPMetricExporter(**_otlp_kwargs(settings, "metrics"))


def _log_exporter(settings: Settings) -> Any:
    kind = settings.logs_exporter
    if kind == "none":
        return None
    if kind == "console":
        from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

        return ConsoleLogRecordExporter()
    if kind == "local":
        from .sink import LocalLogExporter

        return LocalLogExporter(_sink_file(settings, "logs"))
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter(**_otlp_kwargs(settings, "logs"))
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (
        OTLPLogExporter as HTTPLogExporter,
    )

    return HTTPLogExporter(**_otlp_kwargs(settings, "logs"))


def _tracer_provider(settings: Settings, resource: Any) -> Any:
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from .accounting import CountingSpanExporter, track_processor

    provider = TracerProvider(
        resource=resource,
        span_limits=SpanLimits(max_attribute_length=settings.attribute_value_max_length),
        shutdown_on_exit=False,
    )
    exporter = _span_exporter(settings)
    if exporter is not None:
        processor = BatchSpanProcessor(CountingSpanExporter(exporter))
        track_processor(processor, "traces")
        provider.add_span_processor(processor)
    return provider


def metric_readers(settings: Settings) -> list[Any]:
    """The metric readers for these settings: the periodic exporter and, if set, Prometheus."""
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from .accounting import CountingMetricExporter

    readers: list[Any] = []
    exporter = _metric_exporter(settings)
    if exporter is not None:
        readers.append(
            PeriodicExportingMetricReader(
                CountingMetricExporter(exporter),
                export_interval_millis=settings.metric_export_interval_ms,
                cardinality_limits=cardinality_limits(settings),
            )
        )
    if settings.prometheus_port is not None:
        from .prometheus import prometheus_reader

        scrape_reader = prometheus_reader(settings)
        if scrape_reader is not None:
            _limit_cardinality(scrape_reader, settings)
            readers.append(scrape_reader)
    return readers


def _limit_cardinality(reader: Any, settings: Settings) -> None:
    """Apply ``metric_cardinality_limit`` to a reader built without a ``cardinality_limits``
    argument (the Prometheus reader): the SDK keeps the table in a private attribute."""
    try:
        from opentelemetry.sdk.metrics._internal.export import _validate_cardinality_limit

        table = getattr(reader, "_instrument_class_cardinality_limit", None)
        if isinstance(table, dict):
            for kind, limit in cardinality_limits(settings).items():
                table[_validate_cardinality_limit(kind, limit)] = limit
    except Exception as exc:  # an SDK without that table keeps its default limit (2000)
        _log.debug("aiobs_otel: cannot set the cardinality limit on %r: %r", reader, exc)


def cardinality_limits(settings: Settings) -> dict[type, int]:
    """``settings.metric_cardinality_limit`` for every instrument kind (excess → overflow point)."""
    from opentelemetry.sdk.metrics import (
        Counter,
        Histogram,
        ObservableCounter,
        ObservableGauge,
        ObservableUpDownCounter,
        UpDownCounter,
    )
    from opentelemetry.sdk.metrics import _Gauge as Gauge

    kinds: tuple[type, ...] = (Counter, UpDownCounter, Histogram, Gauge, ObservableCounter,
                               ObservableUpDownCounter, ObservableGauge)
    return {kind: settings.metric_cardinality_limit for kind in kinds}


def _meter_provider(settings: Settings, resource: Any) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider

    views: list[Any] = []
    if settings.gpu and settings.gpu_dcgm:
        # The SDK lower-cases instrument names; DCGM dashboards need DCGM_FI_* in upper case.
        from ..collectors.gpu import dcgm_views

        views = dcgm_views()
    return MeterProvider(
        resource=resource, metric_readers=metric_readers(settings), shutdown_on_exit=False,
        views=views,
    )


def _logger_provider(settings: Settings, resource: Any) -> Any:
    from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    from .accounting import CountingLogExporter, track_processor

    provider = LoggerProvider(
        resource=resource, shutdown_on_exit=False,
        log_record_limits=LogRecordLimits(max_attribute_length=settings.attribute_value_max_length),
    )
    exporter = _log_exporter(settings)
    if exporter is not None:
        processor = BatchLogRecordProcessor(CountingLogExporter(exporter))
        track_processor(processor, "logs")
        provider.add_log_record_processor(processor)
    return provider


def _start_optional_parts(settings: Settings) -> None:
    """Parts switched on by settings alone: GPU collector, auto-instrumentation."""
    if settings.disabled:
        return
    if settings.gpu:
        with errors.guard("setup.gpu"):
            from ..collectors.gpu import start_from_settings

            start_from_settings(settings)
    if settings.instrument:
        with errors.guard("setup.instrument"):
            from ..instrumentation import instrument

            instrument(*settings.instrument)


# --- flush and shutdown --------------------------------------------------------------------


def _run_capped(work: Callable[[], None], timeout_s: float, what: str) -> bool:
    """Run ``work`` on a daemon thread and wait at most ``timeout_s``; True if it finished."""
    return _run_all_capped([work], timeout_s, what)


def _run_all_capped(works: Sequence[Callable[[], object]], timeout_s: float, what: str) -> bool:
    """Run each of ``works`` on its own daemon thread, all within one deadline of ``timeout_s``.

    True if all finished in time. If a thread cannot be started (interpreter finalizing), that
    work is skipped and False is returned: an unbounded inline call could hang the exit.
    """
    deadline = time.monotonic() + max(timeout_s, 0.0)
    events: list[threading.Event] = []
    started_all = True
    for index, work in enumerate(works):
        done = threading.Event()

        def target(work: Callable[[], object] = work, done: threading.Event = done) -> None:
            try:
                work()
            except Exception as exc:
                _log.warning("aiobs_otel: %s failed: %r", what, exc)
            finally:
                done.set()

        thread = threading.Thread(target=target, name=f"aiobs-{what}-{index}", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown"
            started_all = False
            continue
        events.append(done)
    finished = all(done.wait(max(deadline - time.monotonic(), 0.0)) for done in events)
    if not finished:
        _log.warning(
            "aiobs_otel: %s did not finish within %.1f s; unsent telemetry is dropped",
            what, timeout_s,
        )
    return finished and started_all


def force_flush(timeout_s: float | None = None) -> bool:
    """Export everything buffered now; waits at most ``timeout_s`` (default: shutdown timeout)."""
    if not state.STATE.configured:
        return True
    settings = state.current_settings()
    limit = settings.shutdown_timeout_s if timeout_s is None else timeout_s
    providers = [state.STATE.tracer_provider, state.STATE.meter_provider,
                 state.STATE.logger_provider]

    millis = int(limit * 1000)
    flushes = [
        functools.partial(flush_fn, millis)
        for flush_fn in (getattr(provider, "force_flush", None) for provider in providers)
        if flush_fn is not None
    ]
    return _run_all_capped(flushes, limit, "flush")


def shutdown(timeout_s: float | None = None) -> bool:
    """Flush and stop everything the library started; waits at most ``timeout_s``.

    Also runs at interpreter exit. After it, telemetry calls are no-ops (nothing is configured
    again behind the application's back) until ``configure()`` is called again.
    """
    with state.STATE.lock:
        if not state.STATE.configured:
            return True
        settings = state.current_settings()
        callbacks = list(reversed(state.STATE.shutdown_callbacks))
        state.STATE.shutdown_callbacks.clear()
        owned = state.STATE.owns_providers
        providers = [state.STATE.tracer_provider, state.STATE.meter_provider,
                     state.STATE.logger_provider]
        state.STATE.configured = False
        state.STATE.owns_providers = False
        state.STATE.shut_down = True
    limit = settings.shutdown_timeout_s if timeout_s is None else timeout_s
    deadline = time.monotonic() + limit

    def stop_parts() -> None:
        for callback in callbacks:
            with errors.guard("setup.shutdown_callback"):
                callback()

    finished = not callbacks or _run_capped(stop_parts, limit, "shutdown-callbacks")
    if not owned:
        return finished
    # Each provider stops on its own thread: a tracer provider stuck on a dead collector must
    # not use up the time of the meter and logger providers' final exports.
    stops = [stop_fn for stop_fn in (getattr(p, "shutdown", None) for p in providers)
             if stop_fn is not None]
    stopped = _run_all_capped(stops, max(deadline - time.monotonic(), 0.0), "shutdown")
    if not stopped:
        from .accounting import discard_pending

        discard_pending()  # still queued: counted as dropped (reason "shutdown"), never sent
    return finished and stopped


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(shutdown)
