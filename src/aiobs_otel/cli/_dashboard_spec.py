"""Builds the shipped Grafana dashboards from :mod:`aiobs_otel.semconv` (one source of names).

``python -m aiobs_otel.cli._dashboard_spec`` rewrites ``aiobs_otel/data/dashboards/*.json``; a
test checks the shipped files equal what this module builds, and another runs every panel's
PromQL against a real Prometheus scraping an instrumented process.

Grafana variables in the queries: ``$datasource`` (a Prometheus data source), ``$job`` (scrape
job(s); ``All`` by default) and ``$__rate_interval``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import semconv
from . import _promnames

JOB = 'job=~"$job"'
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Metric:
    """One of our metrics, as Prometheus names it."""

    name: str
    unit: str
    kind: str  # counter | gauge | histogram

    def sel(self, matchers: str = "", suffix: str = "") -> str:
        full = ", ".join(m for m in (JOB, matchers) if m)
        if suffix:
            return f"{_promnames.metric(self.name, self.unit, self.kind)}{suffix}{{{full}}}"
        return _promnames.selector(self.name, self.unit, self.kind, full)

    def rate(self, by: str, matchers: str = "", suffix: str = "") -> str:
        if self.kind == "counter":
            return f"sum by ({by}) (rate({self.sel(matchers)}[{RATE}]))"
        return f"sum by ({by}) (rate({self.sel(matchers, suffix or '_count')}[{RATE}]))"

    def quantile(self, q: float, by: str, matchers: str = "") -> str:
        keys = ", ".join(k for k in ("le", by) if k)
        return (f"histogram_quantile({q}, sum by ({keys}) "
                f"(rate({self.sel(matchers, '_bucket')}[{RATE}])))")

    def mean(self, by: str, matchers: str = "") -> str:
        return (f"sum by ({by}) (rate({self.sel(matchers, '_sum')}[{RATE}])) / "
                f"sum by ({by}) (rate({self.sel(matchers, '_count')}[{RATE}]))")


def zero(expr: str) -> str:
    """``expr``, or 0 when it has no series: for counts of bad things, 0 beats "No data"."""
    return f"({expr}) or vector(0)"


def L(key: str) -> str:
    """The Prometheus label of an attribute key."""
    return _promnames.label(key)


@dataclass
class Target:
    expr: str
    legend: str = ""


@dataclass
class Panel:
    title: str
    targets: list[Target]
    unit: str = "short"
    kind: str = "timeseries"  # timeseries | stat | bargauge
    width: int = 12
    height: int = 8
    description: str = ""
    stack: bool = False
    decimals: int | None = None


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel | str]  # a str is a row title


# --- the metrics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EitherHistogram:
    """The same histogram under the default (v1.41) and the latest GenAI convention names:
    each query matches whichever the application emits (``AIOBS_GENAI_SEMCONV_LATEST``)."""

    default: Metric
    latest: Metric

    def rate(self, by: str, matchers: str = "") -> str:
        return f"({self.default.rate(by, matchers)}) or ({self.latest.rate(by, matchers)})"

    def quantile(self, q: float, by: str, matchers: str = "") -> str:
        keys = ", ".join(k for k in ("le", by) if k)
        inner = " or ".join(f"sum by ({keys}) (rate({m.sel(matchers, '_bucket')}[{RATE}]))"
                            for m in (self.default, self.latest))
        return f"histogram_quantile({q}, {inner})"

    def mean(self, by: str, matchers: str = "") -> str:
        return f"({self.default.mean(by, matchers)}) or ({self.latest.mean(by, matchers)})"

    def total(self, fn: str, window: str, by: str = "", matchers: str = "") -> str:
        grouping = f" by ({by})" if by else ""
        return " or ".join(f"sum{grouping} ({fn}({m.sel(matchers, '_count')}[{window}]))"
                           for m in (self.default, self.latest))


def _genai() -> Dashboard:
    duration = EitherHistogram(
        Metric(semconv.GEN_AI_CLIENT_OPERATION_DURATION, "s", "histogram"),
        Metric(semconv.GEN_AI_CLIENT_INFERENCE_DURATION, "s", "histogram"))
    ttfc = EitherHistogram(
        Metric(semconv.GEN_AI_CLIENT_OPERATION_TTFC, "s", "histogram"),
        Metric(semconv.GEN_AI_CLIENT_INFERENCE_TTFC, "s", "histogram"))
    tokens = Metric(semconv.GEN_AI_CLIENT_TOKEN_USAGE, "{token}", "histogram")
    token_counters = {  # the latest conventions count tokens with one counter per type
        semconv.GEN_AI_TOKEN_TYPE_INPUT:
            Metric(semconv.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT, "{token}", "counter"),
        semconv.GEN_AI_TOKEN_TYPE_OUTPUT:
            Metric(semconv.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT, "{token}", "counter"),
    }
    cost = Metric(semconv.AIOBS_GENAI_COST, "{USD}", "counter")
    model, err = L(semconv.GEN_AI_REQUEST_MODEL), L(semconv.ERROR_TYPE)
    token_type = L(semconv.GEN_AI_TOKEN_TYPE)
    throttled = f'{err}=~"{THROTTLED_ERRORS}"'
    failed = f'{err}!=""'

    def token_expr(fn: str, window: str, by: str) -> str:
        keys = ", ".join(k for k in (by, token_type) if k)
        default = f"sum by ({keys}) ({fn}({tokens.sel('', '_sum')}[{window}]))"
        latest = [f'label_replace(sum{f" by ({by})" if by else ""} ({fn}({m.sel()}[{window}])), '
                  f'"{token_type}", "{kind}", "", "")' for kind, m in token_counters.items()]
        return " or ".join([default, *latest])

    return Dashboard("aiobs-llm", "aiobs-otel / LLM", "LLM calls: traffic, errors, latency, "
                     "tokens and cost, from gen_ai.* and aiobs.genai.* metrics (default or "
                     "latest GenAI conventions).", [
        "Traffic and errors",
        Panel("Requests per second by model", [Target(duration.rate(model), f"{{{{{model}}}}}")],
              "reqps"),
        Panel("Errors per second by error.type",
              [Target(zero(duration.rate(err, failed)), f"{{{{{err}}}}}")], "reqps",
              description="Failed calls by error.type (exception class or HTTP status)."),
        Panel("Rate limits and overloads (429/503/5xx)",
              [Target(zero(duration.rate(model, throttled)), f"{{{{{model}}}}}")], "reqps",
              description="Calls that failed as rate-limited (429) or unavailable (5xx)."),
        Panel("Error ratio", [Target(
            f"({duration.total('rate', RATE, '', failed)} or vector(0)) / "
            f"({duration.total('rate', RATE)})",
            "errors")], "percentunit", kind="stat", width=6),
        Panel("Calls in range", [Target(duration.total("increase", "$__range"), "calls")],
              "short", kind="stat", width=6, decimals=0),
        "Latency",
        Panel("Latency p50 / p95 / p99", [
            Target(duration.quantile(0.5, ""), "p50"),
            Target(duration.quantile(0.95, ""), "p95"),
            Target(duration.quantile(0.99, ""), "p99"),
        ], "s"),
        Panel("Latency p95 by model", [Target(duration.quantile(0.95, model),
                                              f"{{{{{model}}}}}")], "s"),
        Panel("Time to first chunk p95 (streaming)", [Target(ttfc.quantile(0.95, model),
                                                             f"{{{{{model}}}}}")], "s"),
        Panel("Mean latency by model", [Target(duration.mean(model), f"{{{{{model}}}}}")], "s"),
        "Tokens and cost",
        Panel("Tokens per second by model and type", [Target(
            token_expr("rate", RATE, model), f"{{{{{model}}}}} {{{{{token_type}}}}}")],
            "short", stack=True),
        Panel("Cost per hour by model (USD)", [Target(
            f"sum by ({model}) (rate({cost.sel()}[{RATE}])) * 3600", f"{{{{{model}}}}}")],
            "currencyUSD", stack=True),
        Panel("Cost in range by model (USD)", [Target(
            f"sum by ({model}) (increase({cost.sel()}[$__range]))", f"{{{{{model}}}}}")],
            "currencyUSD", kind="bargauge"),
        Panel("Tokens in range by type", [Target(
            token_expr("increase", "$__range", ""), f"{{{{{token_type}}}}}")], "short",
            kind="bargauge"),
    ])


# error.type values of throttling and overload: HTTP status codes or the SDKs' exception names.
THROTTLED_ERRORS = ("429|503|5[0-9][0-9]|.*RateLimitError|.*InternalServerError|"
                    ".*ServiceUnavailableError|.*OverloadedError")


def _training() -> Dashboard:
    step = Metric(semconv.TRAINING_STEP_DURATION, "s", "histogram")
    wait = Metric(semconv.TRAINING_DATA_WAIT_DURATION, "s", "histogram")
    loss = Metric(semconv.TRAINING_LOSS, "1", "gauge")
    grad = Metric(semconv.TRAINING_GRAD_NORM, "1", "gauge")
    throughput = Metric(semconv.TRAINING_THROUGHPUT, "{sample}/s", "gauge")
    tokens = Metric(semconv.TRAINING_TOKEN_THROUGHPUT, "{token}/s", "gauge")
    mfu = Metric(semconv.TRAINING_MFU, "1", "gauge")
    anomalies = Metric(semconv.TRAINING_ANOMALIES, "{anomaly}", "counter")
    kind = L(semconv.TRAINING_ANOMALY_KIND_SHORT)
    run = L(semconv.TRAINING_RUN_NAME)
    by = f"instance, {run}"
    legend = f"{{{{{run}}}}} {{{{instance}}}}"
    return Dashboard("aiobs-training", "aiobs-otel / Training", "Training runs: step time, data "
                     "wait, loss, throughput, MFU, anomalies and the spread across ranks.", [
        "Speed",
        Panel("Step time p50 / p95", [Target(step.quantile(0.5, "instance"), "p50 {{instance}}"),
                                      Target(step.quantile(0.95, "instance"),
                                             "p95 {{instance}}")], "s"),
        Panel("Data wait (mean per step)", [Target(wait.mean("instance"), "{{instance}}")], "s",
              description="Time the step waited for the next batch: > 10% of step time means "
                          "the input pipeline is the bottleneck."),
        Panel("Throughput (samples/s)", [Target(f"sum by ({by}) ({throughput.sel()})",
                                                legend)], "short"),
        Panel("Token throughput (tokens/s)", [Target(f"sum by ({by}) ({tokens.sel()})",
                                                     legend)], "short"),
        Panel("Model FLOPs utilisation (MFU)", [Target(f"avg by ({by}) ({mfu.sel()})",
                                                       legend)], "percentunit"),
        Panel("Step-time spread across ranks (max - min of mean)", [Target(
            f"max({step.mean('instance')}) - min({step.mean('instance')})", "spread")], "s",
            description="Each rank is a scrape target (instance); a growing spread means "
                        "stragglers."),
        "Optimisation",
        Panel("Loss", [Target(f"avg by ({by}) ({loss.sel()})", legend)], "short"),
        Panel("Gradient norm", [Target(f"avg by ({by}) ({grad.sel()})", legend)],
              "short"),
        Panel("Anomalies by kind", [Target(
            zero(f"sum by ({kind}) (increase({anomalies.sel()}[$__range]))"), f"{{{{{kind}}}}}")],
            "short", kind="bargauge",
            description="NaN/Inf loss or gradient norm, loss spikes and data stalls."),
        Panel("Anomalies per minute", [Target(
            zero(f"sum by ({kind}) (rate({anomalies.sel()}[{RATE}])) * 60"), f"{{{{{kind}}}}}")],
            "short"),
    ])


def _gpu() -> Dashboard:
    util = Metric(semconv.HW_GPU_UTILIZATION, "1", "gauge")
    mem_used = Metric(semconv.HW_GPU_MEMORY_USAGE, "By", "gauge")
    mem_limit = Metric(semconv.HW_GPU_MEMORY_LIMIT, "By", "gauge")
    power = Metric(semconv.HW_POWER, "W", "gauge")
    energy = Metric(semconv.HW_ENERGY, "J", "counter")
    temperature = Metric(semconv.HW_TEMPERATURE, "Cel", "gauge")
    errors = Metric(semconv.HW_ERRORS, "{error}", "counter")
    clock = Metric(semconv.GPU_CLOCK_SPEED, "Hz", "gauge")
    clock_event = Metric(semconv.GPU_CLOCK_EVENT, "1", "gauge")
    gpu = L(semconv.GPU_INDEX)
    hw_id = L(semconv.HW_ID)
    reason = L(semconv.GPU_CLOCK_EVENT_REASON)
    err = L(semconv.ERROR_TYPE)
    domain = L(semconv.GPU_CLOCK_DOMAIN)
    legend = f"{{{{instance}}}} GPU {{{{{gpu}}}}}"
    return Dashboard("aiobs-gpu", "aiobs-otel / GPU", "GPUs (hw.* conventions): utilisation, "
                     "memory, power, temperature, clocks and their throttle reasons, errors.", [
        "Load",
        Panel("GPU utilisation", [Target(f"max by (instance, {gpu}) ({util.sel()})", legend)],
              "percentunit"),
        Panel("Memory used / limit", [Target(
            f"max by (instance, {gpu}) ({mem_used.sel()}) / "
            f"max by (instance, {gpu}) ({mem_limit.sel()})", legend)], "percentunit"),
        Panel("Memory used", [Target(f"max by (instance, {gpu}) ({mem_used.sel()})", legend)],
              "bytes"),
        Panel("Mean utilisation (all GPUs)", [Target(f"avg({util.sel()})", "mean")],
              "percentunit", kind="stat", width=6),
        Panel("GPUs reporting", [Target(f"count(count by (instance, {hw_id}) ({util.sel()}))",
                                        "GPUs")], "short", kind="stat", width=6, decimals=0),
        "Power and heat",
        Panel("Power draw", [Target(f"max by (instance, {gpu}) ({power.sel()})", legend)],
              "watt"),
        Panel("Energy per hour", [Target(
            f"sum by (instance, {gpu}) (rate({energy.sel()}[{RATE}])) * 3600", legend)],
            "joule"),
        Panel("Temperature", [Target(f"max by (instance, {gpu}) ({temperature.sel()})",
                                     legend)], "celsius"),
        Panel("Clock speed", [Target(f"max by (instance, {gpu}, {domain}) ({clock.sel()})",
                                     f"{legend} {{{{{domain}}}}}")], "hertz"),
        "Throttling and errors",
        Panel("Clock-event reasons active", [Target(
            f"max by (instance, {gpu}, {reason}) ({clock_event.sel()})",
            f"{legend} {{{{{reason}}}}}")], "short",
            description="1 while a reason slows the clocks (power cap, thermal, idle, ...)."),
        Panel("GPU errors by type", [Target(
            zero(f"sum by (instance, {gpu}, {err}) (increase({errors.sel()}[$__range]))"),
            f"{legend} {{{{{err}}}}}")], "short", kind="bargauge"),
    ])


def _data() -> Dashboard:
    records_in = Metric(semconv.DATA_RECORDS_IN, "{record}", "counter")
    records_out = Metric(semconv.DATA_RECORDS_OUT, "{record}", "counter")
    dropped = Metric(semconv.DATA_RECORDS_DROPPED, "{record}", "counter")
    failures = Metric(semconv.DATA_STAGE_FAILURES, "{failure}", "counter")
    duration = Metric(semconv.DATA_STAGE_DURATION, "s", "histogram")
    null_rate = Metric(semconv.DATA_NULL_RATE, "1", "gauge")
    columns = Metric(semconv.DATA_SCHEMA_COLUMNS, "{column}", "gauge")
    score = Metric(semconv.DRIFT_SCORE, "1", "gauge")
    status = Metric(semconv.DRIFT_STATUS, "1", "gauge")
    windows = Metric(semconv.DRIFT_WINDOWS, "{window}", "counter")
    stage, dataset = L(semconv.DATA_STAGE), L(semconv.DATA_DATASET)
    column, reason = L(semconv.DATA_COLUMN), L(semconv.DATA_DROP_REASON)
    monitor, feature = L(semconv.DRIFT_MONITOR), L(semconv.DRIFT_FEATURE)
    method, err = L(semconv.DRIFT_METHOD), L(semconv.ERROR_TYPE)
    drift = semconv.DRIFT_STATUS_CODES["drift"]
    by_stage = f"{dataset}, {stage}"
    stage_legend = f"{{{{{dataset}}}}} / {{{{{stage}}}}}"
    feature_legend = f"{{{{{monitor}}}}} / {{{{{feature}}}}}"
    return Dashboard("aiobs-data", "aiobs-otel / Data & drift", "Data pipelines (records, "
                     "drops, failures, null rates, schema) and drift monitors (scores, status).", [
        "Pipeline stages",
        Panel("Records in per second", [Target(records_in.rate(by_stage), stage_legend)],
              "short"),
        Panel("Records out per second", [Target(records_out.rate(by_stage), stage_legend)],
              "short"),
        Panel("Dropped records by reason", [Target(
            zero(f"sum by ({by_stage}, {reason}) (increase({dropped.sel()}[$__range]))"),
            f"{stage_legend} {{{{{reason}}}}}")], "short", kind="bargauge"),
        Panel("Stage failures by error.type", [Target(
            zero(f"sum by ({by_stage}, {err}) (increase({failures.sel()}[$__range]))"),
            f"{stage_legend} {{{{{err}}}}}")], "short", kind="bargauge"),
        Panel("Stage duration p95", [Target(duration.quantile(0.95, by_stage), stage_legend)],
              "s"),
        Panel("Stage failure ratio", [Target(
            f"{failures.rate(by_stage)} / {duration.rate(by_stage)}", stage_legend)],
            "percentunit"),
        "Data quality",
        Panel("Null rate by column", [Target(
            f"max by ({by_stage}, {column}) ({null_rate.sel()})",
            f"{stage_legend} {{{{{column}}}}}")], "percentunit"),
        Panel("Schema columns (a step is a schema change)", [Target(
            f"max by ({by_stage}) ({columns.sel()})", stage_legend)], "short"),
        "Drift",
        Panel("Drift score by feature", [Target(
            f"max by ({monitor}, {feature}, {method}) ({score.sel()})",
            f"{feature_legend} ({{{{{method}}}}})")], "short"),
        Panel("Drift status by feature (0 ok, 1 warn, 2 drift)", [Target(
            f"max by ({monitor}, {feature}) ({status.sel()})", feature_legend)], "short",
            kind="bargauge", decimals=0),
        Panel("Features in drift", [Target(
            f"count(max by ({monitor}, {feature}) ({status.sel()}) == {drift}) or vector(0)",
            "features")], "short", kind="stat", width=6, decimals=0),
        Panel("Windows scored per minute", [Target(
            f"sum by ({monitor}) (rate({windows.sel()}[{RATE}])) * 60",
            f"{{{{{monitor}}}}}")], "short", width=18),
    ])


def _quality() -> Dashboard:
    name, seg_key = L(semconv.MODEL_NAME), L(semconv.MODEL_SEGMENT_KEY)
    seg_value, metric_label = L(semconv.MODEL_SEGMENT_VALUE), L(semconv.MODEL_METRIC)
    whole, segmented = f'{seg_key}=""', f'{seg_key}!=""'
    gauges = {label: Metric(getattr(semconv, constant), "1", "gauge") for label, constant in (
        ("accuracy", "MODEL_ACCURACY"), ("precision", "MODEL_PRECISION"),
        ("recall", "MODEL_RECALL"), ("F1", "MODEL_F1"), ("AUC", "MODEL_AUC"))}
    calibration = Metric(semconv.MODEL_CALIBRATION_ERROR, "1", "gauge")
    degraded = Metric(semconv.MODEL_DEGRADED, "1", "gauge")
    coverage = Metric(semconv.MODEL_LABEL_COVERAGE, "1", "gauge")
    delay = Metric(semconv.MODEL_LABEL_DELAY_MEAN, "s", "gauge")
    predictions = Metric(semconv.MODEL_PREDICTIONS, "{prediction}", "counter")
    pending = Metric(semconv.MODEL_PENDING, "{prediction}", "gauge")
    eval_score = Metric(semconv.EVALUATION_SCORE, "1", "histogram")
    eval_results = Metric(semconv.EVALUATION_RESULTS, "{evaluation}", "counter")
    eval_name, eval_label = L(semconv.EVAL_NAME), L(semconv.EVAL_SCORE_LABEL)
    segment_legend = f"{{{{{name}}}}} {{{{{seg_key}}}}}={{{{{seg_value}}}}}"
    return Dashboard("aiobs-quality", "aiobs-otel / Model quality", "Model quality in "
                     "production from delayed labels (per window and segment), calibration, "
                     "degradation alerts and LLM evaluation outcomes.", [
        "Whole window",
        Panel("Quality metrics", [Target(f"max by ({name}) ({m.sel(whole)})",
                                         f"{{{{{name}}}}} {label}")
                                  for label, m in gauges.items()], "percentunit"),
        Panel("Calibration error (ECE)", [Target(
            f"max by ({name}) ({calibration.sel(whole)})", f"{{{{{name}}}}}")], "percentunit"),
        "By segment",
        Panel("Accuracy by segment", [Target(
            f"max by ({name}, {seg_key}, {seg_value}) ({gauges['accuracy'].sel(segmented)})",
            segment_legend)], "percentunit"),
        Panel("Degraded (1 while a degradation alert is active)", [Target(
            f"max by ({name}, {metric_label}, {seg_key}, {seg_value}) ({degraded.sel()})",
            f"{segment_legend} {{{{{metric_label}}}}}")], "short", kind="bargauge", decimals=0),
        "Labels",
        Panel("Predictions per second", [Target(predictions.rate(name), f"{{{{{name}}}}}")],
              "short", width=6),
        Panel("Label coverage", [Target(f"max by ({name}) ({coverage.sel(whole)})",
                                        f"{{{{{name}}}}}")], "percentunit", width=6),
        Panel("Mean label delay", [Target(f"max by ({name}) ({delay.sel(whole)})",
                                          f"{{{{{name}}}}}")], "s", width=6),
        Panel("Predictions waiting for a label", [Target(f"sum by ({name}) ({pending.sel()})",
                                                         f"{{{{{name}}}}}")], "short", width=6),
        "LLM evaluations",
        Panel("Evaluation score p50 by evaluation", [Target(
            eval_score.quantile(0.5, eval_name), f"{{{{{eval_name}}}}}")], "short"),
        Panel("Evaluation outcomes", [Target(
            f"sum by ({eval_name}, {eval_label}) (increase({eval_results.sel()}[$__range]))",
            f"{{{{{eval_name}}}}} {{{{{eval_label}}}}}")], "short", kind="bargauge"),
    ])


BUILDERS: list[Callable[[], Dashboard]] = [_genai, _training, _gpu, _data, _quality]


# --- Grafana JSON ------------------------------------------------------------------------------

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit}
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    options: dict[str, Any]
    if panel.kind == "timeseries":
        defaults["custom"] = {"drawStyle": "line", "lineWidth": 2, "fillOpacity": 12,
                              "showPoints": "never", "spanNulls": True,
                              "stacking": {"mode": "normal" if panel.stack else "none"}}
        options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                   "tooltip": {"mode": "multi", "sort": "desc"}}
    elif panel.kind == "stat":
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                   "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    else:
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                   "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True}
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": t.expr,
             "legendFormat": t.legend or "__auto", "range": panel.kind == "timeseries",
             "instant": panel.kind != "timeseries"}
            for i, t in enumerate(panel.targets)
        ],
    }
    if panel.description:
        body["description"] = panel.description
    return body


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    x = y = 0
    row_height = 0
    for item in dashboard.panels:
        if isinstance(item, str):
            if x:
                y, x = y + row_height, 0
            panels.append({"id": len(panels) + 1, "type": "row", "title": item, "collapsed": False,
                           "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
            y += 1
            row_height = 0
            continue
        if x + item.width > 24:
            y, x, row_height = y + row_height, 0, 0
        panels.append(_panel_json(item, len(panels) + 1, x, y))
        x += item.width
        row_height = max(row_height, item.height)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["aiobs-otel", "opentelemetry"],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource",
             "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "options": []},
            {"name": "job", "label": "Job", "type": "query", "datasource": DATASOURCE,
             "query": {"query": "label_values(target_info, job)", "refId": "job"},
             "definition": "label_values(target_info, job)", "refresh": 2, "includeAll": True,
             "multi": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"},
             "hide": 0, "sort": 1, "options": []},
        ]},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


def build_all() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    out = {}
    for build in BUILDERS:
        dashboard = build()
        out[f"{dashboard.uid}.json"] = json.dumps(dashboard_json(dashboard), indent=2) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    target = Path(__file__).resolve().parent.parent / "data" / "dashboards"
    target.mkdir(parents=True, exist_ok=True)
    built = build_all()
    for stale in target.glob("*.json"):
        if stale.name not in built:
            stale.unlink()
    for name, text in built.items():
        (target / name).write_text(text, encoding="utf-8")
        print(target / name)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
