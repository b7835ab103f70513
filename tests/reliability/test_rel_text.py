"""R25: hostile text never breaks export; lone surrogates are replaced, not dropped."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.trace import SpanKind
from rel_support import pipeline

from aiobs_otel._core import errors
from aiobs_otel._core.otel import event_logger
from aiobs_otel._core.wrapping import start_span
from aiobs_otel.setup import accounting, providers
from aiobs_otel.setup.sink import signal_files

HOSTILE = {
    "crlf": "line1\r\nline2\nFAKE LOG LINE level=ERROR",
    "ansi": "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "nul": "a\x00b\x00",
    "format": "%s %d %(name)s {0} {name} ${jndi:ldap://x}",
    "rtl": "abc\u202edcba",
    "surrogate": "lone \ud800 high and \udfff low",
    "big_line": "z" * (1024 * 1024),
}


def _emit_hostile() -> None:
    start_span("hostile", SpanKind.INTERNAL, dict(HOSTILE)).end()
    event_logger().emit(event_name="aiobs.test.hostile", body=HOSTILE["surrogate"],
                        attributes=dict(HOSTILE))


def test_rel_r25_hostile_text_exports_over_otlp(faulty, fast_export, caplog):
    caplog.set_level(logging.WARNING)
    with pipeline(endpoint=faulty.http_endpoint, metrics_exporter="none",
                  attribute_value_max_length=2 * 1024 * 1024):
        _emit_hostile()
        assert providers.force_flush(timeout_s=5)
    [span] = [s for sig, _, r in faulty.requests if sig == "traces"
              for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    values = {kv.key: kv.value.string_value for kv in span.attributes}
    assert set(values) == set(HOSTILE), "an attribute was dropped at encode"
    for key, value in HOSTILE.items():
        if key != "surrogate":
            assert values[key] == value
    assert values["surrogate"] == "lone \ufffd high and \ufffd low"
    [record] = [lr for sig, _, r in faulty.requests if sig == "logs"
                for rl in r.resource_logs for sl in rl.scope_logs for lr in sl.log_records]
    assert record.body.string_value == "lone \ufffd high and \ufffd low"
    assert len(record.attributes) == len(HOSTILE)
    assert not [r for r in caplog.records if "encode" in r.getMessage().lower()]
    assert accounting.dropped_counts() == {}


def test_rel_r25_hostile_text_in_the_local_sink_is_one_json_line_per_batch(tmp_path):
    with pipeline(sink_dir=tmp_path, metrics_exporter="none"):
        _emit_hostile()
        assert providers.force_flush(timeout_s=5)
    for signal in ("traces", "logs"):
        [path] = signal_files(tmp_path, signal)
        lines = path.read_text("utf-8").splitlines()
        assert len(lines) == 1
        json.loads(lines[0])


@pytest.mark.parametrize("text", list(HOSTILE.values())[:6], ids=list(HOSTILE)[:6])
def test_rel_r25_internal_diagnostics_never_evaluate_or_inject(text, caplog):
    caplog.set_level(logging.WARNING, logger="aiobs_otel")
    from aiobs_otel.testing import capture

    with capture(strict=False):
        errors.report("rel.hostile", ValueError(text))
    [record] = caplog.records
    message = record.getMessage()
    assert "\n" not in message and "\r" not in message and "\x1b" not in message
    assert "\x00" not in message
