"""Decorator form, step-span sampling, MFU arithmetic, spike detection and the FLOPs table."""

from __future__ import annotations

import math
import random

import pytest

import aiobs_otel as aiobs
from aiobs_otel import semconv
from aiobs_otel._core import flops, training
from aiobs_otel.testing import capture

torch = pytest.importorskip("torch")


def test_decorator_records_the_returned_loss_inside_a_run():
    model = torch.nn.Linear(3, 1)

    @aiobs.train_step()
    def step_fn(batch):
        loss = model(batch).pow(2).mean()
        loss.backward()
        return loss

    @aiobs.train_step(batch_size=2)
    def dict_step(batch):
        return {"loss": 0.5, "grad_norm": 2.0, "lr": 0.1}

    with capture() as t:
        with aiobs.training_run(name="deco"):
            for _ in range(5):
                step_fn(torch.ones(7, 3))
            dict_step(None)
        steps = t.spans("train_step")
        assert len(steps) == 6
        assert all(s.attributes[semconv.TRAINING_BATCH_SIZE] == 7 for s in steps[:5])
        expected = float(model(torch.ones(1, 3)).pow(2).mean().detach())
        assert steps[0].attributes[semconv.TRAINING_LOSS_ATTR] == pytest.approx(expected)
        last = steps[-1].attributes
        assert (last[semconv.TRAINING_LOSS_ATTR], last[semconv.TRAINING_GRAD_NORM_ATTR],
                last[semconv.TRAINING_LR_ATTR]) == (0.5, 2.0, 0.1)
        (samples,) = t.metrics(semconv.TRAINING_SAMPLES)
        assert samples.value == 5 * 7 + 2


def test_decorator_without_a_run_uses_the_default_run_and_reports_on_collection():
    @aiobs.train_step()
    def step_fn(x):
        return torch.tensor(0.25)

    with capture() as t:
        for _ in range(3):
            step_fn(torch.zeros(4, 2))
        # the values are read late: metric collection reads what is pending
        losses = t.metrics(semconv.TRAINING_LOSS)
        assert [p.value for p in losses] == [0.25]
        assert losses[0].attributes[semconv.TRAINING_RUN_NAME] == "default"
        steps = t.spans("train_step")
        assert len(steps) == 3 and all(s.parent is None for s in steps)


def test_errors_in_a_step_mark_its_span_and_propagate():
    with capture() as t:
        with pytest.raises(ZeroDivisionError), aiobs.training_run(name="err"):
            with aiobs.train_step(batch_size=1):
                1 / 0
        (step,) = t.spans("train_step")
        assert step.attributes[semconv.ERROR_TYPE] == "ZeroDivisionError"
        assert t.spans("training_run err")[0].status.status_code.name == "ERROR"


@pytest.mark.parametrize("every", [1, 10])
def test_step_spans_are_sampled_but_metrics_cover_every_step(every):
    with capture() as t:
        with aiobs.training_run(name="sampled", step_span_every=every):
            for _ in range(100):
                with aiobs.train_step(batch_size=2) as step:
                    step.record(loss=1.0)
        steps = t.spans("train_step")
        assert len(steps) == 100 // every
        assert [s.attributes[semconv.TRAINING_STEP] for s in steps] == list(range(0, 100, every))
        (duration,) = t.metrics(semconv.TRAINING_STEP_DURATION)
        assert duration.count == 100


def test_step_span_every_comes_from_the_setting():
    with capture(step_span_every=25) as t:
        with aiobs.training_run(name="from-settings"):
            for _ in range(100):
                with aiobs.train_step():
                    pass
        assert len(t.spans("train_step")) == 4


def test_a_child_span_of_an_unsampled_step_belongs_to_the_run():
    with capture() as t:
        with aiobs.training_run(name="kids", step_span_every=2):
            for _ in range(2):
                with aiobs.train_step():
                    t.tracer_provider.get_tracer("user").start_span("user-work").end()
        (run_span,) = t.spans("training_run kids")
        sampled, unsampled = t.spans("user-work")
        (step,) = t.spans("train_step")
        assert sampled.parent.span_id == step.context.span_id
        assert unsampled.parent.span_id == run_span.context.span_id


def test_mfu_is_model_flops_over_step_time_over_peak():
    peak = 2.0e12
    with capture() as t:
        with aiobs.training_run(name="mfu", parameters=1_000_000, tokens_per_sample=128,
                                peak_flops=peak):
            with aiobs.train_step(batch_size=8) as step:
                step.record(loss=1.0)
        (span,) = t.spans("train_step")
        seconds = (span.attributes[semconv.TRAINING_STEP_DURATION_ATTR]
                   + span.attributes[semconv.TRAINING_DATA_WAIT_ATTR])
        achieved = 6 * 1_000_000 * 128 * 8 / seconds
        (mfu,) = t.metrics(semconv.TRAINING_MFU)
        (got,) = t.metrics(semconv.TRAINING_ACHIEVED_FLOPS)
        (denominator,) = t.metrics(semconv.TRAINING_PEAK_FLOPS)
        assert got.value == pytest.approx(achieved)
        assert mfu.value == pytest.approx(achieved / peak)
        assert denominator.value == peak
        (tokens,) = t.metrics(semconv.TRAINING_TOKENS)
        assert tokens.value == 8 * 128
        run_span = t.spans("training_run mfu")[0]
        assert run_span.attributes[semconv.TRAINING_FLOPS_PER_SAMPLE] == 6 * 1_000_000 * 128


def test_mfu_excludes_embeddings_per_token_and_honours_the_peak_setting():
    model = torch.nn.Sequential(torch.nn.Embedding(100, 4), torch.nn.Linear(4, 4))
    with capture(training_peak_flops=1e9) as t:
        with aiobs.training_run(name="lm", model=model, tokens_per_sample=16):
            with aiobs.train_step(batch_size=2):
                pass
        run_span = t.spans("training_run lm")[0]
        assert run_span.attributes[semconv.TRAINING_PEAK_FLOPS_ATTR] == 1e9
        assert run_span.attributes[semconv.TRAINING_FLOPS_PER_SAMPLE] == 6 * (16 + 4) * 16
        assert run_span.attributes[semconv.TRAINING_PRECISION] == "fp32"


@pytest.mark.parametrize(("name", "precision", "tflops"), [
    ("NVIDIA A100-SXM4-80GB", "bf16", 312.0),
    ("NVIDIA A100 80GB PCIe", "tf32", 156.0),
    ("NVIDIA H100 80GB HBM3", "bf16", 989.4),
    ("NVIDIA H100 PCIe", "fp16", 756.0),
    ("NVIDIA H100 NVL", "fp8", 1670.5),
    ("NVIDIA H200", "bfloat16", 989.4),
    ("NVIDIA H200 NVL", "bf16-mixed", 835.5),
    ("NVIDIA H200", "float32", 67.0),
])
def test_peak_flops_table(name, precision, tflops):
    assert flops.peak_flops(name, precision) == pytest.approx(tflops * 1e12)


def test_peak_flops_unknown_chip_or_dtype():
    assert flops.peak_flops("Tesla T4", "fp16") is None
    assert flops.peak_flops("NVIDIA A100", "fp8") is None
    assert flops.peak_flops("NVIDIA A100", "int4") is None


def test_tf32_is_picked_for_fp32_when_matmul_precision_allows_it():
    facts = training._ModelFacts(dtype="float32")
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")
        assert training._precision(facts, None) == "tf32"
        torch.set_float32_matmul_precision("highest")
        assert training._precision(facts, None) == "fp32"
        assert training._precision(facts, "bf16") == "bf16"
    finally:
        torch.set_float32_matmul_precision(before)


def _run_losses(losses, **options):
    with capture() as t:
        with aiobs.training_run(name="spiky", **options):
            for value in losses:
                with aiobs.train_step() as step:
                    step.record(loss=value)
        return [r.log_record.attributes for r in t.logs(semconv.TRAINING_ANOMALY_EVENT)]


def test_a_loss_spike_is_flagged_by_robust_z_score_and_noise_is_not():
    rng = random.Random(3)
    noisy = [2.0 * math.exp(-i / 300) + rng.gauss(0, 0.02) for i in range(200)]
    assert _run_losses(noisy) == []
    spiked = [*noisy[:120], 5.0, *noisy[120:]]
    (event,) = _run_losses(spiked)
    assert event[semconv.TRAINING_ANOMALY_KIND] == semconv.ANOMALY_LOSS_SPIKE
    assert event[semconv.TRAINING_STEP] == 120
    assert event[semconv.TRAINING_ANOMALY_SCORE] > event[semconv.TRAINING_ANOMALY_THRESHOLD]


def test_robust_z_score():
    assert training.robust_z(3.0, 1.0, 0.6745) == pytest.approx(2.0)
    assert training.robust_z(1.0, 1.0, 0.0) == 0.0
    assert training.robust_z(1.1, 1.0, 0.0) > 1000  # a flat loss: any jump is a spike


def test_repeated_anomalies_are_counted_but_logged_at_a_bounded_rate():
    events = _run_losses([float("nan")] * 250)
    assert [e[semconv.TRAINING_STEP] for e in events] == [0, 100, 200]
    assert events[1][semconv.TRAINING_ANOMALY_SUPPRESSED] == 99


def test_step_span_every_must_be_positive():
    with pytest.raises(ValueError):
        aiobs.training_run(name="x", step_span_every=0)


def test_training_run_as_a_decorator_and_async_steps_with_extra_values():
    import asyncio

    @aiobs.training_run(name="decorated")
    def train():
        async def steps():
            for i in range(3):
                async with aiobs.train_step(batch_size=1, tokens=10) as step:
                    step.record(loss=float(i), accuracy=0.5 + i / 10)

        asyncio.run(steps())
        return "done"

    with capture() as t:
        assert train() == "done"
        (run_span,) = t.spans("training_run decorated")
        steps = t.spans("train_step")
        assert [s.attributes["aiobs.training.accuracy"] for s in steps] == [0.5, 0.6, 0.7]
        assert all(s.parent.span_id == run_span.context.span_id for s in steps)
        (tokens,) = t.metrics(semconv.TRAINING_TOKENS)
        assert tokens.value == 30


def test_finished_runs_keep_reporting_their_last_values_and_runs_are_separate_series():
    with capture() as t:
        for name, loss in (("a", 1.0), ("b", 2.0)):
            with aiobs.training_run(name=name):
                with aiobs.train_step() as step:
                    step.record(loss=loss)
        losses = {p.attributes[semconv.TRAINING_RUN_NAME]: p.value
                  for p in t.metrics(semconv.TRAINING_LOSS)}
        assert losses == {"a": 1.0, "b": 2.0}
        counts = {p.attributes[semconv.TRAINING_RUN_NAME]: p.count
                  for p in t.metrics(semconv.TRAINING_STEP_DURATION)}
        assert counts == {"a": 1, "b": 1}


def test_automatic_step_sampling_keeps_short_runs_whole_and_thins_long_ones():
    from aiobs_otel._core.training import step_is_sampled

    assert all(step_is_sampled(i, None) for i in range(1000))
    assert [i for i in range(1000, 1300) if step_is_sampled(i, None)] == [1000, 1100, 1200]
    assert sum(step_is_sampled(i, None) for i in range(1_000_000)) == 1000 + 9990
    with capture() as t:
        with aiobs.training_run(name="long"):
            for _ in range(1300):
                with aiobs.train_step(batch_size=1) as step:
                    step.record(loss=0.5)
        assert len(t.spans("train_step")) == 1003
