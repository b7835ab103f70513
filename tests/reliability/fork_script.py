"""Run by test_rel_fork in a subprocess: configure, fill the queue, fork, use telemetry in a child.

argv: endpoint scenario  (scenario: queue | lock | preload | double)
Prints "child-ok <pid>" from each child that finished, "parent-ok" at the end.
"""

import os
import sys
import threading
import time

from opentelemetry.trace import SpanKind

import aiobs_otel as aiobs
from aiobs_otel._core import errors, state
from aiobs_otel._core.wrapping import Operation, Scope, start_span


class Op(Operation):
    def __init__(self, name):
        self.name = name

    def open(self, args, kwargs):
        return Scope(start_span(self.name, SpanKind.INTERNAL, {"pid": os.getpid()}))


def emit(name, n):
    for _ in range(n):
        with Op(name):
            pass


def child(name, endpoint, reconfigure=False):
    if reconfigure:  # takes the library's lock: must not deadlock after a fork
        aiobs.shutdown(timeout_s=1)
        aiobs.configure(endpoint=endpoint, service_name="fork-child")
    emit(name, 5)
    ok = aiobs.shutdown(timeout_s=4)
    print(f"child-ok {os.getpid()} flushed={ok}", flush=True)


def wait(pid):
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    endpoint, scenario = sys.argv[1:3]
    aiobs.configure(endpoint=endpoint, service_name="fork-parent")
    emit("parent.op", 50)  # stays queued: the schedule delay is long
    holder = None
    if scenario == "lock":
        locked = threading.Event()

        def hold():
            with state.STATE.lock, errors._lock:
                locked.set()
                time.sleep(1.5)

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        locked.wait()
    pid = os.fork()
    if pid == 0:
        try:
            if scenario == "double":
                grandchild = os.fork()
                if grandchild == 0:
                    child("grandchild.op", endpoint)
                    os._exit(0)
                child("child.op", endpoint)
                os._exit(wait(grandchild))
            child("child.op", endpoint, reconfigure=scenario == "lock")
        except BaseException as exc:
            print(f"child-failed {exc!r}", flush=True)
            os._exit(1)
        os._exit(0)
    code = wait(pid)
    if holder is not None:
        holder.join()
    emit("parent.after", 3)
    aiobs.shutdown(timeout_s=4)
    print(f"parent-ok child_exit={code}", flush=True)
