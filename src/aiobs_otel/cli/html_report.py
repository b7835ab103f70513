"""``aiobs-otel report --html FILE``: the embedded sink as one self-contained page of charts.

>>> from aiobs_otel.cli import html_report, sinkdata
>>> html_report.write(sinkdata.load(".aiobs"), Path("report.html"))  # doctest: +SKIP

Everything is inline (CSS and SVG; no script, no font or image fetched), so the file opens
anywhere, offline. A section appears only when the sink holds data for it: LLM calls (latency
and cost over time by model, token mix, errors), training (loss and step-time curves with
anomalies), GPUs (utilisation and memory timelines), data pipelines and drift (scores per feature,
stage records and failures) and model quality (metrics by segment).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from .. import __version__, semconv
from ._svg import Chart, Marker, Series, bar_chart, fmt_number, line_chart
from .sinkdata import MetricPoint, SinkData, SpanRecord

_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})


def _name(constant: str) -> str | None:
    """A telemetry name from semconv (None while an area has not defined it)."""
    value = getattr(semconv, constant, None)
    return value if isinstance(value, str) else None


@dataclass
class Section:
    key: str
    title: str
    charts: list[Chart] = field(default_factory=list)
    stats: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    notes: list[str] = field(default_factory=list)


# --- helpers over the sink -------------------------------------------------------------------


def _series_over_time(data: SinkData, metric: str | None,
                      key: Callable[[MetricPoint], str]) -> dict[str, list[tuple[float, float]]]:
    """Gauge or sum points of ``metric`` as (unix seconds, value) per series label."""
    found: dict[str, list[tuple[float, float]]] = defaultdict(list)
    if metric is None:
        return found
    for point in data.metrics:
        if point.name == metric and point.value is not None and point.time_ns:
            found[key(point)].append((point.time_ns / 1e9, float(point.value)))
    return found


def _latest_by(data: SinkData, metric: str | None,
               key: Callable[[MetricPoint], str]) -> dict[str, float]:
    if metric is None:
        return {}
    latest: dict[str, tuple[int, float]] = {}
    for point in data.metrics:
        if point.name != metric or point.value is None:
            continue
        label = key(point)
        if label not in latest or point.time_ns >= latest[label][0]:
            latest[label] = (point.time_ns, float(point.value))
    return {label: value for label, (_, value) in latest.items()}


def _counter_totals(data: SinkData, metric: str | None,
                    key: Callable[[MetricPoint], str]) -> dict[str, float]:
    """Totals of a counter per label: latest cumulative value per stream (or sum of deltas)."""
    if metric is None:
        return {}
    totals: dict[str, float] = defaultdict(float)
    points = [p for p in data.metrics if p.name == metric]
    if points and not points[0].cumulative:
        for p in points:
            totals[key(p)] += float(p.value or p.count or 0)
        return dict(totals)
    for p in data.latest_points(metric):
        totals[key(p)] += float(p.value if p.value is not None else p.count)
    return dict(totals)


def _attr(point: MetricPoint | SpanRecord, *keys: str | None, default: str = "") -> str:
    for key in keys:
        if key is not None:
            value = point.attributes.get(key)
            if value not in (None, ""):
                return str(value)
    return default


def _llm_spans(data: SinkData) -> list[SpanRecord]:
    op_key = _name("GEN_AI_OPERATION_NAME")
    if op_key is None:
        return []
    return [s for s in data.spans if str(s.attributes.get(op_key, "")) in _LLM_OPERATIONS]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number


# --- sections ----------------------------------------------------------------------------------


def llm_section(data: SinkData) -> Section | None:
    spans = _llm_spans(data)
    if not spans:
        return None
    model_keys = (_name("GEN_AI_REQUEST_MODEL"), _name("GEN_AI_RESPONSE_MODEL"))
    cost_key = _name("AIOBS_GENAI_COST")
    error_key = _name("ERROR_TYPE")
    latency: dict[str, list[tuple[float, float]]] = defaultdict(list)
    cost_points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    tokens: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    errors: dict[str, int] = defaultdict(int)
    token_kinds = [
        ("input", _name("GEN_AI_USAGE_INPUT_TOKENS")),
        ("output", _name("GEN_AI_USAGE_OUTPUT_TOKENS")),
        ("cache read", _name("GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS")),
        ("reasoning", _name("GEN_AI_USAGE_REASONING_OUTPUT_TOKENS")),
    ]
    total_cost = 0.0
    for span in sorted(spans, key=lambda s: s.start_ns):
        model = _attr(span, *model_keys, default="(unknown model)")
        started = span.start_ns / 1e9
        latency[model].append((started, span.duration_s))
        if cost_key is not None:
            cost = _number(span.attributes.get(cost_key))
            if cost is not None:
                total_cost += cost
                running = cost_points[model][-1][1] if cost_points[model] else 0.0
                cost_points[model].append((span.end_ns / 1e9, running + cost))
        for label, key in token_kinds:
            if key is not None:
                count = _number(span.attributes.get(key))
                if count:
                    tokens[model][label] += count
        if span.is_error:
            errors[_attr(span, error_key, default="error")] += 1
    models = sorted(latency)
    section = Section("llm", "LLM calls")
    durations = sorted(d for points in latency.values() for _, d in points)
    p95 = durations[min(len(durations) - 1, math.ceil(0.95 * len(durations)) - 1)]
    all_tokens = sum(sum(kinds.values()) for kinds in tokens.values())
    section.stats = [
        ("calls", f"{len(spans)}"),
        ("models", f"{len(models)}"),
        ("p95 latency", fmt_number(p95, "s")),
        ("tokens", fmt_number(all_tokens)),
        ("errors", f"{sum(errors.values())} ({100.0 * sum(errors.values()) / len(spans):.0f}%)"),
    ]
    if cost_points:
        section.stats.insert(4, ("cost", fmt_number(total_cost, "$")))
    charts = [
        line_chart("Latency by model", [Series(m, latency[m]) for m in models], x_time=True,
                   y_unit="s", show_points=True, note="one dot per call", y_min=0),
        line_chart("Cumulative cost by model", [Series(m, cost_points[m]) for m in models
                                                if m in cost_points], x_time=True, y_unit="$"),
    ]
    kinds_present = [label for label, _ in token_kinds
                     if any(tokens[m].get(label) for m in tokens)]
    if kinds_present:
        token_models = sorted(tokens)
        charts.append(bar_chart("Token mix by model", token_models,
                                [(kind, [tokens[m].get(kind, 0.0) for m in token_models])
                                 for kind in kinds_present], stacked=True, unit="tokens"))
    if errors:
        names = sorted(errors, key=lambda e: (-errors[e], e))
        charts.append(bar_chart("Errors by error.type", names,
                                [("calls", [float(errors[e]) for e in names])],
                                colors=["#e15759"]))
    ttfc_key = _name("GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK")
    first_chunk: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for span in spans:
        value = _number(span.attributes.get(ttfc_key)) if ttfc_key else None
        if value is not None:
            first_chunk[_attr(span, *model_keys, default="(unknown model)")].append(
                (span.start_ns / 1e9, value))
    if first_chunk:
        charts.append(line_chart("Time to first chunk (streaming)",
                                 [Series(m, p) for m, p in sorted(first_chunk.items())],
                                 x_time=True, y_unit="s", show_points=True, y_min=0))
    charts.append(_tools_chart(data))
    section.charts = [c for c in charts if c is not None]
    return section


def _tools_chart(data: SinkData) -> Chart | None:
    op_key, tool_key = _name("GEN_AI_OPERATION_NAME"), _name("GEN_AI_TOOL_NAME")
    tool_op = _name("GEN_AI_OP_EXECUTE_TOOL")
    durations: dict[str, list[float]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for span in data.spans:
        if op_key and tool_op and span.attributes.get(op_key) == tool_op:
            name = _attr(span, tool_key, default=span.name)
            durations[name].append(span.duration_s)
            failed[name] += int(span.is_error)
    if not durations:
        return None
    names = sorted(durations, key=lambda n: (-len(durations[n]), n))[:12]
    return bar_chart("Tool calls", names,
                     [("ok", [float(len(durations[n]) - failed[n]) for n in names]),
                      ("failed", [float(failed[n]) for n in names])],
                     stacked=True, colors=["#59a14f", "#e15759"],
                     note="mean " + ", ".join(
                         f"{n} {fmt_number(sum(durations[n]) / len(durations[n]), 's')}"
                         for n in names[:3]))


def training_section(data: SinkData) -> Section | None:
    step_span = _name("TRAINING_STEP_SPAN")
    step_key, loss_key = _name("TRAINING_STEP"), _name("TRAINING_LOSS_ATTR")
    duration_key, wait_key = _name("TRAINING_STEP_DURATION_ATTR"), _name("TRAINING_DATA_WAIT_ATTR")
    run_span, run_name_key = _name("TRAINING_RUN_SPAN"), _name("TRAINING_RUN_NAME")
    anomaly_event, kind_key = _name("TRAINING_ANOMALY_EVENT"), _name("TRAINING_ANOMALY_KIND")
    if step_span is None:
        return None
    steps = [s for s in data.spans if s.name == step_span or s.name.startswith(f"{step_span} ")]
    run_names = {s.trace_id: _attr(s, run_name_key, default="run") for s in data.spans
                 if run_span and (s.name == run_span or s.name.startswith(f"{run_span} "))}
    loss: dict[str, list[tuple[float, float]]] = defaultdict(list)
    step_time: dict[str, list[tuple[float, float]]] = defaultdict(list)
    data_wait: dict[str, list[tuple[float, float]]] = defaultdict(list)
    markers: list[Marker] = []
    rank_key = _name("RESOURCE_RANK")
    for index, span in enumerate(sorted(steps, key=lambda s: s.start_ns)):
        run = run_names.get(span.trace_id) or _attr(span, run_name_key, default="run")
        rank = span.resource.get(rank_key) if rank_key else None
        label = run if rank is None else f"{run} rank {rank}"
        step = _number(span.attributes.get(step_key)) if step_key else None
        x = step if step is not None else float(index)
        value = _number(span.attributes.get(loss_key)) if loss_key else None
        if value is not None and math.isfinite(value):
            loss[label].append((x, value))
        seconds = _number(span.attributes.get(duration_key)) if duration_key else None
        step_time[label].append((x, seconds if seconds is not None else span.duration_s))
        waited = _number(span.attributes.get(wait_key)) if wait_key else None
        if waited is not None:
            data_wait[label].append((x, waited))
        for event in span.events:
            if anomaly_event and event.get("name") == anomaly_event:
                kind = str(event.get("attributes", {}).get(kind_key, "anomaly"))
                markers.append(Marker(x, f"{kind} at step {x:g}"))
    x_label = "step"
    if not steps:  # no step spans (sampled out or disabled): fall back to the loss gauge
        loss = _series_over_time(data, _name("TRAINING_LOSS"), lambda p: "loss")
        x_label = ""
        if not loss:
            return None
    section = Section("training", "Training")
    anomalies = _counter_totals(data, _name("TRAINING_ANOMALIES"),
                                lambda p: _attr(p, kind_key, _name("TRAINING_ANOMALY_KIND_SHORT"),
                                                default="anomaly"))
    if not anomalies and markers:
        for marker in markers:
            kind = marker.label.split(" at ")[0]
            anomalies[kind] = anomalies.get(kind, 0) + 1
    all_losses = [v for points in loss.values() for _, v in points]
    section.stats = [("steps", f"{len(steps)}"), ("runs", f"{max(1, len(run_names))}")]
    if all_losses:
        section.stats.append(("last loss", fmt_number(all_losses[-1])))
    if step_time:
        times = sorted(v for points in step_time.values() for _, v in points)
        section.stats.append(("median step", fmt_number(times[len(times) // 2], "s")))
    section.stats.append(("anomalies", f"{int(sum(anomalies.values()))}"))
    time_series = [Series(f"{label} step", points) for label, points in sorted(step_time.items())]
    time_series += [Series(f"{label} data wait", points)
                    for label, points in sorted(data_wait.items())]
    charts = [
        line_chart("Loss", [Series(label, points) for label, points in sorted(loss.items())],
                   x_time=not steps, x_label=x_label, markers=markers[:20],
                   note=(f"{len(markers)} anomal{'y' if len(markers) == 1 else 'ies'} marked"
                         if markers else "")),
        line_chart("Step time and data wait", time_series, x_label="step", y_unit="s"),
    ]
    if anomalies:
        kinds = sorted(anomalies, key=lambda k: (-anomalies[k], k))
        charts.append(bar_chart("Anomalies by kind", kinds,
                                [("anomalies", [anomalies[k] for k in kinds])],
                                colors=["#e15759"]))
    section.charts = [c for c in charts if c is not None]
    return section


def gpu_section(data: SinkData) -> Section | None:
    util_metric = _name("HW_GPU_UTILIZATION") or _name("GPU_UTILIZATION")
    memory_metric = _name("HW_GPU_MEMORY_USAGE") or _name("GPU_MEMORY_USAGE")
    index_key, id_key = _name("GPU_INDEX"), _name("HW_ID")

    def gpu_label(point: MetricPoint) -> str:
        index = _attr(point, index_key)
        if index:
            return f"GPU {index}"
        return _attr(point, id_key, default="GPU")

    utilisation = _series_over_time(data, util_metric, gpu_label)
    if not utilisation:
        return None
    scaled = {}
    for gpu, points in utilisation.items():  # stored as a 0-1 ratio; shown as percent
        factor = 100.0 if max(v for _, v in points) <= 1.0 else 1.0
        scaled[gpu] = [(t, v * factor) for t, v in points]
    section = Section("gpu", "GPUs")
    means = [sum(v for _, v in pts) / len(pts) for pts in scaled.values()]
    section.stats = [("GPUs", f"{len(scaled)}"),
                     ("mean utilisation", f"{sum(means) / len(means):.0f}%")]
    charts = [line_chart("GPU utilisation", [Series(g, p) for g, p in sorted(scaled.items())],
                         x_time=True, y_unit="%", y_min=0, y_max=100)]
    memory = _series_over_time(data, memory_metric, gpu_label)
    if memory:
        charts.append(line_chart("GPU memory used",
                                 [Series(g, [(t, v / 2**30) for t, v in p])
                                  for g, p in sorted(memory.items())],
                                 x_time=True, y_unit="GiB"))
    section.charts = [c for c in charts if c is not None]
    return section


_STATUS_COLORS = ("#76b7b2", "#edc948", "#e15759")  # ok, warn, drift


def drift_section(data: SinkData) -> Section | None:
    score_metric, status_metric = _name("DRIFT_SCORE"), _name("DRIFT_STATUS")
    feature_key, method_key = _name("DRIFT_FEATURE"), _name("DRIFT_METHOD")
    stage_key = _name("DATA_STAGE")
    codes = getattr(semconv, "DRIFT_STATUS_CODES", {"ok": 0, "warn": 1, "drift": 2})

    def feature(point: MetricPoint) -> str:
        return _attr(point, feature_key, default="feature")

    section = Section("data", "Data pipelines and drift")
    charts: list[Chart | None] = []
    methods = {_attr(p, method_key) for p in data.metrics if p.name == score_metric}
    # One method per chart (a monitor scores each feature with several): PSI when present.
    method = "psi" if "psi" in methods else min(methods, default="")
    scores = SinkData(data.directory, metrics=[
        p for p in data.metrics if p.name == score_metric and _attr(p, method_key) == method])
    latest = _latest_by(scores, score_metric, feature)
    if latest:
        features = sorted(latest, key=lambda f: (-latest[f], f))
        status = _latest_by(data, status_metric, feature)
        drift_code, warn_code = codes.get("drift", 2), codes.get("warn", 1)
        drifting = [f for f in features if status.get(f) == drift_code]
        section.stats += [("features", f"{len(features)}"), ("drifting", f"{len(drifting)}")]
        by_status = [("ok", [latest[f] if status.get(f) not in (warn_code, drift_code) else 0.0
                             for f in features]),
                     ("warn", [latest[f] if status.get(f) == warn_code else 0.0
                               for f in features]),
                     ("drift", [latest[f] if status.get(f) == drift_code else 0.0
                                for f in features])]
        charts.append(bar_chart(
            f"Drift score per feature{f' ({method})' if method else ''}", features,
            [s for s in by_status if any(s[1])], stacked=True,
            colors=[c for (_, values), c in zip(by_status, _STATUS_COLORS, strict=True)
                    if any(values)]))
        over_time = _series_over_time(scores, score_metric, feature)
        if any(len(points) > 1 for points in over_time.values()):
            charts.append(line_chart("Drift score over time",
                                     [Series(f, p) for f, p in sorted(over_time.items())],
                                     x_time=True))

    def stage(point: MetricPoint) -> str:
        return _attr(point, stage_key, default="stage")

    records_in = _counter_totals(data, _name("DATA_RECORDS_IN"), stage)
    records_out = _counter_totals(data, _name("DATA_RECORDS_OUT"), stage)
    dropped = _counter_totals(data, _name("DATA_RECORDS_DROPPED"), stage)
    stages = sorted(set(records_in) | set(records_out) | set(dropped))
    if stages:
        section.stats.append(("records in", fmt_number(sum(records_in.values()))))
        charts.append(bar_chart("Records per stage", stages, [
            ("in", [records_in.get(s, 0.0) for s in stages]),
            ("out", [records_out.get(s, 0.0) for s in stages]),
            ("dropped", [dropped.get(s, 0.0) for s in stages]),
        ], colors=["#4e79a7", "#59a14f", "#f28e2b"]))
    stage_span = _name("SPAN_PIPELINE_STAGE")
    if stage_span:
        failures: dict[str, int] = defaultdict(int)
        runs: dict[str, int] = defaultdict(int)
        for span in data.spans:
            if span.name == stage_span or span.name.startswith(f"{stage_span} "):
                name = _attr(span, stage_key, default=span.name)
                runs[name] += 1
                failures[name] += int(span.is_error)
        if runs:
            names = sorted(runs)
            section.stats.append(("stage failures", f"{sum(failures.values())}"))
            charts.append(bar_chart("Stage runs", names,
                                    [("ok", [float(runs[n] - failures[n]) for n in names]),
                                     ("failed", [float(failures[n]) for n in names])],
                                    stacked=True, colors=["#59a14f", "#e15759"]))
    null_rates = _latest_by(data, _name("DATA_NULL_RATE"),
                            lambda p: _attr(p, _name("DATA_COLUMN"), default="column"))
    if any(null_rates.values()):
        columns = sorted(null_rates, key=lambda c: (-null_rates[c], c))[:15]
        charts.append(bar_chart("Null rate per column", columns,
                                [("null rate", [100.0 * null_rates[c] for c in columns])],
                                unit="%", colors=["#b07aa1"]))
    section.charts = [c for c in charts if c is not None]
    return section if section.charts else None


_QUALITY_METRICS = (("accuracy", "MODEL_ACCURACY"), ("F1", "MODEL_F1"), ("AUC", "MODEL_AUC"))
_ERROR_METRICS = (("MAE", "MODEL_MAE"), ("RMSE", "MODEL_RMSE"))


def quality_section(data: SinkData) -> Section | None:
    seg_key, seg_value = _name("MODEL_SEGMENT_KEY"), _name("MODEL_SEGMENT_VALUE")
    model_key = _name("MODEL_NAME")

    def segment(point: MetricPoint) -> str:
        key, value = _attr(point, seg_key), _attr(point, seg_value)
        return f"{key}={value}" if key else "all"

    def pick(metrics: tuple[tuple[str, str], ...]) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = {}
        for label, constant in metrics:
            values = _latest_by(data, _name(constant), segment)
            if values:
                found[label] = values
        return found

    values = pick(_QUALITY_METRICS)
    unit = ""
    if not values:
        values = pick(_ERROR_METRICS)
    if not values:
        return None
    segments = sorted({s for per in values.values() for s in per},
                      key=lambda s: (s != "all", s))
    section = Section("quality", "Model quality")
    models = sorted({_attr(p, model_key) for p in data.metrics
                     if model_key and _attr(p, model_key)})
    section.stats = [("models", f"{len(models) or 1}"), ("segments", f"{len(segments)}")]
    first = next(iter(values))
    if "all" in values[first]:
        section.stats.append((first, fmt_number(values[first]["all"], unit)))
    degraded = _latest_by(data, _name("MODEL_DEGRADED"), segment)
    section.stats.append(("degraded", f"{sum(1 for v in degraded.values() if v >= 1)}"))
    charts: list[Chart | None] = [bar_chart(
        "Quality by segment", segments,
        [(label, [per.get(s, 0.0) for s in segments]) for label, per in values.items()])]
    trend_metric = _name(dict(_QUALITY_METRICS + _ERROR_METRICS).get(first, ""))
    over_time = _series_over_time(data, trend_metric, segment)
    if any(len(points) > 1 for points in over_time.values()):
        charts.append(line_chart(f"{first} over time by segment",
                                 [Series(k, p) for k, p in sorted(over_time.items())][:10],
                                 x_time=True))
    calibration = _latest_by(data, _name("MODEL_CALIBRATION_ERROR"), segment)
    if calibration:
        names = [s for s in segments if s in calibration]
        charts.append(bar_chart("Calibration error by segment", names,
                                [("ECE", [calibration[s] for s in names])],
                                colors=["#9c755f"]))
    section.charts = [c for c in charts if c is not None]
    return section if section.charts else None


SECTIONS: list[Callable[[SinkData], Section | None]] = [
    llm_section, training_section, gpu_section, drift_section, quality_section,
]


def sections(data: SinkData) -> list[Section]:
    """The sections that have data; a section that fails is replaced by a note, not dropped."""
    found = []
    for build in SECTIONS:
        try:
            section = build(data)
        except Exception as exc:  # one broken section must not hide the others
            section = Section(build.__name__, build.__name__.replace("_section", "").title(),
                              notes=[f"This section could not be drawn: {exc!r}"])
        if section is not None and (section.charts or section.notes):
            found.append(section)
    return found


# --- the page ----------------------------------------------------------------------------------

_CSS = """
:root{--fg:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--card:#fff;--accent:#4e79a7}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--fg);background:var(--bg)}
header{background:#1f2933;color:#fff;padding:22px 32px}
header h1{margin:0;font-size:22px;font-weight:600}
header p{margin:4px 0 0;color:#cbd2d9}
nav{display:flex;gap:8px;flex-wrap:wrap;margin-top:12px}
nav a{color:#fff;text-decoration:none;background:#323f4b;padding:4px 10px;border-radius:12px;
font-size:13px}
main{padding:8px 32px 40px;max-width:1240px}
@media (max-width:640px){main{padding:8px 10px 30px}header{padding:16px}}
section{margin-top:24px}
h2{font-size:18px;margin:0 0 10px;font-weight:600}
.stats{display:flex;gap:10px;flex-wrap:wrap;margin-bottom:12px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 14px;
min-width:110px}
.stat b{display:block;font-size:19px;font-weight:600}
.stat span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(560px,100%),1fr));
gap:14px}
figure.chart{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:12px 12px 8px}
figure.chart figcaption{font-weight:600;margin:0 0 6px 4px}
figure.chart figcaption small{font-weight:400;color:var(--muted);margin-left:6px}
.chart-svg{display:block;max-width:100%;height:auto}
.chart-svg .grid{stroke:var(--line);stroke-width:1}
.chart-svg .tick,.chart-svg .cat,.chart-svg .value,.chart-svg .axis-label{font-size:11px;
fill:var(--muted);font-family:inherit}
.chart-svg .cat{fill:var(--fg)}
.chart-svg .line{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
.chart-svg .marker{stroke-width:1.5;stroke-dasharray:4 3}
.chart-svg .threshold{stroke:#e15759;stroke-width:2;stroke-dasharray:5 3}
.chart-svg .bar:hover,.chart-svg .dot:hover{opacity:.75}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:4px 6px 2px;font-size:12px;
color:var(--muted)}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;
vertical-align:-1px}
.note{color:var(--muted)}
.empty{background:var(--card);border:1px dashed var(--line);border-radius:8px;padding:18px}
details{margin-top:28px}
summary{cursor:pointer;font-weight:600}
pre{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px;
overflow:auto;font-size:12px}
"""


def _figure(chart: Chart, index: int) -> str:
    legend = ""
    if chart.legend:
        legend = '<div class="legend">' + "".join(
            f'<span><i style="background:{escape(c)}"></i>{escape(name)}</span>'
            for name, c in chart.legend) + "</div>"
    note = f"<small>{escape(chart.note)}</small>" if chart.note else ""
    return (f'<figure class="chart" id="chart-{index}" data-title="{escape(chart.title)}">'
            f"<figcaption>{escape(chart.title)}{note}</figcaption>{chart.svg}{legend}</figure>")


def render(data: SinkData, title: str = "aiobs-otel report") -> str:
    """The whole page as one HTML string."""
    found = sections(data)
    generated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    services = sorted({str(s.resource.get(semconv.SERVICE_NAME)) for s in data.spans
                       if s.resource.get(semconv.SERVICE_NAME)})
    subtitle = (f"{len(data.spans)} spans · {len(data.metrics)} metric points · "
                f"{len(data.logs)} events"
                f"{' · service ' + ', '.join(services) if services else ''} · "
                f"generated {generated} from {data.directory}")
    body: list[str] = []
    chart_index = 0
    for section in found:
        stats = "".join(f'<div class="stat"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
                        for k, v in section.stats)
        figures = []
        for chart in section.charts:
            figures.append(_figure(chart, chart_index))
            chart_index += 1
        notes = "".join(f'<p class="note">{escape(n)}</p>' for n in section.notes)
        body.append(f'<section id="{escape(section.key)}"><h2>{escape(section.title)}</h2>'
                    f'<div class="stats">{stats}</div>{notes}'
                    f'<div class="charts">{"".join(figures)}</div></section>')
    if not found:
        body.append('<section><div class="empty">No LLM, training, GPU, data or quality '
                    "telemetry in this directory yet. Run your instrumented code (or "
                    "<code>aiobs-otel demo</code>), then build the report again.</div></section>")
    nav = "".join(f'<a href="#{escape(s.key)}">{escape(s.title)}</a>' for s in found)
    from .report import render as render_text

    details = (f"<details><summary>Terminal summary</summary><pre>"
               f"{escape(render_text(data))}</pre></details>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p><nav>{nav}</nav></header>"
        f"<main>{''.join(body)}{details}"
        f'<p class="note">aiobs-otel {escape(__version__)}</p></main></body></html>\n'
    )


def write(data: SinkData, path: Path) -> None:
    """Write the report for ``data`` to ``path`` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")


def chart_titles(data: SinkData) -> list[str]:
    """Titles of the charts the report would draw (for tests and the demo's summary)."""
    return [chart.title for section in sections(data) for chart in section.charts]
