"""configure(prometheus_port=...): a /metrics endpoint without a Collector, scraped for real."""

from __future__ import annotations

import logging
import socket
import urllib.request

import pytest

import aiobs_otel
from aiobs_otel._core import otel
from aiobs_otel.config import load_settings
from aiobs_otel.setup import prometheus


def _scrape(address: tuple[str, int]) -> str:
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/metrics", timeout=5) as resp:
        return resp.read().decode()


def test_env_var_sets_the_port() -> None:
    settings = load_settings({"AIOBS_PROMETHEUS_PORT": "9464", "AIOBS_PROMETHEUS_HOST": "0.0.0.0"})
    assert settings.prometheus_port == 9464
    assert settings.prometheus_host == "0.0.0.0"
    assert load_settings({}).prometheus_port is None


def test_configure_serves_translated_names(configurable: None) -> None:
    aiobs_otel.configure(prometheus_port=0, metrics_exporter="none", traces_exporter="none",
                         logs_exporter="none", service_name="scrape-me")
    address = prometheus.server_address()
    assert address is not None and address[0] == "127.0.0.1" and address[1] > 0
    m = otel.meter()
    m.create_counter("demo.requests", unit="{request}").add(3, {"gen.model": "m-1"})
    m.create_histogram("demo.latency", unit="s").record(0.25)
    m.create_up_down_counter("demo.in_flight", unit="{request}").add(2)
    text = _scrape(address)
    assert 'demo_requests_total{gen_model="m-1"' in text
    assert "demo_latency_seconds_bucket{" in text and "demo_latency_seconds_count{" in text
    assert "# TYPE demo_in_flight gauge" in text  # non-monotonic sums become gauges
    assert "target_info{" in text and 'service_name="scrape-me"' in text
    # Our own registry: the process-wide default collectors are not mixed in.
    assert "python_gc_objects_collected_total" not in text


def test_shutdown_stops_the_server(configurable: None) -> None:
    aiobs_otel.configure(prometheus_port=0, metrics_exporter="none")
    address = prometheus.server_address()
    assert address is not None
    aiobs_otel.shutdown(timeout_s=5)
    assert prometheus.server_address() is None
    with pytest.raises(OSError):
        _scrape(address)


def test_busy_port_warns_and_telemetry_goes_on(configurable: None,
                                               caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="aiobs_otel"):
            aiobs_otel.configure(prometheus_port=port, metrics_exporter="none")
        assert "cannot serve Prometheus metrics" in caplog.text
        assert prometheus.server_address() is None
        otel.meter().create_counter("demo.after").add(1)  # still works


def test_real_prometheus_scrapes_the_process(configurable: None, prometheus_server) -> None:
    aiobs_otel.configure(prometheus_port=0, metrics_exporter="none", traces_exporter="none",
                         logs_exporter="none")
    address = prometheus.server_address()
    assert address is not None
    otel.meter().create_counter("demo.scraped", unit="{item}").add(7, {"kind": "x"})
    server = prometheus_server([f"{address[0]}:{address[1]}"])
    result = server.wait_for('demo_scraped_total{kind="x"}')
    assert result, server.log_path.read_text()
    assert float(result[0]["value"][1]) == 7.0
    assert server.targets_up()
