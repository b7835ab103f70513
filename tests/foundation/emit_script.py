"""Run in a subprocess by the export tests: configure from env/args, emit one of each signal."""

import sys

from opentelemetry.trace import SpanKind

import aiobs_otel as aiobs
from aiobs_otel._core.otel import event_logger, meter
from aiobs_otel._core.wrapping import Operation, Scope, start_span


class Demo(Operation):
    def open(self, args, kwargs):
        return Scope(start_span("demo.op", SpanKind.INTERNAL, {"demo.arg": 1}))


@Demo()
def work(x):
    return x * 2


if __name__ == "__main__":
    kwargs = dict(arg.split("=", 1) for arg in sys.argv[1:])
    aiobs.configure(service_name="export-test", **kwargs)
    assert work(21) == 42
    meter().create_counter("aiobs.test.calls", unit="{call}").add(2, {"k": "v"})
    event_logger().emit(event_name="aiobs.test.event", body={"hello": "world"})
    assert aiobs.shutdown(), "shutdown timed out"
    print("done")
