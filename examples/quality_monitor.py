"""Model quality in production: delayed labels, a segment that degrades, and LLM evaluations.

Run: ``python examples/quality_monitor.py`` (a few seconds), then ``aiobs-otel report``.

A fraud classifier serves four regions. Labels (chargebacks) arrive later and out of order.
Midway, the model starts failing for one region: the monitor emits one ``quality degraded``
event for that region and none for the others. Two LLM answers are then judged, and the
evaluation events are tied to the chat spans they judge.
"""

from __future__ import annotations

import numpy as np
from opentelemetry import trace

import aiobs_otel as aiobs
from aiobs_otel import semconv


def main() -> None:
    aiobs.configure(service_name="quality-example")  # local sink in ./.aiobs by default
    rng = np.random.default_rng(7)
    quality = aiobs.QualityMonitor("fraud-model", task="binary", window_size=2_000,
                                   sensitive_segment="region")
    n, batch, lag = 40_000, 1_000, 4
    regions = rng.choice(np.array(["eu", "us", "apac", "latam"]), n)
    y_true = rng.integers(0, 2, n)
    accuracy = np.where((regions == "apac") & (np.arange(n) >= n // 2), 0.6, 0.92)
    y_pred = np.where(rng.random(n) < accuracy, y_true, 1 - y_true)
    scores = np.where(y_pred == 1, 1, 0) * 0.6 + rng.random(n) * 0.4
    ids = np.arange(n)

    for step in range(n // batch + lag):
        start = step * batch
        if start < n:  # inference: predictions with their ids
            rows = slice(start, start + batch)
            quality.record_predictions(ids[rows], y_pred[rows], scores=scores[rows],
                                       segments={"region": regions[rows]})
        done = (step - lag) * batch
        if done >= 0:  # labels for an earlier batch, shuffled
            rows = rng.permutation(np.arange(done, done + batch))
            quality.record_labels(ids[rows], y_true[rows])

    result = quality.metrics()
    print(f"window {result['window']}: overall accuracy {result['overall']['accuracy']:.3f}")
    for region, values in sorted(result["segments"]["region"].items()):
        print(f"  {region:6s} accuracy {values['accuracy']:.3f}  auc {values['auc']:.3f}")
    print("fairness:", result["fairness"]["region"])
    print("active alerts:", result["degraded"])

    tracer = trace.get_tracer("example")
    for answer_id, grounded in (("chatcmpl-1", True), ("chatcmpl-2", False)):
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                semconv.GEN_AI_RESPONSE_ID: answer_id}):
            aiobs.record_evaluation(
                "groundedness", score=0.95 if grounded else 0.2,
                label="grounded" if grounded else "hallucinated",
                explanation=None if grounded else "cites a policy absent from the context")
    aiobs.shutdown()
    print("telemetry written; run `aiobs-otel report` to see it")


if __name__ == "__main__":
    main()
