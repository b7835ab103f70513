"""Run in a subprocess by test_rel_shutdown: configure, emit, then exit or shut down.

argv: endpoint protocol action [n]
action: exit (the interpreter exits; our atexit hook shuts down), shutdown (explicit
shutdown() with the default cap, its duration and result printed), flush (force_flush(1.0)).
"""

import sys
import time

from opentelemetry.trace import SpanKind

import aiobs_otel as aiobs
from aiobs_otel._core.otel import event_logger, meter
from aiobs_otel._core.wrapping import Operation, Scope, start_span


class Demo(Operation):
    def open(self, args, kwargs):
        return Scope(start_span("exit.op", SpanKind.INTERNAL, {"n": 1}))


@Demo()
def work(x):
    return x


if __name__ == "__main__":
    endpoint, protocol, action = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    aiobs.configure(endpoint=endpoint, protocol=protocol, service_name="exit-test")
    counter = meter().create_counter("aiobs.test.calls")
    for i in range(n):
        work(i)
        counter.add(1)
        event_logger().emit(event_name="aiobs.test.event", body={"i": i})
    if action == "shutdown":
        start = time.monotonic()
        ok = aiobs.shutdown()
        print(f"shutdown={ok} took={time.monotonic() - start:.3f}")
        work(1)  # after shutdown: a no-op, never an error, and no new pipeline
        from aiobs_otel._core import state

        print(f"after-shutdown-ok configured={state.STATE.configured}")
    elif action == "flush":
        start = time.monotonic()
        ok = aiobs.force_flush(1.0)
        print(f"flush={ok} took={time.monotonic() - start:.3f}")
    print("exiting", flush=True)
    sys.stdout.flush()
