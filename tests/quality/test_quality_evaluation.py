"""record_evaluation: gen_ai.evaluation.result events tied to their span, plus metrics."""

from __future__ import annotations

import subprocess
import sys

import pytest
from opentelemetry import trace

import aiobs_otel as aiobs
from aiobs_otel import semconv
from aiobs_otel._core import errors


def _chat_span(capture, model="gpt-4o-mini", response_id="chatcmpl-1"):
    tracer = capture.tracer_provider.get_tracer("test")
    span = tracer.start_span(f"chat {model}", attributes={
        semconv.GEN_AI_REQUEST_MODEL: model, semconv.GEN_AI_RESPONSE_ID: response_id})
    return span


def test_event_inside_the_evaluated_span(aiobs_capture):
    span = _chat_span(aiobs_capture)
    with trace.use_span(span, end_on_exit=True):
        aiobs.record_evaluation("groundedness", score=0.42, label="hallucinated",
                                explanation="invents a refund policy")
    [event] = aiobs_capture.logs(semconv.EVAL_RESULT_EVENT)
    record = event.log_record
    assert record.attributes[semconv.EVAL_NAME] == "groundedness"
    assert record.attributes[semconv.EVAL_SCORE_VALUE] == 0.42
    assert record.attributes[semconv.EVAL_SCORE_LABEL] == "hallucinated"
    assert record.attributes[semconv.EVAL_EXPLANATION] == "invents a refund policy"
    assert record.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-1"  # from the span
    assert record.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    [finished] = aiobs_capture.spans()
    assert record.trace_id == finished.context.trace_id
    assert record.span_id == finished.context.span_id


def test_event_for_an_explicit_span_after_it_ended(aiobs_capture):
    span = _chat_span(aiobs_capture, response_id="chatcmpl-2")
    span.end()
    other = aiobs_capture.tracer_provider.get_tracer("test").start_span("unrelated")
    with trace.use_span(other, end_on_exit=True):
        aiobs.record_evaluation("relevance", score=4.0, label="relevant", span=span)
    [event] = aiobs_capture.logs(semconv.EVAL_RESULT_EVENT)
    assert event.log_record.span_id == span.get_span_context().span_id
    assert event.log_record.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-2"


def test_event_with_an_explicit_context(aiobs_capture):
    span = _chat_span(aiobs_capture)
    context = trace.set_span_in_context(span)
    aiobs.record_evaluation("toxicity", label="pass", context=context)
    span.end()
    [event] = aiobs_capture.logs(semconv.EVAL_RESULT_EVENT)
    assert event.log_record.span_id == span.get_span_context().span_id
    assert semconv.EVAL_SCORE_VALUE not in event.log_record.attributes


def test_asynchronous_evaluation_carries_the_response_id(aiobs_capture):
    aiobs.record_evaluation("groundedness", score=0.9, label="grounded",
                            response_id="chatcmpl-9", model="claude-x")
    [event] = aiobs_capture.logs(semconv.EVAL_RESULT_EVENT)
    assert event.log_record.span_id in (0, None)
    assert event.log_record.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-9"


def test_score_histogram_and_outcome_counter_by_model(aiobs_capture):
    for model, label in [("a", "hallucinated"), ("a", "grounded"), ("a", "grounded"),
                         ("b", "hallucinated")]:
        aiobs.record_evaluation("groundedness", score=0.3 if label == "hallucinated" else 0.9,
                                label=label, model=model)
    counts = {(p.attributes[semconv.GEN_AI_REQUEST_MODEL],
               p.attributes[semconv.EVAL_SCORE_LABEL]): p.value
              for p in aiobs_capture.metrics(semconv.EVALUATION_RESULTS)}
    assert counts == {("a", "hallucinated"): 1, ("a", "grounded"): 2, ("b", "hallucinated"): 1}
    histograms = {p.attributes[semconv.GEN_AI_REQUEST_MODEL]: p
                  for p in aiobs_capture.metrics(semconv.EVALUATION_SCORE)}
    assert histograms["a"].count == 3 and histograms["a"].sum == pytest.approx(2.1)
    assert histograms["a"].attributes[semconv.EVAL_NAME] == "groundedness"


def test_labels_are_capped_on_metrics_but_kept_on_events(aiobs_capture):
    for index in range(25):
        aiobs.record_evaluation("style-cap-test", label=f"label-{index}")
    labels = {p.attributes[semconv.EVAL_SCORE_LABEL]
              for p in aiobs_capture.metrics(semconv.EVALUATION_RESULTS)
              if p.attributes[semconv.EVAL_NAME] == "style-cap-test"}
    assert semconv.OTHER_VALUE in labels and len(labels) == 21
    events = aiobs_capture.logs(semconv.EVAL_RESULT_EVENT)
    assert events[-1].log_record.attributes[semconv.EVAL_SCORE_LABEL] == "label-24"


def test_explanation_is_truncated():
    from aiobs_otel.testing import capture

    with capture(content_max_bytes=10) as telemetry:
        aiobs.record_evaluation("x", score=1, explanation="é" * 50)
    [event] = telemetry.logs(semconv.EVAL_RESULT_EVENT)
    assert len(event.log_record.attributes[semconv.EVAL_EXPLANATION].encode()) <= 10


def test_missing_name_is_an_internal_error_in_strict_mode(aiobs_capture):
    with pytest.raises(errors.InternalError):
        aiobs.record_evaluation("", score=1.0)


def test_record_evaluation_does_not_import_numpy():
    code = ("import sys, aiobs_otel\n"
            "from aiobs_otel._core import quality\n"
            "quality.record_evaluation\n"
            "assert 'numpy' not in sys.modules, 'numpy imported'\n"
            "quality.QualityMonitor\n"
            "assert 'numpy' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
