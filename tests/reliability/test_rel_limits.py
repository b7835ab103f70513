"""R09 and R10 at the pipeline level: values are bounded by size, metric series by count."""

from __future__ import annotations

import tracemalloc

from opentelemetry.trace import SpanKind
from rel_support import pipeline, wait_until

from aiobs_otel._core.otel import event_logger, meter
from aiobs_otel._core.wrapping import start_span
from aiobs_otel.setup import providers

MIB = 1024 * 1024


def _exported_attributes(receiver) -> list[dict]:
    from faulty_receiver import REQUESTS  # noqa: F401 - same decoding as the receiver

    out = []
    for signal, _, request in receiver.requests:
        if signal != "traces":
            continue
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    out.append({kv.key: kv.value.string_value for kv in span.attributes})
    return out


def test_rel_r09_one_mib_attribute_is_cut_to_the_limit(faulty, fast_export):
    with pipeline(endpoint=faulty.http_endpoint, attribute_value_max_length=1000,
                  metrics_exporter="none"):
        span = start_span("big", SpanKind.INTERNAL, {"content": "x" * MIB})
        span.end()
        event_logger().emit(event_name="aiobs.test.big", attributes={"content": "y" * MIB})
        assert providers.force_flush(timeout_s=5)
    [attributes] = _exported_attributes(faulty)
    assert len(attributes["content"]) == 1000
    [log_request] = [r for s, _, r in faulty.requests if s == "logs"]
    [record] = log_request.resource_logs[0].scope_logs[0].log_records
    assert len(record.attributes[0].value.string_value) == 1000


def test_rel_r09_big_values_with_collector_down_do_not_balloon_memory(faulty, fast_export):
    faulty.down()
    with pipeline(endpoint=faulty.http_endpoint, metrics_exporter="none", logs_exporter="none"):
        payload = "p" * MIB
        for _ in range(300):  # warm-up: the 256-span queue fills
            start_span("big", SpanKind.INTERNAL, {"content": payload}).end()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(800):
            start_span("big", SpanKind.INTERNAL, {"content": payload}).end()
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    # Bounded: 256 queued spans x 16 KiB (the default limit) plus batches in flight and not yet
    # collected garbage stay in the tens of MiB; unbounded 1 MiB values would be >= 256 MiB.
    assert grown < 64 * MIB, grown


def test_rel_r10_metric_cardinality_is_capped_and_totals_stay_exact(faulty, fast_export):
    with pipeline(endpoint=faulty.http_endpoint, traces_exporter="none", logs_exporter="none",
                  metric_cardinality_limit=100):
        counter = meter().create_counter("aiobs.test.cardinality")
        for i in range(5_000):
            counter.add(1, {"user.id": f"user-{i}"})
        assert providers.force_flush(timeout_s=5)
        assert wait_until(lambda: faulty.items("metrics") > 0)
    points = []
    for signal, _, request in faulty.requests:
        if signal != "metrics":
            continue
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == "aiobs.test.cardinality":
                        points.extend(metric.sum.data_points)
    last = points[-101:] if len(points) > 101 else points
    assert len(last) <= 101
    assert sum(p.as_int for p in last) == 5_000
    assert any(kv.key == "otel.metric.overflow" for p in last for kv in p.attributes)


def test_rel_r10_every_metric_reader_gets_the_cardinality_limit():
    from aiobs_otel.config import load_settings

    readers = providers.metric_readers(load_settings(metric_cardinality_limit=7,
                                                     prometheus_port=0))
    try:
        assert len(readers) == 2
        for reader in readers:
            assert set(reader._instrument_class_cardinality_limit.values()) == {7}
    finally:
        for reader in readers:
            reader.shutdown()
