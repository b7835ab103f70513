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
