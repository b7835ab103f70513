"""No host sync on the hot path: record() keeps references; values are read late, in batches.

A torch.Tensor subclass logs every call that reads a value back to the host (``item``,
``__float__``, ``tolist``, ``__bool__``, ``numpy``...). The test fails if a step reads its
own tensors before it is well behind, i.e. if record() or the step's end ever syncs.
A fake CUDA module then drives the CUDA-event path: values are read only once the step's
event reports completion, and timing comes from the event pair.
"""

from __future__ import annotations

import pytest

import aiobs_otel as aiobs
from aiobs_otel import semconv
from aiobs_otel._core import training
from aiobs_otel.testing import capture

torch = pytest.importorskip("torch")

_READS = {"item", "__float__", "__int__", "__bool__", "tolist", "numpy", "__index__",
          "__array__", "cpu", "__format__", "__repr__"}


class Spy(torch.Tensor):
    reads: list[float] = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        result = super().__torch_function__(func, types, args, kwargs or {})
        if getattr(func, "__name__", "") in _READS:
            with torch._C.DisableTorchFunctionSubclass():
                cls.reads.append(float(args[0].detach().reshape(-1)[0]))
        return result


def spy(value):
    return torch.tensor(float(value)).as_subclass(Spy)


def test_recording_tensors_never_reads_them_on_the_hot_path():
    Spy.reads = []
    with capture() as t:
        with aiobs.training_run(name="nosync"):
            for i in range(40):
                with aiobs.train_step(batch_size=1) as step:
                    loss, norm = spy(i), spy(1000 + i)
                    step.record(loss=loss, grad_norm=norm)
                    assert Spy.reads == [] or max(v for v in Spy.reads if v < 1000) < i - 7
                # the step has ended: still none of the last 8 steps has been read
                recent = [v for v in Spy.reads if v < 1000]
                assert not recent or max(recent) <= i - 8
            assert len(Spy.reads) < 80  # some are still pending at the end of the loop
        # the run's end reads everything that was pending
        assert sorted(v for v in Spy.reads if v < 1000) == list(range(40))
        steps = t.spans("train_step")
        assert [s.attributes[semconv.TRAINING_LOSS_ATTR] for s in steps] == list(range(40))


def test_a_step_that_records_the_grad_of_a_live_graph_keeps_no_graph():
    w = torch.ones(3, requires_grad=True)
    with capture():
        with aiobs.training_run(name="graph") as run:
            with aiobs.train_step() as step:
                loss = (w * 2).sum()
                step.record(loss=loss)
                loss.backward()
            (pending,) = run._pending
            assert pending.loss.grad_fn is None and not pending.loss.requires_grad


# --- the CUDA path, driven by a fake torch.cuda (no GPU here) -------------------------------------


class FakeEvent:
    created = 0
    elapsed_ms = 12.5

    def __init__(self, enable_timing=False):
        FakeEvent.created += 1
        self.done = False
        self.recorded = 0
        self.synchronized = 0

    def record(self):
        self.recorded += 1
        self.done = False

    def query(self):
        return self.done

    def synchronize(self):
        self.synchronized += 1
        self.done = True

    def elapsed_time(self, end):
        assert self.done and end.done, "elapsed_time before completion raises on CUDA"
        return FakeEvent.elapsed_ms


class FakeCudaTensor:
    """Stands for a CUDA scalar: is_cuda, detach, and a non_blocking copy to the host."""

    is_cuda = True
    requires_grad = False

    def __init__(self, value):
        self.value = value
        self.copies = []

    def detach(self):
        return self

    def to(self, device, non_blocking=False):
        self.copies.append((device, non_blocking))
        return torch.tensor(self.value)

    def item(self):
        raise AssertionError("a CUDA tensor was read directly (a device sync)")


class FakeTorch:
    class cuda:
        Event = FakeEvent


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(training, "_torch", lambda: FakeTorch)
    FakeEvent.created = 0
    return FakeTorch


def test_cuda_values_are_copied_non_blocking_and_read_when_the_event_completes(fake_cuda):
    with capture() as t:
        run = training.start_run("cuda")
        run._cuda = True  # as for a model on a CUDA device
        handles = []
        for i in range(5):
            step = run.start_step(batch_size=2)
            value = FakeCudaTensor(float(i))
            step.record(loss=value)
            assert value.copies == [("cpu", True)]
            step.end()
            handles.append(step)
        assert FakeEvent.created == 2 * training._RING_SIZE  # one ring, allocated once
        assert len(run._pending) == 5 and t.spans("train_step") == []
        # the device finishes the first two steps: they are read at the next step boundary
        for step in handles[:2]:
            step.events[0].done = step.events[1].done = True
        run.drain()
        assert len(run._pending) == 3
        assert [s.attributes[semconv.TRAINING_LOSS_ATTR] for s in t.spans("train_step")] == [
            0.0, 1.0]
        assert all(s.attributes[semconv.TRAINING_STEP_DURATION_ATTR] == 0.0125
                   for s in t.spans("train_step"))
        assert all(h.events[1].synchronized == 0 for h in handles)
        run.end()  # the run's end waits on the remaining events only
        assert [h.events[1].synchronized for h in handles] == [0, 0, 1, 1, 1]
        assert len(t.spans("train_step")) == 5
        (duration,) = t.metrics(semconv.TRAINING_STEP_DURATION)
        assert duration.count == 5 and duration.sum == pytest.approx(5 * 0.0125)


def test_cuda_backlog_is_bounded_by_waiting_for_the_oldest_only(fake_cuda):
    with capture():
        run = training.start_run("backlog")
        run._cuda = True
        handles = []
        for _ in range(training._LAG_LIMIT):
            step = run.start_step()
            step.record(loss=FakeCudaTensor(1.0))
            step.end()
            handles.append(step)
        waited = [h.events[1].synchronized for h in handles]
        assert waited == [1] * (training._LAG_LIMIT // 2) + [0] * (training._LAG_LIMIT // 2)
        assert len(run._pending) == training._LAG_LIMIT // 2
        run.end()


def test_cuda_tensor_in_a_host_timed_run_gets_a_readiness_event(fake_cuda):
    with capture() as t:
        run = training.start_run("late-cuda")
        step = run.start_step()
        step.record(loss=FakeCudaTensor(3.0))
        step.end()
        assert isinstance(step.ready_event, FakeEvent) and step.events is None
        assert run._cuda  # the next steps are timed with events
        step.ready_event.done = True
        run.drain()
        (span,) = t.spans("train_step")
        assert span.attributes[semconv.TRAINING_LOSS_ATTR] == 3.0
        run.end()
