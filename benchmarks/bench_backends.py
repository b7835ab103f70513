"""Backends: the cost of a /metrics scrape through our reader, and of building the HTML report.

Each figure is compared with a baseline measured in the same run:
* scrape: ``ServingPrometheusReader`` (drops exponential histograms) vs the plain
  ``PrometheusMetricReader`` over the same instruments and data points;
* report: ``html_report.render`` vs ``json.dumps`` of the same records (the cost of reading
  them is not included in either).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

from aiobs_otel.cli import html_report
from aiobs_otel.setup.prometheus import ServingPrometheusReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backends"))
from test_backends_html_report import sample_data


def _populate(provider: MeterProvider) -> None:
    meter = provider.get_meter("bench")
    histogram = meter.create_histogram("bench.duration", unit="s")
    counter = meter.create_counter("bench.tokens", unit="{token}")
    for model in range(20):
        for i in range(50):
            histogram.record(0.01 * i, {"model": f"m{model}", "op": "chat"})
            counter.add(i, {"model": f"m{model}", "type": "input"})


@pytest.mark.parametrize("kind", ["plain_reader_baseline", "aiobs_reader"])
def test_scrape(benchmark, kind: str) -> None:
    if kind == "aiobs_reader":
        reader = ServingPrometheusReader("127.0.0.1", 0)
        registry = reader._own_registry
    else:
        registry = CollectorRegistry(auto_describe=True)
        reader = PrometheusMetricReader(registry=registry)
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    _populate(provider)
    try:
        text = benchmark(generate_latest, registry)
        assert b"bench_duration_seconds_bucket" in text
    finally:
        provider.shutdown()


@pytest.mark.parametrize("kind", ["json_dumps_baseline", "html_report"])
def test_report(benchmark, kind: str, tmp_path: Path) -> None:
    data = sample_data(tmp_path)
    if kind == "html_report":
        page = benchmark(html_report.render, data)
        assert "<svg" in page
    else:
        records = [dataclasses.asdict(s) for s in data.spans] + \
            [dataclasses.asdict(m) for m in data.metrics]
        benchmark(json.dumps, records, default=str)
