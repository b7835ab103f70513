"""Real PyTorch on CPU: a tiny model trained for a few hundred steps with aiobs telemetry."""

from __future__ import annotations

import math
import time

import pytest

torch = pytest.importorskip("torch")

import aiobs_otel as aiobs  # noqa: E402
from aiobs_otel import semconv  # noqa: E402
from aiobs_otel.testing import capture  # noqa: E402

STEPS = 300
NAN_AT = 150


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def _batches(n, delay_s=0.0, stall_at=None, stall_s=0.0):
    generator = torch.Generator().manual_seed(1)
    for i in range(n):
        if delay_s:
            time.sleep(delay_s)
        if i == stall_at:
            time.sleep(stall_s)
        x = torch.randn(4, 8, generator=generator)
        yield x, x.sum(dim=1, keepdim=True)


def _train(loader, steps, nan_at=None, **run_options):
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with aiobs.training_run(name="tiny", model=model, optimizer=opt, **run_options) as run:
        for i, (x, y) in enumerate(run.watch_loader(loader)):
            with aiobs.train_step(batch_size=len(x)) as step:
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                if i == nan_at:
                    loss = loss * float("nan")  # injected: a NaN loss (and so a NaN grad norm)
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                if torch.isfinite(norm):  # the test's own guard so the weights stay finite
                    opt.step()
                step.record(loss=loss, grad_norm=norm)
            if i + 1 >= steps:
                break
    return model


def test_tiny_model_run_reports_steps_metrics_and_the_injected_nan():
    with capture() as t:
        _train(_batches(STEPS), STEPS, nan_at=NAN_AT)
        runs = t.spans("training_run tiny")
        assert len(runs) == 1
        run_span = runs[0]
        assert run_span.attributes[semconv.TRAINING_STEPS] == STEPS
        assert run_span.attributes[semconv.TRAINING_MODEL_PARAMETERS] == 8 * 16 + 16 + 16 + 1
        assert run_span.attributes[semconv.TRAINING_TIMING] == "host"
        steps = t.spans("train_step")
        assert len(steps) == STEPS
        assert all(s.parent is not None and s.parent.span_id == run_span.context.span_id
                   for s in steps)
        assert [s.attributes[semconv.TRAINING_STEP] for s in steps] == list(range(STEPS))
        finite = [s for s in steps if s.attributes[semconv.TRAINING_STEP] != NAN_AT]
        assert all(math.isfinite(s.attributes[semconv.TRAINING_LOSS_ATTR]) for s in finite)
        assert all(s.attributes[semconv.TRAINING_LR_ATTR] == 0.05 for s in finite)
        # the loss went down
        first = sum(s.attributes[semconv.TRAINING_LOSS_ATTR] for s in finite[:20])
        last = sum(s.attributes[semconv.TRAINING_LOSS_ATTR] for s in finite[-20:])
        assert last < first

        # the NaN: a span event on its step, a log event, and the counter
        nan_step = next(s for s in steps if s.attributes[semconv.TRAINING_STEP] == NAN_AT)
        kinds = {e.attributes[semconv.TRAINING_ANOMALY_KIND] for e in nan_step.events}
        assert kinds == {semconv.ANOMALY_LOSS_NAN, semconv.ANOMALY_GRAD_NORM_NAN}
        logs = t.logs(semconv.TRAINING_ANOMALY_EVENT)
        assert {r.log_record.attributes[semconv.TRAINING_ANOMALY_KIND] for r in logs} == kinds
        assert all(r.log_record.attributes[semconv.TRAINING_STEP] == NAN_AT for r in logs)
        assert all(r.log_record.span_id == nan_step.context.span_id for r in logs)
        anomalies = {p.attributes["kind"]: p.value for p in t.metrics(semconv.TRAINING_ANOMALIES)}
        assert anomalies == {semconv.ANOMALY_LOSS_NAN: 1, semconv.ANOMALY_GRAD_NORM_NAN: 1}

        (duration,) = t.metrics(semconv.TRAINING_STEP_DURATION)
        assert duration.count == STEPS and duration.unit == "s" and duration.sum > 0
        (wait,) = t.metrics(semconv.TRAINING_DATA_WAIT_DURATION)
        assert wait.count == STEPS
        by_name = {p.name: p for p in t.metrics() if p.attributes.get(
            semconv.TRAINING_RUN_NAME) == "tiny"}
        assert by_name[semconv.TRAINING_SAMPLES].value == 4 * STEPS
        assert by_name[semconv.TRAINING_STEP_COUNT].value == STEPS
        assert math.isfinite(by_name[semconv.TRAINING_LOSS].value)
        assert by_name[semconv.TRAINING_GRAD_NORM].value > 0
        assert by_name[semconv.TRAINING_LEARNING_RATE].value == 0.05
        assert by_name[semconv.TRAINING_THROUGHPUT].value > 0
        assert semconv.TRAINING_MFU not in by_name  # CPU: no known peak FLOPs
        assert semconv.TRAINING_TOKENS not in by_name


def _data_wait(loader, steps, **options):
    with capture() as t:
        _train(loader, steps, **options)
        (wait,) = t.metrics(semconv.TRAINING_DATA_WAIT_DURATION)
        stalls = [r for r in t.logs(semconv.TRAINING_ANOMALY_EVENT)
                  if r.log_record.attributes[semconv.TRAINING_ANOMALY_KIND]
                  == semconv.ANOMALY_DATA_STALL]
        spans = t.spans("train_step")
        return wait.sum, stalls, spans


def test_data_wait_grows_when_the_loader_is_slow_and_a_stall_is_flagged():
    steps = 40
    fast_sum, fast_stalls, _ = _data_wait(_batches(steps), steps)
    slow_sum, slow_stalls, spans = _data_wait(
        _batches(steps, delay_s=0.003, stall_at=20, stall_s=0.3), steps)
    assert slow_sum > fast_sum
    assert slow_sum - fast_sum > 0.5 * (steps * 0.003 + 0.3)  # about the sleeps injected
    assert not fast_stalls
    assert [r.log_record.attributes[semconv.TRAINING_STEP] for r in slow_stalls] == [20]
    waits = {s.attributes[semconv.TRAINING_STEP]: s.attributes[semconv.TRAINING_DATA_WAIT_ATTR]
             for s in spans}
    assert waits[20] == max(waits.values())
    assert any(e.name == semconv.TRAINING_ANOMALY_EVENT
               for s in spans if s.attributes[semconv.TRAINING_STEP] == 20 for e in s.events)


def test_checkpoint_is_timed_as_a_child_span_and_a_histogram(tmp_path):
    model = _model()
    with capture() as t:
        with aiobs.training_run(name="ckpt", model=model) as run:
            with run.checkpoint(str(tmp_path / "m.pt")):
                torch.save(model.state_dict(), tmp_path / "m.pt")
        (span,) = t.spans("checkpoint")
        (run_span,) = t.spans("training_run ckpt")
        assert span.parent.span_id == run_span.context.span_id
        assert span.attributes[semconv.TRAINING_CHECKPOINT_PATH].endswith("m.pt")
        (point,) = t.metrics(semconv.TRAINING_CHECKPOINT_DURATION)
        assert point.count == 1 and point.sum > 0


def test_torch_distributed_process_group_is_on_the_run_span(tmp_path):
    dist = torch.distributed
    if not dist.is_available():
        pytest.skip("torch.distributed not built in")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0,
                            world_size=1)
    try:
        with capture() as t:
            with aiobs.training_run(name="ddp", model=_model()):
                pass
            (span,) = t.spans("training_run ddp")
            assert span.attributes[semconv.RESOURCE_RANK] == 0
            assert span.attributes[semconv.RESOURCE_WORLD_SIZE] == 1
            assert span.attributes[semconv.TRAINING_DISTRIBUTED_BACKEND] == "gloo"
    finally:
        dist.destroy_process_group()


def test_disabled_library_leaves_the_loop_untouched():
    with capture(disabled=True) as t:
        data = list(_batches(5))
        with aiobs.training_run(name="off", model=_model()) as run:
            assert run.watch_loader(data) is data
            for x, _ in run.watch_loader(data):
                with aiobs.train_step(batch_size=len(x)) as step:
                    step.record(loss=torch.tensor(1.0))
            with run.checkpoint("x"):
                pass
        assert t.spans() == []
