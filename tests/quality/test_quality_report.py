"""The report section reads quality metrics, alerts and evaluations back from the local sink."""

from __future__ import annotations

import numpy as np

import aiobs_otel as aiobs
from aiobs_otel.cli import report, sinkdata
from aiobs_otel.cli.sections import quality as section


def test_report_section_from_the_local_sink(fresh_state, tmp_path):
    sink = tmp_path / "sink"
    aiobs.configure(service_name="quality-report", sink_dir=sink)
    rng = np.random.default_rng(0)
    monitor = aiobs.QualityMonitor("fraud", window_size=400, alert_after=1, baseline_windows=1)
    for accuracy in (0.95, 0.95, 0.5):
        y_true = rng.integers(0, 2, 400)
        y_pred = np.where(rng.random(400) < accuracy, y_true, 1 - y_true)
        monitor.record(y_true, y_pred, scores=rng.random(400),
                       segments={"region": np.full(400, "eu")})
    aiobs.record_evaluation("groundedness", score=0.2, label="hallucinated", model="m1")
    aiobs.record_evaluation("groundedness", score=0.9, label="grounded", model="m1")
    aiobs.force_flush()
    aiobs.shutdown()
    data = sinkdata.load(sink)
    lines = section.render(data)
    text = "\n".join(lines)
    assert "region=eu" in text and "(all)" in text and "accuracy" in text
    assert "degraded" in text and "hallucinated" in text and "50.0%" in text
    assert section.TITLE in report.render(data)


def test_report_section_is_empty_without_quality_data(tmp_path):
    assert section.render(sinkdata.SinkData(tmp_path)) == []
