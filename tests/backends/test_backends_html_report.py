"""The HTML report: one self-contained page, opened in real headless Chromium."""

from __future__ import annotations

import math
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aiobs_otel import semconv
from aiobs_otel.cli import html_report
from aiobs_otel.cli.sinkdata import MetricPoint, SinkData, SpanRecord

T0 = 1_764_600_000 * 10**9  # a fixed wall-clock start, in ns
RESOURCE = {semconv.SERVICE_NAME: "report-test"}


def _sc(name: str) -> str | None:
    value = getattr(semconv, name, None)
    return value if isinstance(value, str) else None


def _span(name: str, start_s: float, duration_s: float, attributes: dict, *, trace: str = "t1",
          error: bool = False, events: list | None = None) -> SpanRecord:
    start = T0 + int(start_s * 1e9)
    return SpanRecord(name=name, trace_id=trace, span_id=f"{random.getrandbits(64):016x}",
                      parent_span_id="", kind=3, start_ns=start,
                      end_ns=start + int(duration_s * 1e9), status_code=2 if error else 0,
                      attributes=attributes, resource=RESOURCE, events=events or [])


def _gauge(name: str, at_s: float, value: float, attributes: dict) -> MetricPoint:
    return MetricPoint(name=name, kind="gauge", unit="1", attributes=attributes,
                       resource=RESOURCE, time_ns=T0 + int(at_s * 1e9), value=value)


def sample_data(tmp_path: Path) -> SinkData:
    """A sink as the areas write it: LLM spans, training steps, GPU, drift and quality points."""
    rng = random.Random(7)
    data = SinkData(tmp_path)
    for i in range(40):
        model = ("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku")[i % 3]
        error = i in (5, 17, 30)
        attrs = {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: model,
                 semconv.GEN_AI_USAGE_INPUT_TOKENS: 200 + 10 * i,
                 semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 50 + 3 * i,
                 semconv.AIOBS_GENAI_COST: 0.0004 * (1 + i % 3)}
        if error:
            attrs[semconv.ERROR_TYPE] = "RateLimitError" if i != 30 else "APITimeoutError"
        data.spans.append(_span(f"chat {model}", i * 1.5, 0.2 + rng.random() * (i % 3 + 1) * 0.3,
                                attrs, error=error))
    run = _sc("TRAINING_RUN_SPAN")
    if run:
        data.spans.append(_span(f"{run} demo", 0, 60, {semconv.TRAINING_RUN_NAME: "demo"},
                                trace="run"))
        for step in range(60):
            loss = 2.5 * math.exp(-step / 20) + 0.05 * rng.random()
            events = []
            if step == 42:
                events = [{"name": semconv.TRAINING_ANOMALY_EVENT,
                           "attributes": {semconv.TRAINING_ANOMALY_KIND: "loss_spike"}}]
                loss *= 3
            data.spans.append(_span(semconv.TRAINING_STEP_SPAN, step, 0.05, {
                semconv.TRAINING_STEP: step, semconv.TRAINING_LOSS_ATTR: loss,
                semconv.TRAINING_STEP_DURATION_ATTR: 0.05 + 0.01 * rng.random(),
                semconv.TRAINING_DATA_WAIT_ATTR: 0.01 * rng.random(),
            }, trace="run", events=events))
    gpu_metric = _sc("HW_GPU_UTILIZATION") or _sc("GPU_UTILIZATION")
    if gpu_metric:
        id_key = _sc("HW_ID") or "gpu"
        for t in range(30):
            for gpu in range(2):
                data.metrics.append(_gauge(gpu_metric, t * 2, 0.5 + 0.4 * math.sin(t / 4 + gpu),
                                           {id_key: f"GPU-{gpu}"}))
    for t in range(3):
        for name, score, status in (("age", 0.05, 0), ("income", 0.31, 2), ("country", 0.14, 1)):
            attrs = {semconv.DRIFT_FEATURE: name, semconv.DRIFT_METHOD: "psi"}
            data.metrics.append(_gauge(semconv.DRIFT_SCORE, t * 20, score * (t + 1) / 3, attrs))
            data.metrics.append(_gauge(semconv.DRIFT_STATUS, t * 20, status, attrs))
    for stage, n_in, n_out in (("load", 1000, 1000), ("clean", 1000, 940), ("features", 940, 940)):
        for metric, value in ((semconv.DATA_RECORDS_IN, n_in), (semconv.DATA_RECORDS_OUT, n_out),
                              (semconv.DATA_RECORDS_DROPPED, n_in - n_out)):
            data.metrics.append(MetricPoint(name=metric, kind="sum", unit="{record}",
                                            attributes={semconv.DATA_STAGE: stage},
                                            resource=RESOURCE, time_ns=T0, value=value,
                                            monotonic=True))
        data.spans.append(_span(f"{semconv.SPAN_PIPELINE_STAGE} {stage}", 0, 0.3,
                                {semconv.DATA_STAGE: stage}, error=stage == "features"))
    for window in range(4):
        for segment, accuracy in ((None, 0.88), ("mobile", 0.81), ("web", 0.9)):
            attrs = {semconv.MODEL_NAME: "churn"}
            if segment:
                attrs |= {semconv.MODEL_SEGMENT_KEY: "channel",
                          semconv.MODEL_SEGMENT_VALUE: segment}
            for metric, value in ((semconv.MODEL_ACCURACY, accuracy - 0.02 * window),
                                  (semconv.MODEL_F1, accuracy - 0.05 - 0.02 * window)):
                data.metrics.append(_gauge(metric, 10 + window * 10, value, attrs))
    return data


def test_sections_appear_only_with_data(tmp_path: Path) -> None:
    empty = html_report.render(SinkData(tmp_path))
    assert "No LLM, training, GPU, data or quality telemetry" in empty
    assert "<figure" not in empty
    page = html_report.render(sample_data(tmp_path))
    assert page.count("<figure") == len(html_report.chart_titles(sample_data(tmp_path)))
    for title in ("Latency by model", "Cumulative cost by model", "Token mix by model",
                  "Errors by error.type", "Loss", "Step time and data wait",
                  "Drift score per feature (psi)", "Records per stage", "Stage runs",
                  "Quality by segment", "accuracy over time by segment", "GPU utilisation"):
        assert f">{title}<" in page
    # Self-contained: no scripts, links or remote resources of any kind.
    assert not re.search(r"<script|<link|<img|@import|url\(|https?://(?!www\.w3\.org/2000/svg)",
                         page)


def test_cli_writes_the_html_file(tmp_path: Path) -> None:
    sink = tmp_path / "sink"
    sink.mkdir()
    target = tmp_path / "out" / "report.html"
    result = subprocess.run([sys.executable, "-m", "aiobs_otel", "report", str(sink), "--html",
                             str(target)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert target.read_text().startswith("<!DOCTYPE html>")


def check_in_browser(chromium, page: Path, screenshot: Path) -> dict:
    """Open ``page``; assert no console problems and every chart drawn; save a screenshot."""
    chromium.open_page(page.as_uri())
    report = chromium.evaluate("""(() => {
      const figures = [...document.querySelectorAll('figure.chart')];
      return {
        charts: figures.length,
        drawn: figures.filter(f => {
          const svg = f.querySelector('svg');
          if (!svg) return false;
          const box = svg.getBoundingClientRect();
          const marks = [...svg.querySelectorAll('.mark')].filter(m => {
            const b = m.getBBox(); return b.width > 0 || b.height > 0; });
          return box.width > 100 && box.height > 50 && marks.length > 0;
        }).map(f => f.dataset.title),
        titles: figures.map(f => f.dataset.title),
        resources: performance.getEntriesByType('resource').length,
      };
    })()""")
    chromium.screenshot(screenshot)
    assert chromium.console_problems() == []
    assert report["drawn"] == report["titles"], "some charts did not render"
    assert report["resources"] == 0  # nothing fetched
    assert screenshot.stat().st_size > 10_000
    return report


def test_report_renders_in_headless_chromium(tmp_path: Path, chromium) -> None:
    data = sample_data(tmp_path)
    page = tmp_path / "report.html"
    html_report.write(data, page)
    report = check_in_browser(chromium, page, tmp_path / "report.png")
    assert report["charts"] == len(html_report.chart_titles(data)) >= 6
    print(f"screenshot: {tmp_path / 'report.png'}")


@pytest.mark.parametrize("width", [420])
def test_report_fits_a_narrow_window(tmp_path: Path, chromium, width: int) -> None:
    page = tmp_path / "narrow.html"
    html_report.write(sample_data(tmp_path), page)
    chromium.open_page(page.as_uri(), width=width, height=800)
    overflow = chromium.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width + 1
    assert chromium.console_problems() == []


def test_chart_helpers() -> None:
    from aiobs_otel.cli import _svg

    assert _svg.nice_ticks(0, 0.93) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = _svg.nice_ticks(3, 1234)
    assert ticks[0] <= 3 and ticks[-1] >= 1234 and len(ticks) <= 8
    assert _svg.fmt_number(0.25, "s") == "250 ms" and _svg.fmt_number(2.5, "s") == "2.5 s"
    assert _svg.fmt_number(20_100) == "20.1k" and _svg.fmt_number(0.0316, "$") == "$0.0316"
    assert _svg.line_chart("empty", []) is None
    assert _svg.bar_chart("zeros", ["a"], [("v", [0.0])]) is None
    spiky = _svg.line_chart("loss", [_svg.Series("run", [(0, 2.0), (1, 0.5), (2, 900.0)])])
    assert spiky is not None and "log scale" in spiky.note
    flat = _svg.line_chart("loss", [_svg.Series("run", [(0, 2.0), (1, 0.5)])])
    assert flat is not None and "log scale" not in flat.note
    nan = _svg.line_chart("nan", [_svg.Series("run", [(0, float("nan")), (1, 1.0)])])
    assert nan is not None and nan.svg.count('class="dot mark"') == 1


def test_a_broken_section_becomes_a_note(tmp_path: Path, monkeypatch) -> None:
    def broken(data):
        raise RuntimeError("boom")

    monkeypatch.setattr(html_report, "SECTIONS", [broken, *html_report.SECTIONS])
    page = html_report.render(sample_data(tmp_path))
    assert "could not be drawn: RuntimeError(&#x27;boom&#x27;)" in page
    assert ">Latency by model<" in page
