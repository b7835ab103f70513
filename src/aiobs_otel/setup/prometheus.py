"""Prometheus scraping without a Collector: a ``/metrics`` endpoint served from this process.

Switched on by ``configure(prometheus_port=9464)`` or ``AIOBS_PROMETHEUS_PORT=9464`` (host from
``prometheus_host`` / ``AIOBS_PROMETHEUS_HOST``, default ``127.0.0.1``; port ``0`` picks a free
one, see :func:`server_address`). It is one more metric reader next to the periodic exporter, so
the OTLP or local export keeps working alongside it.

>>> import aiobs_otel as aiobs
>>> aiobs.configure(prometheus_port=9464)  # doctest: +SKIP
>>> # curl http://127.0.0.1:9464/metrics

Metric names follow the OpenTelemetry-to-Prometheus translation of
``opentelemetry-exporter-prometheus``: dots become underscores, the unit becomes a suffix
(``s`` → ``_seconds``, ``By`` → ``_bytes``; ``{token}``-style annotations add nothing) and
monotonic counters end in ``_total``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..config import Settings

_log = logging.getLogger("aiobs_otel")
_lock = threading.Lock()
_address: tuple[str, int] | None = None

try:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import CollectorRegistry, start_http_server
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the Prometheus endpoint needs opentelemetry-exporter-prometheus: "
        "pip install 'aiobs-otel[prometheus]'"
    ) from exc


class ServingPrometheusReader(PrometheusMetricReader):
    """A Prometheus reader that owns its HTTP server and stops it on shutdown."""

    def __init__(self, host: str, port: int) -> None:
        # A private registry per reader: re-configuring never collides with an earlier one, and
        # the process-wide default registry (python_gc_*, process_*) stays the user's.
        self._own_registry = CollectorRegistry(auto_describe=True)
        super().__init__(registry=self._own_registry)
        server, thread = start_http_server(port, addr=host, registry=self._own_registry)
        self._server: Any = server
        self._thread: Any = thread
        self.address: tuple[str, int] = (host, int(server.server_address[1]))

    def _receive_metrics(self, metrics_data: Any, timeout_millis: float = 10_000,
                         **kwargs: Any) -> None:
        # The exporter cannot render exponential histograms (the scrape would fail whole):
        # leave those out here; the OTLP and local exports keep them.
        if metrics_data is not None:
            metrics_data = _without_exponential_histograms(metrics_data)
        super()._receive_metrics(metrics_data, timeout_millis, **kwargs)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        global _address
        try:
            self._server.shutdown()
            self._server.server_close()
        finally:
            with _lock:
                if _address == self.address:
                    _address = None
            super().shutdown(timeout_millis=timeout_millis, **kwargs)


def _without_exponential_histograms(metrics_data: Any) -> Any:
    from dataclasses import replace

    from opentelemetry.sdk.metrics.export import ExponentialHistogram

    if not any(isinstance(m.data, ExponentialHistogram) for rm in metrics_data.resource_metrics
               for sm in rm.scope_metrics for m in sm.metrics):
        return metrics_data
    return replace(metrics_data, resource_metrics=[
        replace(rm, scope_metrics=[
            replace(sm, metrics=[m for m in sm.metrics
                                 if not isinstance(m.data, ExponentialHistogram)])
            for sm in rm.scope_metrics])
        for rm in metrics_data.resource_metrics])


def prometheus_reader(settings: Settings) -> ServingPrometheusReader | None:
    """The reader serving ``/metrics`` for these settings, or None (not asked for, or the port
    could not be bound: that is logged, the rest of the telemetry goes on)."""
    global _address
    if settings.prometheus_port is None:
        return None
    try:
        reader = ServingPrometheusReader(settings.prometheus_host, settings.prometheus_port)
    except OSError as exc:
        _log.warning(
            "aiobs_otel: cannot serve Prometheus metrics on %s:%s (%s); continuing without it",
            settings.prometheus_host, settings.prometheus_port, exc,
        )
        return None
    with _lock:
        _address = reader.address
    _log.info("aiobs_otel: Prometheus metrics at http://%s:%d/metrics", *reader.address)
    return reader


def server_address() -> tuple[str, int] | None:
    """``(host, port)`` of the running ``/metrics`` endpoint, or None when none is running.

    >>> from aiobs_otel.setup.prometheus import server_address
    >>> server_address()  # doctest: +SKIP
    ('127.0.0.1', 9464)
    """
    with _lock:
        return _address
