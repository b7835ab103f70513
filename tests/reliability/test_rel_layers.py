"""R19 (training and pipeline decorators) and R20 (drift sketches) at their reliability edges."""

from __future__ import annotations

import math
import multiprocessing
import pickle
import sys
import traceback

import pytest

import aiobs_otel as aiobs
from aiobs_otel.testing import capture


class StepFailed(Exception):
    pass


def test_rel_r19_training_and_pipeline_exceptions_pass_unchanged():
    boom = StepFailed("bad batch")

    @aiobs.train_step()
    def bad_step(x: int) -> None:
        raise boom

    @aiobs.pipeline_stage("rel-bad")
    def bad_stage(rows: list[int]) -> None:
        raise boom

    with capture() as telemetry:
        with aiobs.training_run(name="rel-run"):
            for _ in range(3):
                with pytest.raises(StepFailed) as caught:
                    bad_step(1)
                assert caught.value is boom
                assert traceback.extract_tb(caught.value.__traceback__)[-1].name == "bad_step"
        with pytest.raises(StepFailed):
            bad_stage([1])
        assert telemetry.spans()


def test_rel_r19_ten_thousand_steps_no_error_and_bounded_spans():
    with capture() as telemetry:
        with aiobs.training_run(name="rel-10k"):
            for i in range(10_000):
                with aiobs.train_step(batch_size=8) as step:
                    step.record(loss=1.0 / (i + 1))
        # step spans are sampled; the run span plus at most one span per step
        assert len(telemetry.spans()) <= 10_001


def test_rel_r19_decorated_stages_pickle_and_run_in_spawn_workers():
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import rel_stages

    assert pickle.loads(pickle.dumps(rel_stages.clean)) is rel_stages.clean
    assert pickle.loads(pickle.dumps(rel_stages.step)) is rel_stages.step
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        assert pool.map(rel_stages.clean, [[1, -1, 2], [-3]]) == [[1, 2], []]
        assert pool.map(rel_stages.step, [1, 2, 3]) == [2, 4, 6]


def test_rel_r19_torch_dataloader_spawn_workers():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    data = TensorDataset(torch.arange(64, dtype=torch.float32).reshape(32, 2))
    loader = DataLoader(data, batch_size=8, num_workers=2, multiprocessing_context="spawn")
    with capture():
        with aiobs.training_run(name="rel-loader") as run:
            seen = 0
            for (batch,) in run.watch_loader(loader):
                with aiobs.train_step(batch_size=len(batch)) as step:
                    step.record(loss=batch.sum())
                seen += len(batch)
    assert seen == 32


def test_rel_r20_sketch_survives_hostile_values_and_stays_small():
    np = pytest.importorskip("numpy")
    from aiobs_otel.drift.sketch import ExpHistogram

    rng = np.random.default_rng(7)
    sketch = ExpHistogram()
    specials = np.array([np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, -5e-324, 0.0, -0.0])
    total_finite = 0
    for _ in range(10):  # 10 x 1M values
        batch = np.concatenate([rng.lognormal(0, 2, 999_000), -rng.exponential(3, 991),
                                np.full(0, 1.0), np.repeat(specials, 1)])
        total_finite += int(np.isfinite(batch).sum())
        sketch.update(batch)
    assert sketch.nan_count == 10
    assert sketch.posinf_count == 10 and sketch.neginf_count == 10
    assert sketch.count == total_finite
    assert len(sketch.to_bytes()) <= 64 * 1024
    assert math.isfinite(sketch.quantile(0.5))
    constant = ExpHistogram()
    constant.update(np.full(100_000, 42.0))
    assert abs(constant.quantile(0.5) - 42.0) <= 0.42


def test_rel_r20_quantile_error_within_one_percent_of_numpy():
    np = pytest.importorskip("numpy")
    from aiobs_otel.drift.sketch import ExpHistogram

    values = np.random.default_rng(3).lognormal(1.0, 1.5, 1_000_000)
    sketch = ExpHistogram()
    sketch.update(values)
    for q in (0.1, 0.5, 0.9, 0.99):
        exact = float(np.quantile(values, q))
        assert abs(sketch.quantile(q) - exact) / exact <= 0.01, q


def test_rel_r20_merge_is_associative_with_specials():
    np = pytest.importorskip("numpy")
    from aiobs_otel.drift.sketch import ExpHistogram

    rng = np.random.default_rng(11)
    parts = [np.concatenate([rng.normal(0, 10 ** k, 10_000), [np.nan, np.inf]])
             for k in range(3)]
    a, b, c = (ExpHistogram() for _ in range(3))
    for sketch, values in zip((a, b, c), parts, strict=True):
        sketch.update(values)
    left = a.merged(b).merged(c)
    right = a.merged(b.merged(c))
    assert left.to_bytes() == right.to_bytes()


HOSTILE_TEXTS = ["line1\r\nline2", "\x1b[31mred", "nul\x00", "%s {0}", "lone \ud800",
                 "x" * (1024 * 1024)]


@pytest.mark.parametrize("score", [float("nan"), float("inf"), -1e308, 0.5, None])
def test_rel_r25_record_evaluation_takes_hostile_input_without_an_internal_error(score, tmp_path):
    import json

    from rel_support import pipeline

    from aiobs_otel.setup import providers
    from aiobs_otel.setup.sink import signal_files

    with pipeline(strict=True, sink_dir=tmp_path, traces_exporter="none"):
        for i, text in enumerate(HOSTILE_TEXTS):
            aiobs.record_evaluation(f"judge-{i}-{text[:20]}", score=score, label=text,
                                    explanation=text, response_id=text[:64])
        assert providers.force_flush(timeout_s=5)
    [path] = signal_files(tmp_path, "logs")
    records = [lr for line in path.read_text("utf-8").splitlines()
               for rl in json.loads(line)["resourceLogs"] for sl in rl["scopeLogs"]
               for lr in sl["logRecords"]]
    assert len(records) == len(HOSTILE_TEXTS)
    for record in records:
        for attribute in record.get("attributes", []):
            value = attribute["value"].get("stringValue", "")
            assert len(value) <= 16_384, attribute["key"]


def test_rel_r10_random_evaluation_names_cannot_explode_series():
    with capture(strict=True) as telemetry:
        for i in range(3_000):
            aiobs.record_evaluation(f"judge-{i}", score=0.5, label=f"label-{i}")
        per_metric: dict[str, int] = {}
        for point in telemetry.metrics():
            per_metric[point.name] = per_metric.get(point.name, 0) + 1
        assert per_metric and max(per_metric.values()) <= 2001, per_metric


def test_rel_r20_drift_monitor_takes_hostile_values():
    np = pytest.importorskip("numpy")
    reference = {"x": np.random.default_rng(1).normal(size=5_000)}
    with capture(strict=True):
        monitor = aiobs.DriftMonitor(name="rel-drift", reference=reference, window_size=1_000)
        hostile = np.array([np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324] * 500)
        monitor.observe({"x": hostile})
        monitor.observe({"x": np.full(2_000, 3.0)})
