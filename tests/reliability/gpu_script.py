"""Run by test_rel_gpu with the fake NVML on LD_LIBRARY_PATH.

argv: scenario (hang | fork). Prints one "result ..." line per check.
"""

import os
import sys
import threading
import time

import aiobs_otel as aiobs


def app_work(seconds):
    """A busy loop standing in for the application; returns its longest iteration gap."""
    worst, last, end = 0.0, time.monotonic(), time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(1000))
        now = time.monotonic()
        worst, last = max(worst, now - last), now
    return worst


if __name__ == "__main__":
    scenario = sys.argv[1]
    aiobs.configure(service_name="gpu-rel", metrics_exporter="none", traces_exporter="none",
                    logs_exporter="none")
    if scenario == "hang":
        import pynvml

        def hang(*args, **kwargs):
            time.sleep(5)
            return 150_000

        pynvml.nvmlDeviceGetPowerUsage = hang
        collector = aiobs.gpu_collector(interval=0.1)
        worst = app_work(1.5)
        started = time.monotonic()
        collector.stop()
        print(f"result stop_s={time.monotonic() - started:.3f} worst_gap_s={worst:.3f}", flush=True)
    elif scenario == "fork":
        collector = aiobs.gpu_collector(interval=0.1)
        time.sleep(0.3)
        pid = os.fork()
        if pid == 0:
            samplers = [t for t in threading.enumerate() if t.name == "aiobs-gpu-sampler"]
            from aiobs_otel.collectors import gpu

            print(f"result child_samplers={len(samplers)} current={gpu.current()}", flush=True)
            started = time.monotonic()
            aiobs.shutdown(timeout_s=2)
            print(f"result child_shutdown_s={time.monotonic() - started:.3f}", flush=True)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print(f"result child_exit={os.waitstatus_to_exitcode(status)}", flush=True)
        collector.stop()
    aiobs.shutdown(timeout_s=2)
