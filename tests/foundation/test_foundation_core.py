"""The core: the wrapping mechanism, the error discipline, configure(), the sink's rotation."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import pickle
import threading

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import aiobs_otel as aiobs
from aiobs_otel._core import errors, state
from aiobs_otel._core.wrapping import NOOP_SCOPE, Operation, Scope, start_span
from aiobs_otel.cli import report
from aiobs_otel.cli.sinkdata import load
from aiobs_otel.setup.sink import JsonLinesFile, signal_files


class Probe(Scope):
    hook_name = "probe"

    def __init__(self, span, fail_in=None):
        super().__init__(span)
        self.items = []
        self.fail_in = fail_in

    def on_item(self, item):
        if self.fail_in == "on_item":
            raise RuntimeError("hook broke")
        self.items.append(item)

    def on_end(self, error):
        if self.fail_in == "on_end":
            raise RuntimeError("hook broke")
        self.span.set_attribute("probe.items", len(self.items))


class probe(Operation):
    hook_name = "probe"

    def __init__(self, fail_in=None):
        self.fail_in = fail_in

    def open(self, args, kwargs):
        if self.fail_in == "open":
            raise RuntimeError("open broke")
        return Probe(start_span("probe", SpanKind.INTERNAL, None), self.fail_in)


@probe()
def double(x: int, *, times: int = 2) -> int:
    """Doubles."""
    return x * times


def test_function_keeps_result_signature_metadata_and_pickles(aiobs_capture):
    assert double(4) == 8
    assert double.__name__ == "double" and double.__doc__ == "Doubles."
    assert inspect.signature(double) == inspect.signature(double.__wrapped__)
    assert list(inspect.signature(double).parameters) == ["x", "times"]
    assert pickle.loads(pickle.dumps(double)) is double
    [span] = aiobs_capture.spans("probe")
    assert span.status.status_code is StatusCode.UNSET


def test_exception_is_the_users_and_marks_the_span(aiobs_capture):
    class Boom(Exception):
        pass

    err = Boom("x")

    @probe()
    def fail():
        raise err

    with pytest.raises(Boom) as info:
        fail()
    assert info.value is err
    [span] = aiobs_capture.spans("probe")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"].endswith("Boom")


def test_generator_spans_cover_iteration_and_keep_send_throw_close(aiobs_capture):
    @probe()
    def echo():
        received = []
        try:
            while True:
                received.append((yield len(received)))
        except ValueError:
            yield "thrown"
        return received

    assert inspect.isgeneratorfunction(echo)
    gen = echo()
    assert next(gen) == 0 and gen.send("a") == 1
    assert gen.throw(ValueError()) == "thrown"
    gen.close()
    [span] = aiobs_capture.spans("probe")
    assert span.attributes["probe.items"] == 3
    assert span.attributes["error.type"] == "GeneratorExit"


def test_context_is_active_only_while_the_generator_runs(aiobs_capture):
    from opentelemetry import trace

    @probe()
    def gen():
        yield trace.get_current_span().get_span_context().span_id

    it = gen()
    inner = next(it)
    assert trace.get_current_span().get_span_context().span_id != inner
    list(it)


def test_async_function_and_async_generator(aiobs_capture):
    @probe()
    async def coro(x):
        await asyncio.sleep(0)
        return x + 1

    @probe()
    async def agen(n):
        for i in range(n):
            yield i

    async def main():
        assert await coro(1) == 2
        return [i async for i in agen(3)]

    assert inspect.iscoroutinefunction(coro) and inspect.isasyncgenfunction(agen)
    assert asyncio.run(main()) == [0, 1, 2]
    spans = aiobs_capture.spans("probe")
    assert len(spans) == 2 and spans[1].attributes["probe.items"] == 3


def test_with_and_async_with_nest_spans(aiobs_capture):
    async def main():
        with probe() as outer:
            async with probe() as inner:
                assert inner is not outer
    asyncio.run(main())
    inner, outer = aiobs_capture.spans("probe")
    assert inner.parent.span_id == outer.context.span_id


def test_failing_hooks_never_reach_the_call_without_strict(aiobs_capture, caplog):
    state.current_settings()
    state._apply_settings(aiobs.Settings(strict=False))
    errors.reset_for_tests()

    @probe(fail_in="on_end")
    def ok():
        return "fine"

    @probe(fail_in="open")
    def bare():
        return "bare"

    with caplog.at_level(logging.WARNING, logger="aiobs_otel"):
        assert [ok() for _ in range(5)] == ["fine"] * 5
        assert bare() == "bare"
        with probe(fail_in="open") as handle:
            assert handle is NOOP_SCOPE
            handle.set_response("anything")  # every handle method exists and does nothing
    assert errors.error_counts() == {"probe.on_end": 5, "probe.open": 2}
    logged = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert len(logged) == 2  # once per hook per minute
    assert len(aiobs_capture.spans("probe")) == 5  # spans still end when a hook fails


def test_strict_mode_raises_internal_errors(aiobs_capture):
    @probe(fail_in="on_end")
    def ok():
        return 1

    with pytest.raises(errors.InternalError):
        ok()


def test_base_exceptions_are_never_swallowed(aiobs_capture):
    @probe()
    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupt()


def test_disabled_is_a_cheap_no_op(aiobs_capture):
    state._apply_settings(aiobs.Settings(disabled=True, strict=True))
    assert double(2) == 4
    with probe() as handle:
        assert handle is NOOP_SCOPE
    assert aiobs_capture.spans() == []


def test_configure_is_idempotent_and_thread_safe(fresh_state, tmp_path, caplog):
    results = []

    def call():
        results.append(aiobs.configure(service_name="svc", sink_dir=tmp_path / "s",
                                       traces_exporter="none", metrics_exporter="none",
                                       logs_exporter="none"))

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(r) for r in results}) >= 1 and len(set(results)) == 1
    provider = state.STATE.tracer_provider
    with caplog.at_level(logging.WARNING, logger="aiobs_otel"):
        aiobs.configure(service_name="other", traces_exporter="none", metrics_exporter="none",
                        logs_exporter="none", sink_dir=tmp_path / "s")
    assert state.STATE.tracer_provider is provider
    assert "service_name unchanged" in caplog.text
    with pytest.raises(ValueError, match="shutdown_timeout_s"):
        aiobs.configure(shutdown_timeout_s=0)


def test_sink_rotation_bounds_the_directory(tmp_path):
    file = JsonLinesFile(tmp_path, "traces", max_bytes=1000, backups=2)
    for i in range(100):
        file.write(json.dumps({"resourceSpans": [], "i": i, "pad": "x" * 80}))
    files = signal_files(tmp_path, "traces")
    assert [f.name for f in files] == ["traces.2.jsonl", "traces.1.jsonl", "traces.jsonl"]
    assert all(f.stat().st_size <= 1000 for f in files)
    last = json.loads(files[-1].read_text().splitlines()[-1])
    assert last["i"] == 99  # the newest data is kept, the oldest dropped


def test_report_summarises_spans_and_metrics(tmp_path):
    span = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "chat gpt", "kind": 3,
            "startTimeUnixNano": "1000000000", "endTimeUnixNano": "1250000000",
            "status": {"code": 2}}
    (tmp_path / "traces.jsonl").write_text(json.dumps(
        {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\nnot json\n")
    metric = {"name": "aiobs.test.count", "unit": "1", "sum": {
        "aggregationTemporality": 2, "isMonotonic": True,
        "dataPoints": [{"asInt": "7", "timeUnixNano": "5"}]}}
    (tmp_path / "metrics.jsonl").write_text(json.dumps(
        {"resourceMetrics": [{"scopeMetrics": [{"metrics": [metric]}]}]}) + "\n")
    data = load(tmp_path)
    text = report.render(data)
    assert data.bad_lines == 1
    assert "chat gpt" in text and "100.0%" in text and "250" in text
    assert "aiobs.test.count" in text and " 7" in text
