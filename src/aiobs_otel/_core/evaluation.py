"""LLM evaluation results: ``gen_ai.evaluation.result`` events plus score and outcome metrics.

The event follows the GenAI conventions: ``gen_ai.evaluation.name`` (required),
``gen_ai.evaluation.score.value`` / ``.score.label`` (when given), ``gen_ai.evaluation.explanation``
and ``gen_ai.response.id`` (recommended), ``error.type`` when the evaluation itself failed. It is
parented to the evaluated span: an explicit ``span=`` or ``context=``, else the current span.

The conventions define no evaluation metrics, so two of ours go with each event:
``aiobs.evaluation.score`` (histogram of score values) and ``aiobs.evaluation.results``
(counter by name and label), both with ``gen_ai.request.model`` when the model is known, so a
backend can chart, for example, the share of ``label="hallucinated"`` per model over time.
No numpy here: LLM applications need not install it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import Counter, Histogram, Meter

from .. import semconv
from . import errors, state
from .otel import event_logger, instrument_set

__all__ = ["record_evaluation"]

MAX_EVALUATION_NAMES = 100
MAX_LABELS_PER_NAME = 20

_caps_lock = threading.Lock()
_labels_by_name: dict[str, set[str]] = {}


@dataclass(frozen=True)
class _EvaluationInstruments:
    score: Histogram
    results: Counter


@instrument_set("quality.evaluation")
def _instruments(m: Meter) -> _EvaluationInstruments:
    return _EvaluationInstruments(
        score=m.create_histogram(
            semconv.EVALUATION_SCORE, unit="1",
            description="Scores of GenAI evaluation results, by evaluation name and model.",
            explicit_bucket_boundaries_advisory=list(semconv.EVALUATION_SCORE_BUCKETS),
        ),
        results=m.create_counter(
            semconv.EVALUATION_RESULTS, unit="{evaluation}",
            description="GenAI evaluation results, by evaluation name, label and model.",
        ),
    )


def _capped(name: str, label: str | None) -> tuple[str, str | None]:
    """Keep metric attributes low-cardinality: names and labels per name are capped."""
    with _caps_lock:
        labels = _labels_by_name.get(name)
        if labels is None:
            if len(_labels_by_name) >= MAX_EVALUATION_NAMES:
                return semconv.OTHER_VALUE, None if label is None else semconv.OTHER_VALUE
            labels = _labels_by_name[name] = set()
        if label is None or label in labels:
            return name, label
        if len(labels) >= MAX_LABELS_PER_NAME:
            return name, semconv.OTHER_VALUE
        labels.add(label)
        return name, label


def _truncate(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8", "replace")  # a lone surrogate must not lose the evaluation
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def _span_attribute(span: trace.Span, key: str) -> Any:
    attributes = getattr(span, "attributes", None)
    if not attributes:
        return None
    return attributes.get(key)


def record_evaluation(
    name: str,
    score: float | None = None,
    label: str | None = None,
    explanation: str | None = None,
    response_id: str | None = None,
    *,
    span: trace.Span | None = None,
    context: otel_context.Context | None = None,
    model: str | None = None,
    error_type: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """Record one evaluation of a GenAI output (an LLM judge, a heuristic, a human rating).

    The ``gen_ai.evaluation.result`` event is parented to ``span`` (or the span in ``context``,
    or the current span). ``model`` defaults to the evaluated span's ``gen_ai.request.model`` and
    ``response_id`` to its ``gen_ai.response.id``; when the evaluation runs later, away from the
    span, pass ``response_id`` so a backend can join the two.

    >>> import aiobs_otel as aiobs
    >>> aiobs.record_evaluation("groundedness", score=0.42, label="hallucinated",
    ...                         explanation="claims a refund policy the context lacks",
    ...                         response_id="chatcmpl-123", model="gpt-4o-mini")  # doctest: +SKIP
    """
    if state.disabled:
        return
    with errors.guard("quality.record_evaluation"):
        _record(name, score, label, explanation, response_id, span, context, model, error_type,
                attributes)


def _record(
    name: str, score: float | None, label: str | None, explanation: str | None,
    response_id: str | None, span: trace.Span | None, context: otel_context.Context | None,
    model: str | None, error_type: str | None, extra: Mapping[str, Any] | None,
) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError("record_evaluation needs a non-empty evaluation name")
    if span is not None:
        context = trace.set_span_in_context(span, context)
    evaluated = trace.get_current_span(context)
    if model is None:
        found = (_span_attribute(evaluated, semconv.GEN_AI_REQUEST_MODEL)
                 or _span_attribute(evaluated, semconv.GEN_AI_RESPONSE_MODEL))
        model = str(found) if found else None
    if response_id is None:
        found = _span_attribute(evaluated, semconv.GEN_AI_RESPONSE_ID)
        response_id = str(found) if found else None
    value = None if score is None else float(score)

    event: dict[str, Any] = dict(extra or {})
    event[semconv.EVAL_NAME] = name
    if value is not None:
        event[semconv.EVAL_SCORE_VALUE] = value
    if label is not None:
        event[semconv.EVAL_SCORE_LABEL] = str(label)
    if explanation:
        limit = state.current_settings().content_max_bytes
        event[semconv.EVAL_EXPLANATION] = _truncate(str(explanation), limit)
    if response_id:
        event[semconv.GEN_AI_RESPONSE_ID] = response_id
    if model:
        event[semconv.GEN_AI_REQUEST_MODEL] = model
    if error_type:
        event[semconv.ERROR_TYPE] = error_type
    event_logger().emit(
        event_name=semconv.EVAL_RESULT_EVENT, attributes=event, context=context,
        severity_number=SeverityNumber.WARN if error_type else SeverityNumber.INFO,
    )

    metric_name, metric_label = _capped(name, None if label is None else str(label))
    common: dict[str, Any] = {semconv.EVAL_NAME: metric_name}
    if model:
        common[semconv.GEN_AI_REQUEST_MODEL] = model
    if error_type:
        common[semconv.ERROR_TYPE] = error_type
    instruments = _instruments.get()
    if value is not None:
        instruments.score.record(value, common)
    counted = dict(common)
    if metric_label is not None:
        counted[semconv.EVAL_SCORE_LABEL] = metric_label
    instruments.results.add(1, counted)
