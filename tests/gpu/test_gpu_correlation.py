"""GPU samples taken while a span is open carry that span as an exemplar; fork safety."""

from __future__ import annotations

import os

from fakenvml import uuid
from gpuhelpers import wait_sweeps, wait_until
from opentelemetry import trace

import aiobs_otel as aiobs
from aiobs_otel._core import activity
from aiobs_otel._core.wrapping import Operation, Scope, start_span
from aiobs_otel.collectors import gpu


class _Step(Operation):
    """A stand-in for a training step: the real public scopes share this base class."""

    hook_name = "test.step"

    def open(self, args, kwargs):
        return Scope(start_span("train_step", trace.SpanKind.INTERNAL, None))


def test_observation_carries_the_open_span_as_exemplar(fake_nvml, aiobs_capture, collectors):
    collector = aiobs.gpu_collector(interval=0.02)
    collectors.append(collector)
    assert collector.wait_for_sample(5)
    step = _Step()
    with step as scope:
        span_id = scope.span.get_span_context().span_id
        trace_id = scope.span.get_span_context().trace_id
        wait_sweeps(collector, 2)
        point = aiobs_capture.metrics("hw.gpu.utilization")[0].point
    assert point.exemplars, "the utilisation sample links to the step"
    exemplar = point.exemplars[0]
    assert (exemplar.span_id, exemplar.trace_id) == (span_id, trace_id)
    assert activity.latest() is None  # the step ended: nothing published any more
    aiobs_capture.metric_reader.get_metrics_data()  # flush the exemplar of the last collection
    wait_sweeps(collector, 2)
    later = aiobs_capture.metrics("hw.gpu.utilization")[0].point
    assert all(e.span_id != span_id for e in later.exemplars)


class _FakeScope:
    ended = False


def test_innermost_latest_scope_wins_and_nesting_unwinds():
    a, b = _FakeScope(), _FakeScope()
    activity.publish(a, "ctx-a")
    activity.publish(b, "ctx-b")
    assert activity.latest() == "ctx-b"
    activity.retract(b)
    assert activity.latest() == "ctx-a"
    activity.retract(a)
    assert activity.latest() is None


def test_an_ended_scope_that_never_retracted_is_skipped():
    a, b = _FakeScope(), _FakeScope()
    activity.publish(a, "ctx-a")
    activity.publish(b, "ctx-b")
    b.ended = True  # a subclass ended it without calling the base finish()
    assert activity.latest() == "ctx-a"
    assert not activity.is_open(b)
    activity.retract(a)


def test_real_train_step_is_published(fake_nvml, aiobs_capture, collectors):
    collector = aiobs.gpu_collector(interval=0.02)
    collectors.append(collector)
    assert collector.wait_for_sample(5)
    with aiobs.training_run("gpu-correlation"), aiobs.train_step() as step:
        step_id = step.span.get_span_context().span_id
        wait_sweeps(collector, 2)
        point = aiobs_capture.metrics("hw.power")[0].point
    assert [e.span_id for e in point.exemplars] == [step_id], "the step, not the run"
    assert activity.latest() is None


def _fork_and_check(child_check) -> int:
    pid = os.fork()
    if pid == 0:  # child: report through the exit status only
        code = 1
        try:
            code = 0 if child_check() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_forked_child_does_not_inherit_a_dead_sampler(fake_nvml, aiobs_capture, collectors):
    collector = aiobs.gpu_collector(interval=0.02)
    collectors.append(collector)
    assert collector.wait_for_sample(5)

    def child() -> bool:
        return gpu.current() is None and not collector.running and \
            aiobs.gpu_collector(interval=0.02) is not collector

    assert _fork_and_check(child) == 0
    assert collector.running  # the parent's sampler is untouched


def test_forked_child_restarts_when_asked(fake_nvml, aiobs_capture, collectors):
    collector = aiobs.gpu_collector(interval=0.02, restart_after_fork=True)
    collectors.append(collector)
    assert collector.wait_for_sample(5)

    def child() -> bool:
        restarted = gpu.current()
        if restarted is None or restarted is collector:
            return False
        ok = restarted.wait_for_sample(5) and [d.uuid for d in restarted.devices] == [uuid(0)]
        restarted.stop()
        return bool(ok) and wait_until(lambda: not restarted.running, 2)

    assert _fork_and_check(child) == 0


def test_llm_call_is_the_exemplar_while_it_runs(fake_nvml, aiobs_capture, collectors):
    collector = aiobs.gpu_collector(interval=0.02)
    collectors.append(collector)
    assert collector.wait_for_sample(5)
    with aiobs.llm_call(provider="openai", model="gpt-4o") as call:
        call_id = call.span.get_span_context().span_id
        wait_sweeps(collector, 2)
        point = aiobs_capture.metrics("hw.gpu.utilization")[0].point
    assert [e.span_id for e in point.exemplars] == [call_id]
