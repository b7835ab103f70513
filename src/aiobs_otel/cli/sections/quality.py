"""``aiobs-otel report`` section: model quality by segment, alerts, and LLM evaluations."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from ... import semconv
from ..report import table
from ..sinkdata import SinkData

TITLE = "Model quality"
ORDER = 70

_COLUMNS = (
    ("accuracy", semconv.MODEL_ACCURACY),
    ("f1", semconv.MODEL_F1),
    ("auc", semconv.MODEL_AUC),
    ("ece", semconv.MODEL_CALIBRATION_ERROR),
    ("mae", semconv.MODEL_MAE),
    ("rmse", semconv.MODEL_RMSE),
    ("coverage", semconv.MODEL_LABEL_COVERAGE),
)


def _group(attributes: dict[str, Any]) -> tuple[str, str]:
    model = str(attributes.get(semconv.MODEL_NAME, "?"))
    key = attributes.get(semconv.MODEL_SEGMENT_KEY)
    segment = "(all)" if key is None else f"{key}={attributes.get(semconv.MODEL_SEGMENT_VALUE)}"
    return model, segment


def _window_rows(data: SinkData) -> list[str]:
    values: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for point in data.latest_points(semconv.MODEL_WINDOW_ROWS):
        if point.value is not None:
            values[_group(point.attributes)]["rows"] = point.value
    for column, name in _COLUMNS:
        for point in data.latest_points(name):
            if point.value is not None and semconv.MODEL_METRIC not in point.attributes:
                values[_group(point.attributes)][column] = point.value
    if not values:
        return []
    shown = [c for c, _ in _COLUMNS if any(c in v for v in values.values())]
    rows = []
    for (model, segment) in sorted(values, key=lambda g: (g[0], g[1] != "(all)", g[1])):
        found = values[(model, segment)]
        rows.append([model, segment, int(found.get("rows", 0)),
                     *[found.get(c, math.nan) for c in shown]])
    return table(["model", "segment", "rows", *shown], rows)


def _alerts(data: SinkData) -> list[str]:
    rows = []
    for entry in data.logs:
        if entry.event_name not in (semconv.MODEL_QUALITY_DEGRADED_EVENT,
                                    semconv.MODEL_QUALITY_RECOVERED_EVENT):
            continue
        attributes = entry.attributes
        model, segment = _group(attributes)
        kind = ("degraded" if entry.event_name == semconv.MODEL_QUALITY_DEGRADED_EVENT
                else "recovered")
        rows.append([kind, model, str(attributes.get(semconv.MODEL_METRIC, "")), segment,
                     attributes.get(semconv.MODEL_WINDOW, ""),
                     float(attributes.get(semconv.MODEL_VALUE, math.nan)),
                     float(attributes.get(semconv.MODEL_REFERENCE, math.nan))])
    if not rows:
        return []
    return ["", *table(["alert", "model", "metric", "segment", "window", "value", "reference"],
                       rows)]


def _evaluations(data: SinkData) -> list[str]:
    groups: dict[tuple[str, str, str], list[float | None]] = defaultdict(list)
    for entry in data.logs:
        if entry.event_name != semconv.EVAL_RESULT_EVENT:
            continue
        attributes = entry.attributes
        key = (str(attributes.get(semconv.EVAL_NAME, "?")),
               str(attributes.get(semconv.EVAL_SCORE_LABEL, "-")),
               str(attributes.get(semconv.GEN_AI_REQUEST_MODEL, "-")))
        score = attributes.get(semconv.EVAL_SCORE_VALUE)
        groups[key].append(None if score is None else float(score))
    if not groups:
        return []
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for (name, _, model), scores in groups.items():
        totals[(name, model)] += len(scores)
    rows = []
    for (name, label, model) in sorted(groups):
        scores = groups[(name, label, model)]
        known = [s for s in scores if s is not None]
        share = 100.0 * len(scores) / totals[(name, model)]
        rows.append([name, label, model, len(scores), f"{share:.1f}%",
                     sum(known) / len(known) if known else math.nan])
    return ["", *table(["evaluation", "label", "model", "count", "share", "mean score"], rows)]


def render(data: SinkData) -> list[str]:
    lines = _window_rows(data) + _alerts(data) + _evaluations(data)
    return lines[1:] if lines and lines[0] == "" else lines
