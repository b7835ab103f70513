"""Whole processes: AIOBS_GPU=true through configure() and opentelemetry-instrument, exported to a
real OTLP receiver; the library-missing and lost-GPU paths keep the application alive."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fakenvml import GIB, expected, uuid

APP = textwrap.dedent("""
    import os, time
    import aiobs_otel as aiobs
    {start}
    from aiobs_otel.collectors import gpu
    collector = gpu.current()
    print("COLLECTOR", collector is not None and collector.wait_for_sample(5))
    time.sleep(float(os.environ.get("APP_RUN_S", "0.8")))
    print("STATUS", collector.status if collector is not None else None)
    aiobs.shutdown()
    print("ALIVE")
""")


def run_app(env: dict[str, str], start: str = "aiobs.configure()", prefix: tuple[str, ...] = (),
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, sys.executable, "-c", APP.format(start=start)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def otlp_env(env: dict[str, str], receiver, **extra: str) -> dict[str, str]:
    return {**env, "AIOBS_GPU": "true", "AIOBS_GPU_INTERVAL": "0.05",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_METRIC_EXPORT_INTERVAL": "200",
            "OTEL_SERVICE_NAME": "gpu-test", **extra}


def points(receiver, name: str) -> list[tuple[dict, float, object]]:
    from otlp_receiver import attrs

    found = []
    for metric in receiver.metrics():
        if metric.name != name:
            continue
        kind = metric.WhichOneof("data")
        for dp in getattr(metric, kind).data_points:
            value = dp.as_double if dp.WhichOneof("value") == "as_double" else dp.as_int
            found.append((attrs(dp.attributes), value, metric))
    return found


def latest(receiver, name: str, **match) -> float:
    values = [v for a, v, _ in points(receiver, name)
              if all(a.get(k) == want for k, want in match.items())]
    assert values, f"no {name} point with {match}"
    return values[-1]


def test_configure_with_aiobs_gpu_exports_over_otlp(subprocess_env, otlp_receiver):
    env = otlp_env(subprocess_env, otlp_receiver, FAKE_NVML_GPUS="2", AIOBS_GPU_MODE="node")
    done = run_app(env)
    assert done.returncode == 0, done.stderr
    assert "COLLECTOR True" in done.stdout and "ALIVE" in done.stdout
    want0, want1 = expected(0), expected(1)
    assert latest(otlp_receiver, "hw.gpu.utilization", **{"hw.id": uuid(1)}) == \
        pytest.approx(want1["hw.gpu.utilization"])
    assert latest(otlp_receiver, "hw.gpu.memory.usage", **{"hw.id": uuid(0)}) == GIB
    assert latest(otlp_receiver, "hw.power", **{"hw.id": uuid(0)}) == want0["hw.power"]
    assert latest(otlp_receiver, "hw.temperature", **{"hw.id": uuid(1),
                                                      "hw.sensor_location": "gpu"}) == 41
    _, _, metric = points(otlp_receiver, "hw.energy")[0]
    assert metric.unit == "J" and metric.sum.is_monotonic
    _, _, metric = points(otlp_receiver, "hw.gpu.memory.limit")[0]
    assert metric.unit == "By" and not metric.sum.is_monotonic
    _, _, metric = points(otlp_receiver, "hw.gpu.utilization")[0]
    assert metric.unit == "1" and metric.WhichOneof("data") == "gauge"


def test_short_app_with_default_export_interval_still_exports(subprocess_env, otlp_receiver):
    env = otlp_env(subprocess_env, otlp_receiver, OTEL_METRIC_EXPORT_INTERVAL="60000",
                   APP_RUN_S="0.1")
    done = run_app(env)
    assert done.returncode == 0, done.stderr
    # The collector stops before the providers' final flush; its last sample is still in it.
    assert latest(otlp_receiver, "hw.gpu.utilization", **{"hw.id": uuid(0)}) == \
        pytest.approx(0.10)


def test_unsupported_calls_send_nothing_and_lost_gpu_keeps_the_app_alive(subprocess_env,
                                                                         otlp_receiver):
    env = otlp_env(subprocess_env, otlp_receiver, FAKE_NVML_GPUS="2", AIOBS_GPU_MODE="node",
                   FAKE_NVML_UNSUPPORTED="nvmlDeviceGetPowerUsage,nvmlDeviceGetTotalEccErrors",
                   FAKE_NVML_LOST_AFTER="1:2", APP_RUN_S="1.0")
    done = run_app(env)
    assert done.returncode == 0, done.stderr
    assert "STATUS running" in done.stdout and "ALIVE" in done.stdout
    assert points(otlp_receiver, "hw.power") == []
    assert [a for a, _, _ in points(otlp_receiver, "hw.errors")] == []
    assert latest(otlp_receiver, "hw.status", **{"hw.id": uuid(1), "hw.state": "failed"}) == 1
    assert latest(otlp_receiver, "hw.status", **{"hw.id": uuid(0), "hw.state": "ok"}) == 1
    assert done.stderr.count("no longer sampled") == 1
    assert "Not Supported" not in done.stderr


def test_dcgm_mode_keeps_dcgm_names_through_configure(subprocess_env, otlp_receiver):
    env = otlp_env(subprocess_env, otlp_receiver, AIOBS_GPU_DCGM="true")
    done = run_app(env)
    assert done.returncode == 0, done.stderr
    assert latest(otlp_receiver, "DCGM_FI_DEV_GPU_UTIL", UUID=uuid(0)) == 10
    assert latest(otlp_receiver, "DCGM_FI_DEV_FB_USED", UUID=uuid(0)) == 1024
    assert not [n for n in otlp_receiver.metric_names() if n.startswith("hw.")]


def test_library_missing_one_diagnostic_app_runs_on(subprocess_env, real_nvml_present):
    if real_nvml_present:
        pytest.skip("a real libnvidia-ml is installed here")
    env = {**subprocess_env, "AIOBS_GPU": "true", "OTEL_METRIC_EXPORT_INTERVAL": "60000"}
    env.pop("LD_LIBRARY_PATH")
    done = run_app(env)
    assert done.returncode == 0, done.stderr
    assert "STATUS backoff" in done.stdout and "ALIVE" in done.stdout
    assert done.stderr.count("libnvidia-ml.so.1") == 1, done.stderr


def test_driver_not_loaded_one_diagnostic(subprocess_env):
    env = {**subprocess_env, "AIOBS_GPU": "true", "FAKE_NVML_DRIVER_NOT_LOADED": "1"}
    done = run_app(env)
    assert done.returncode == 0, done.stderr
    assert "STATUS backoff" in done.stdout and "ALIVE" in done.stdout
    assert done.stderr.count("driver is not loaded") == 1, done.stderr


def test_package_missing_names_the_extra(subprocess_env, tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "pynvml.py").write_text("raise ImportError('pynvml is not installed')\n")
    env = {**subprocess_env, "AIOBS_GPU": "true",
           "PYTHONPATH": f"{blocker}:{subprocess_env['PYTHONPATH']}"}
    # configure() starts it; asking again (as opentelemetry-instrument would) logs nothing new
    done = run_app(env, start="aiobs.configure(); import time; time.sleep(0.3); "
                              "aiobs.gpu_collector()")
    assert done.returncode == 0, done.stderr
    assert "STATUS unavailable" in done.stdout and "ALIVE" in done.stdout
    assert done.stderr.count("pip install 'aiobs-otel[gpu]'") == 1, done.stderr


def test_opentelemetry_instrument_with_aiobs_gpu(subprocess_env, otlp_receiver):
    tool = Path(sys.executable).with_name("opentelemetry-instrument")
    if not tool.exists():
        pytest.skip("opentelemetry-instrument is not installed")
    from importlib.metadata import entry_points

    # the other instrumentors import their SDKs (slow); this test is about aiobs_gpu
    others = sorted({e.name for e in entry_points(group="opentelemetry_instrumentor")}
                    - {"aiobs_gpu"})
    env = otlp_env(subprocess_env, otlp_receiver,
                   OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=",".join(others))
    done = run_app(env, start="", prefix=(str(tool),))
    assert done.returncode == 0, done.stderr
    assert "COLLECTOR True" in done.stdout, done.stdout + done.stderr
    assert "ALIVE" in done.stdout
    assert latest(otlp_receiver, "hw.gpu.utilization", **{"hw.id": uuid(0)}) == \
        pytest.approx(0.10)


def test_import_starts_no_thread_and_loads_no_pynvml(subprocess_env):
    code = ("import sys, threading, aiobs_otel, aiobs_otel.collectors; "
            "assert 'pynvml' not in sys.modules, 'pynvml'; "
            "assert not [m for m in sys.modules if m.startswith('opentelemetry.sdk')], 'sdk'; "
            "assert threading.active_count() == 1; print('OK')")
    done = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "OK" in done.stdout, done.stderr
