"""pipeline_stage: spans, aiobs.data.* metrics, schema-change events, lineage, input types."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import aiobs_otel as aiobs
from aiobs_otel import semconv


def _orders(n, with_coupon=False):
    data = {"id": np.arange(n), "amount": np.where(np.arange(n) % 4 == 0, np.nan, 10.0)}
    if with_coupon:
        data["coupon"] = ["x"] * n
    return data


def test_schema_changes_midway_emit_one_event_and_stage_metrics(aiobs_capture):
    @aiobs.pipeline_stage(name="extract", dataset="orders")
    def extract(n, with_coupon=False):
        return _orders(n, with_coupon)

    @aiobs.pipeline_stage(name="clean", dataset="orders")
    def clean(data):
        keep = ~np.isnan(data["amount"])
        return {k: np.asarray(v)[keep] for k, v in data.items()}

    for batch in range(4):
        clean(extract(100, with_coupon=batch >= 2))
    events = aiobs_capture.logs(semconv.EVENT_SCHEMA_CHANGE)
    by_stage = {e.log_record.attributes[semconv.DATA_STAGE]: e for e in events}
    assert set(by_stage) == {"extract", "clean"}  # one change each, at batch 2
    body = by_stage["extract"].log_record.body
    assert body == {"added": ["coupon"], "removed": [], "retyped": []}
    metrics = aiobs_capture.metrics()

    def value(name, stage, **extra):
        return sum((p.value if p.value is not None else p.sum) for p in metrics
                   if p.name == name and p.attributes.get(semconv.DATA_STAGE) == stage
                   and all(p.attributes.get(k) == v for k, v in extra.items()))

    assert value(semconv.DATA_RECORDS_OUT, "extract") == 400
    assert value(semconv.DATA_RECORDS_IN, "clean") == 400
    assert value(semconv.DATA_RECORDS_OUT, "clean") == 300
    null = [p for p in metrics if p.name == semconv.DATA_NULL_RATE
            and p.attributes[semconv.DATA_STAGE] == "extract"
            and p.attributes[semconv.DATA_COLUMN] == "amount"]
    assert null[0].value == pytest.approx(0.25)
    durations = [p for p in metrics if p.name == semconv.DATA_STAGE_DURATION]
    assert sum(p.count for p in durations) == 8
    assert value(semconv.DATA_BYTES, "extract") > 0


def test_context_manager_dropped_failures_and_lineage(aiobs_capture):
    @aiobs.pipeline_stage(name="load", dataset="users")
    def load():
        return [{"id": i, "name": None if i % 5 == 0 else "n"} for i in range(20)]

    rows = load()
    with aiobs.pipeline_stage(name="dedupe", dataset="users") as stage:
        stage.record_input(rows)
        stage.record_dropped(4, reason="duplicate")
        stage.record_output(rows[4:])
    with pytest.raises(KeyError):
        with aiobs.pipeline_stage(name="enrich", dataset="users"):
            raise KeyError("missing")
    spans = {s.name: s for s in aiobs_capture.spans()}
    dedupe = spans["pipeline_stage dedupe"]
    assert dedupe.attributes[semconv.DATA_INPUT_RECORDS] == 20
    assert dedupe.attributes[semconv.DATA_OUTPUT_RECORDS] == 16
    assert [link.context.span_id for link in dedupe.links] == [
        spans["pipeline_stage load"].context.span_id]
    assert spans["pipeline_stage enrich"].attributes[semconv.ERROR_TYPE] == "KeyError"
    metrics = aiobs_capture.metrics()
    dropped = [p for p in metrics if p.name == semconv.DATA_RECORDS_DROPPED]
    assert dropped[0].value == 4
    assert dropped[0].attributes[semconv.DATA_DROP_REASON] == "duplicate"
    failures = [p for p in metrics if p.name == semconv.DATA_STAGE_FAILURES]
    assert failures[0].value == 1
    nulls = {p.attributes[semconv.DATA_COLUMN]: p.value for p in metrics
             if p.name == semconv.DATA_NULL_RATE
             and p.attributes[semconv.DATA_STAGE] == "load"}
    assert nulls == {"id": 0.0, "name": 0.2}


def test_pandas_input_freshness_and_retyped_column(aiobs_capture):
    pd = pytest.importorskip("pandas")
    now = pd.Timestamp.now(tz="UTC")

    @aiobs.pipeline_stage(name="score", dataset="events", timestamp_column="ts")
    def score(df):
        return df

    df = pd.DataFrame({"ts": [now - pd.Timedelta(seconds=30)] * 3, "v": [1.0, None, 3.0]})
    score(df)
    df2 = df.assign(v=["a", "b", "c"])
    score(df2)
    change = aiobs_capture.logs(semconv.EVENT_SCHEMA_CHANGE)
    assert change[0].log_record.body["retyped"][0].startswith("v: float64 ->")
    metrics = aiobs_capture.metrics()
    fresh = [p.value for p in metrics if p.name == semconv.DATA_FRESHNESS]
    assert fresh and 29 <= fresh[0] < 120
    null = [p.value for p in metrics if p.name == semconv.DATA_NAN_RATE]
    assert null[0] == pytest.approx(1 / 3)


def test_pyarrow_input(aiobs_capture):
    pa = pytest.importorskip("pyarrow")
    table = pa.table({"a": [1.0, None, float("nan"), 4.0], "b": ["x", "y", None, "z"]})
    with aiobs.pipeline_stage(name="arrow", dataset="t") as stage:
        stage.record_output(table)
    metrics = aiobs_capture.metrics()
    nulls = {p.attributes[semconv.DATA_COLUMN]: p.value for p in metrics
             if p.name == semconv.DATA_NULL_RATE}
    nans = {p.attributes[semconv.DATA_COLUMN]: p.value for p in metrics
            if p.name == semconv.DATA_NAN_RATE}
    assert nulls == {"a": 0.25, "b": 0.25} and nans == {"a": 0.25}
    out = [p for p in metrics if p.name == semconv.DATA_RECORDS_OUT]
    assert out[0].value == 4


def test_drift_monitor_takes_pandas_and_pyarrow():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=20_000),
                        "c": rng.choice(["a", "b", "c"], 20_000)})
    monitor = aiobs.DriftMonitor(name="pd", reference=ref, window_size=5_000,
                                 export_sketches=False)
    batch = pd.DataFrame({"x": rng.normal(1.0, 1, 5_000), "c": rng.choice(["a", "b"], 5_000)})
    for _ in range(3):
        monitor.observe(pa.Table.from_pandas(batch))
    scores = monitor.scores()
    assert scores["x"]["status"] == "drift" and scores["c"]["status"] == "drift"


def test_importing_the_package_imports_no_numpy_pandas_or_pyarrow():
    code = ("import sys, aiobs_otel as a; a.pipeline_stage; "
            "bad = [m for m in ('numpy', 'pandas', 'pyarrow') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
