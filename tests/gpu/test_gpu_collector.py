"""The collector end to end: real pynvml over the fake libnvidia-ml, values through the capture."""

from __future__ import annotations

import logging
import time

import pytest
from fakenvml import DRIVER_VERSION, GIB, MIB, expected, uuid
from gpuhelpers import by_device, wait_sweeps, wait_until

import aiobs_otel as aiobs
from aiobs_otel import semconv
from aiobs_otel.collectors import gpu

FAST = 0.02  # seconds between sweeps in these tests


def start(collectors, **kwargs):
    kwargs.setdefault("interval", FAST)
    collector = aiobs.gpu_collector(**kwargs)
    collectors.append(collector)
    assert collector.wait_for_sample(5), collector
    return collector


def test_one_gpu_every_metric_value_unit_and_kind(fake_nvml, aiobs_capture, collectors):
    collector = start(collectors)
    assert collector.status == "running"
    assert [d.uuid for d in collector.devices] == [uuid(0)]
    want = expected(0)
    got = {p.name: p for p in aiobs_capture.metrics()}
    units_kinds = {
        "hw.gpu.utilization": ("1", "Gauge"),
        "aiobs.gpu.memory_controller.utilization": ("1", "Gauge"),
        "hw.gpu.memory.usage": ("By", "Sum"),
        "hw.gpu.memory.limit": ("By", "Sum"),
        "hw.gpu.memory.utilization": ("1", "Gauge"),
        "hw.power": ("W", "Gauge"),
        "hw.energy": ("J", "Sum"),
        "aiobs.gpu.power.limit": ("W", "Gauge"),
    }
    for name, (unit, kind) in units_kinds.items():
        assert got[name].unit == unit, name
        assert got[name].instrument_kind == kind, name
        assert got[name].value == pytest.approx(want[name]), name
    energy = next(m for m in aiobs_capture.metric_reader.get_metrics_data().resource_metrics[0]
                  .scope_metrics[0].metrics if m.name == "hw.energy")
    assert energy.data.is_monotonic
    point = got["hw.gpu.utilization"]
    assert point.attributes == {
        "hw.id": uuid(0), "hw.type": "gpu", "hw.name": "NVIDIA H200",
        "hw.vendor": "NVIDIA", "hw.driver_version": DRIVER_VERSION, "aiobs.gpu.index": 0,
        "hw.gpu.task": "general",
    }
    temps = by_device(aiobs_capture, "hw.temperature", "hw.sensor_location")
    assert temps == {(uuid(0), "gpu"): want["temperature.gpu"],
                     (uuid(0), "memory"): want["temperature.memory"]}
    assert aiobs_capture.metrics("hw.temperature")[0].unit == "Cel"
    clocks = by_device(aiobs_capture, "aiobs.gpu.clock.speed", "aiobs.gpu.clock.domain")
    assert clocks == {(uuid(0), "sm"): want["clock.sm"], (uuid(0), "memory"): want["clock.memory"]}
    assert aiobs_capture.metrics("aiobs.gpu.clock.speed")[0].unit == "Hz"
    pcie = by_device(aiobs_capture, "aiobs.gpu.pcie.io", "network.io.direction")
    assert pcie == {(uuid(0), "transmit"): want["pcie.transmit"],
                    (uuid(0), "receive"): want["pcie.receive"]}
    nvlink = by_device(aiobs_capture, "aiobs.gpu.nvlink.io", "network.io.direction")
    assert nvlink == {(uuid(0), "transmit"): want["nvlink.transmit"],
                      (uuid(0), "receive"): want["nvlink.receive"]}
    errors = by_device(aiobs_capture, "hw.errors", "error.type")
    assert errors == {(uuid(0), "corrected"): 0, (uuid(0), "uncorrected"): 0}
    assert aiobs_capture.metrics("hw.errors")[0].unit == "{error}"
    status = by_device(aiobs_capture, "hw.status", "hw.state")
    assert status == {(uuid(0), "ok"): 1, (uuid(0), "degraded"): 0, (uuid(0), "failed"): 0}
    events = by_device(aiobs_capture, "aiobs.gpu.clock.event", "aiobs.gpu.clock.event.reason")
    assert events == {}  # no clock-event reason has been active
    assert by_device(aiobs_capture, "aiobs.gpu.process.memory.usage") == {
        uuid(0): want["process.memory"]}
    assert collector.unsupported == {uuid(0): []}
    assert collector.internal_error is None


def test_eight_gpus_in_node_mode(fake_nvml, aiobs_capture, collectors, monkeypatch):
    monkeypatch.setenv("FAKE_NVML_GPUS", "8")
    collector = start(collectors, mode="node")
    assert [d.index for d in collector.devices] == list(range(8))
    util = by_device(aiobs_capture, "hw.gpu.utilization")
    power = by_device(aiobs_capture, "hw.power")
    ecc = by_device(aiobs_capture, "hw.errors", "error.type")
    for i in range(8):
        assert util[uuid(i)] == pytest.approx(expected(i)["hw.gpu.utilization"])
        assert power[uuid(i)] == pytest.approx(expected(i)["hw.power"])
        assert ecc[(uuid(i), "corrected")] == expected(i)["ecc.corrected"]


def test_values_follow_the_device(fake_nvml, aiobs_capture, collectors):
    collector = start(collectors)
    fake_nvml.set_util(0, 93)
    wait_sweeps(collector, 2)
    assert by_device(aiobs_capture, "hw.gpu.utilization") == {uuid(0): pytest.approx(0.93)}


@pytest.mark.parametrize(("function", "metric", "attribute", "gone"), [
    ("nvmlDeviceGetPowerUsage", "hw.power", None, None),
    ("nvmlDeviceGetTotalEnergyConsumption", "hw.energy", None, None),
    ("nvmlDeviceGetUtilizationRates", "hw.gpu.utilization", None, None),
    ("nvmlDeviceGetEnforcedPowerLimit", "aiobs.gpu.power.limit", None, None),
    ("nvmlDeviceGetTotalEccErrors", "hw.errors", None, None),
    ("nvmlDeviceGetCurrentClocksEventReasons,nvmlDeviceGetCurrentClocksThrottleReasons",
     "aiobs.gpu.clock.event", None, None),
    ("nvmlDeviceGetTemperatureV,nvmlDeviceGetTemperature", "hw.temperature",
     "hw.sensor_location", "gpu"),
    ("field197", "aiobs.gpu.pcie.io", "network.io.direction", "transmit"),
    ("nvmlDeviceGetComputeRunningProcesses_v3", "aiobs.gpu.process.memory.usage", None, None),
])
def test_not_supported_is_probed_once_and_never_reported(
    fake_nvml, aiobs_capture, collectors, monkeypatch, caplog, function, metric, attribute, gone,
):
    monkeypatch.setenv("FAKE_NVML_GPUS", "2")
    monkeypatch.setenv("FAKE_NVML_UNSUPPORTED", ",".join(f"{f}@1" for f in function.split(",")))
    monkeypatch.setenv("FAKE_NVML_CLOCK_EVENTS", "0x1")  # so clock-event series exist
    caplog.set_level(logging.DEBUG, logger="aiobs_otel")
    collector = start(collectors, mode="node")
    collector.medium_period_s = collector.slow_period_s = FAST  # (only affects a restart)
    wait_sweeps(collector, 5)
    points = aiobs_capture.metrics(metric)
    on_gpu1 = [p for p in points if p.attributes["hw.id"] == uuid(1)]
    on_gpu0 = [p for p in points if p.attributes["hw.id"] == uuid(0)]
    assert on_gpu0, "the supported GPU still reports"
    if gone is None:
        assert on_gpu1 == [], "no fake zeros for an unsupported call"
    else:
        assert [p for p in on_gpu1 if p.attributes[attribute] == gone] == []
        assert [p for p in on_gpu1 if p.attributes[attribute] != gone], "other readings stay"
    if not function.startswith("field"):
        first = function.split(",")[0]
        # Probed once on GPU 1, read every sweep on GPU 0 (fast tier) or once (slower tiers).
        assert wait_until(lambda: fake_nvml.calls(first) >= 2) or "Ecc" in first or \
            "Power" in first or "Processes" in first
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert collector.unsupported[uuid(0)] == []
    assert collector.unsupported[uuid(1)]


def test_unsupported_call_is_not_retried(fake_nvml, aiobs_capture, collectors, monkeypatch):
    monkeypatch.setenv("FAKE_NVML_UNSUPPORTED", "nvmlDeviceGetPowerUsage")
    collector = start(collectors)
    wait_sweeps(collector, 10)
    assert fake_nvml.calls("nvmlDeviceGetPowerUsage") == 1
    assert fake_nvml.calls("nvmlDeviceGetUtilizationRates") >= 10
    assert aiobs_capture.metrics("hw.power") == []


def test_reading_that_stops_being_supported_disappears(fake_nvml, aiobs_capture, collectors):
    collector = start(collectors)
    assert by_device(aiobs_capture, "hw.power") == {uuid(0): 150.0}
    fake_nvml.set_unsupported("nvmlDeviceGetPowerUsage")
    wait_sweeps(collector, 3)
    assert by_device(aiobs_capture, "hw.power") == {}, "no stale value after NOT_SUPPORTED"
    assert "power" in collector.unsupported[uuid(0)]
    calls = fake_nvml.calls("nvmlDeviceGetPowerUsage")
    wait_sweeps(collector, 3)
    assert fake_nvml.calls("nvmlDeviceGetPowerUsage") == calls


def test_half_supported_ecc_reports_only_what_works(fake_nvml, aiobs_capture, collectors,
                                                    monkeypatch):
    monkeypatch.setenv("FAKE_NVML_GPUS", "2")
    monkeypatch.setenv("FAKE_NVML_UNSUPPORTED", "ecc_uncorrected@1")
    start(collectors, mode="node")
    errors = by_device(aiobs_capture, "hw.errors", "error.type")
    assert errors == {(uuid(0), "corrected"): 0, (uuid(0), "uncorrected"): 0,
                      (uuid(1), "corrected"): 3}


def test_version_fallbacks_keep_the_readings(fake_nvml, aiobs_capture, collectors, monkeypatch):
    monkeypatch.setenv("FAKE_NVML_MISSING", "nvmlDeviceGetMemoryInfo_v2,nvmlDeviceGetTemperatureV,"
                       "nvmlDeviceGetCurrentClocksEventReasons")
    monkeypatch.setenv("FAKE_NVML_CLOCK_EVENTS", "0x4")
    start(collectors)
    # v1 memory counts reserved memory as used
    assert by_device(aiobs_capture, "hw.gpu.memory.usage") == {uuid(0): GIB + 512 * MIB}
    assert by_device(aiobs_capture, "hw.temperature", "hw.sensor_location")[(uuid(0), "gpu")] == 40
    events = by_device(aiobs_capture, "aiobs.gpu.clock.event", "aiobs.gpu.clock.event.reason")
    assert events == {(uuid(0), "sw_power_cap"): 1}


def test_never_calls_pcie_throughput(fake_nvml, aiobs_capture, collectors, monkeypatch):
    monkeypatch.setenv("FAKE_NVML_GPUS", "8")
    collector = start(collectors, mode="node")
    wait_sweeps(collector, 5)
    assert fake_nvml.calls("nvmlDeviceGetPcieThroughput") == 0
    assert aiobs_capture.metrics("aiobs.gpu.pcie.io")


def test_slow_tiers_run_less_often(fake_nvml, aiobs_capture, collectors):
    collector = start(collectors, interval=0.01)
    wait_sweeps(collector, 20)
    fast = fake_nvml.calls("nvmlDeviceGetUtilizationRates")
    assert fast >= 20
    assert fake_nvml.calls("nvmlDeviceGetFieldValues") <= 1 + fast // 1000
    assert fake_nvml.calls("nvmlDeviceGetEnforcedPowerLimit") == 1


def test_gpu_lost_mid_run(fake_nvml, aiobs_capture, collectors, monkeypatch, caplog):
    monkeypatch.setenv("FAKE_NVML_GPUS", "2")
    monkeypatch.setenv("FAKE_NVML_LOST_AFTER", "1:3")
    caplog.set_level(logging.WARNING, logger="aiobs_otel")
    collector = start(collectors, mode="node")
    wait_sweeps(collector, 6)
    assert collector.running and collector.status == "running"
    status = by_device(aiobs_capture, "hw.status", "hw.state")
    assert status[(uuid(1), "failed")] == 1 and status[(uuid(1), "ok")] == 0
    assert status[(uuid(0), "ok")] == 1
    assert uuid(1) not in by_device(aiobs_capture, "hw.gpu.utilization")
    assert uuid(1) not in by_device(aiobs_capture, "hw.power")
    fake_nvml.set_util(0, 55)
    wait_sweeps(collector, 2)
    assert by_device(aiobs_capture, "hw.gpu.utilization") == {uuid(0): pytest.approx(0.55)}
    lost_logs = [r for r in caplog.records if "is lost" in r.getMessage()]
    assert len(lost_logs) == 1


def test_driver_not_loaded_logs_once_and_backs_off(fake_nvml, aiobs_capture, collectors,
                                                   monkeypatch, caplog):
    monkeypatch.setenv("FAKE_NVML_DRIVER_NOT_LOADED", "1")
    caplog.set_level(logging.WARNING, logger="aiobs_otel")
    collector = aiobs.gpu_collector(interval=FAST)
    collectors.append(collector)
    assert wait_until(lambda: collector.status == "backoff")
    time.sleep(0.1)
    assert collector.running  # the thread waits to retry; nothing is sampled
    assert aiobs_capture.metrics("hw.gpu.utilization") == []
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "driver is not loaded" in messages[0]
    started = time.monotonic()
    collector.stop()
    assert time.monotonic() - started < 1.0
    assert not collector.running


def test_driver_recovers_after_backoff(fake_nvml, aiobs_capture, collectors, monkeypatch):
    monkeypatch.setenv("FAKE_NVML_DRIVER_NOT_LOADED", "1")
    monkeypatch.setattr(gpu, "_BACKOFF_FIRST_S", 0.05)
    collector = aiobs.gpu_collector(interval=FAST)
    collectors.append(collector)
    assert wait_until(lambda: collector.status == "backoff")
    monkeypatch.delenv("FAKE_NVML_DRIVER_NOT_LOADED")
    assert wait_until(lambda: collector.status == "running", 5)
    assert wait_until(lambda: collector.sweeps > 0, 5)
    assert by_device(aiobs_capture, "hw.gpu.utilization") == {uuid(0): pytest.approx(0.10)}


def test_idempotent_start_and_quick_stop(fake_nvml, aiobs_capture, collectors):
    first = start(collectors)
    assert aiobs.gpu_collector(interval=5.0) is first
    started = time.monotonic()
    first.stop()
    assert time.monotonic() - started < 1.0
    assert not first.running and first.status == "stopped"
    first.stop()  # idempotent
    second = start(collectors)
    assert second is not first and second.running


def test_after_stop_the_last_values_are_exported_once(fake_nvml, aiobs_capture, collectors):
    collector = start(collectors)
    collector.stop()
    assert by_device(aiobs_capture, "hw.power") == {uuid(0): 150.0}  # e.g. the shutdown flush
    assert aiobs_capture.metrics("hw.power") == [], "then no stale gauges"


def test_stop_with_a_long_interval_is_still_quick(fake_nvml, aiobs_capture, collectors):
    collector = start(collectors, interval=30.0)
    started = time.monotonic()
    collector.stop()
    assert time.monotonic() - started < 1.0


def test_bad_arguments_fail_loudly(fake_nvml):
    with pytest.raises(ValueError):
        aiobs.gpu_collector(interval=0)
    with pytest.raises(ValueError):
        aiobs.gpu_collector(mode="cluster")


def test_disabled_library_starts_nothing(fake_nvml, collectors):
    from aiobs_otel.testing import capture

    with capture(disabled=True):
        collector = aiobs.gpu_collector(interval=FAST)
        assert collector.status == "disabled" and not collector.running


def test_xid_events_and_degraded_state(fake_nvml, aiobs_capture, collectors, monkeypatch):
    monkeypatch.setenv("FAKE_NVML_GPUS", "2")
    monkeypatch.setenv("FAKE_NVML_XID", "1:79,1:79,0:13")
    monkeypatch.setenv("FAKE_NVML_CLOCK_EVENTS", "0x40")  # HW thermal slowdown
    collector = start(collectors, mode="node")
    wait_sweeps(collector, 2)
    errors = by_device(aiobs_capture, "hw.errors", "aiobs.gpu.xid")
    assert errors[(uuid(1), 79)] == 2
    assert errors[(uuid(0), 13)] == 1
    xid_point = next(p for p in aiobs_capture.metrics("hw.errors")
                     if p.attributes.get("aiobs.gpu.xid") == 79)
    assert xid_point.attributes["error.type"] == "xid"
    status = by_device(aiobs_capture, "hw.status", "hw.state")
    assert status[(uuid(0), "degraded")] == 1 and status[(uuid(0), "ok")] == 0
    events = by_device(aiobs_capture, "aiobs.gpu.clock.event", "aiobs.gpu.clock.event.reason")
    assert events[(uuid(0), "hw_thermal_slowdown")] == 1


def test_rank_mode_samples_this_ranks_gpu_by_uuid(fake_nvml, aiobs_capture, collectors,
                                                  monkeypatch):
    monkeypatch.setenv("FAKE_NVML_GPUS", "8")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"5,{uuid(3)[:12]},2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    collector = start(collectors, mode="rank")
    assert [d.uuid for d in collector.devices] == [uuid(3)]
    assert set(by_device(aiobs_capture, "hw.gpu.utilization")) == {uuid(3)}


def test_node_mode_other_local_ranks_idle(fake_nvml, aiobs_capture, collectors, monkeypatch):
    monkeypatch.setenv("FAKE_NVML_GPUS", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "2")
    collector = start(collectors, mode="node")
    assert collector.status == "idle" and collector.devices == []
    assert aiobs_capture.metrics("hw.gpu.utilization") == []


def test_explicit_devices(fake_nvml, aiobs_capture, collectors, monkeypatch):
    monkeypatch.setenv("FAKE_NVML_GPUS", "4")
    collector = start(collectors, devices=[2, uuid(0)])
    assert [d.index for d in collector.devices] == [2, 0]


@pytest.fixture
def dcgm_capture(aiobs_capture):
    """The capture, with a MeterProvider that has the DCGM views (as configure() builds it)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from aiobs_otel._core import state

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], views=gpu.dcgm_views(),
                             shutdown_on_exit=False)
    state.set_providers(aiobs_capture.tracer_provider, provider, aiobs_capture.logger_provider)
    aiobs_capture.metric_reader = reader
    yield aiobs_capture
    provider.shutdown()


def test_dcgm_mode_names_units_and_labels(fake_nvml, dcgm_capture, collectors, monkeypatch):
    aiobs_capture = dcgm_capture
    monkeypatch.setenv("FAKE_NVML_GPUS", "2")
    monkeypatch.setenv("FAKE_NVML_XID", "1:48")
    collector = start(collectors, mode="node", dcgm=True)
    wait_sweeps(collector, 2)
    names = {p.name for p in aiobs_capture.metrics()}
    assert not {n for n in names if n.startswith("hw.")}
    assert all(n.startswith("DCGM_FI_") for n in names), names
    def dcgm(name):
        return {p.attributes["UUID"]: p.value for p in aiobs_capture.metrics(name)}
    assert dcgm(semconv.DCGM_GPU_UTIL) == {uuid(0): 10, uuid(1): 17}
    assert dcgm(semconv.DCGM_FB_USED) == {uuid(0): 1024, uuid(1): 2048}
    assert dcgm(semconv.DCGM_FB_FREE)[uuid(0)] == 80 * 1024 - 1024 - 512
    assert dcgm(semconv.DCGM_POWER_USAGE) == {uuid(0): 150, uuid(1): 151}
    assert dcgm(semconv.DCGM_TOTAL_ENERGY) == {uuid(0): 5_000_000, uuid(1): 5_001_000}
    assert dcgm(semconv.DCGM_SM_CLOCK) == {uuid(0): 1500, uuid(1): 1510}
    assert dcgm(semconv.DCGM_GPU_TEMP) == {uuid(0): 40, uuid(1): 41}
    assert dcgm(semconv.DCGM_MEMORY_TEMP) == {uuid(0): 50, uuid(1): 51}
    assert dcgm(semconv.DCGM_XID_ERRORS) == {uuid(0): 0, uuid(1): 48}
    point = aiobs_capture.metrics(semconv.DCGM_GPU_UTIL)[0]
    assert point.unit == "" and point.instrument_kind == "Gauge"
    assert set(point.attributes) == {"gpu", "UUID", "device", "modelName", "Hostname",
                                     "DCGM_FI_DRIVER_VERSION"}
    assert point.attributes["modelName"] == "NVIDIA H200"
    assert point.attributes["DCGM_FI_DRIVER_VERSION"] == DRIVER_VERSION


def test_instrumentor_starts_and_stops_the_collector(fake_nvml, collectors):
    from aiobs_otel.collectors._instrumentor import GpuInstrumentor
    from aiobs_otel.testing import capture

    with capture(gpu=True, gpu_interval_s=FAST):
        instrumentor = GpuInstrumentor()
        instrumentor.instrument()
        try:
            collector = gpu.current()
            assert collector is not None and collector.wait_for_sample(5)
            assert collector.interval == FAST
        finally:
            instrumentor.uninstrument()
        assert gpu.current() is None and not collector.running


def test_instrumentor_without_aiobs_gpu_does_nothing(fake_nvml, collectors):
    from aiobs_otel.collectors._instrumentor import GpuInstrumentor
    from aiobs_otel.testing import capture

    with capture(gpu=False):
        instrumentor = GpuInstrumentor()
        instrumentor.instrument()
        assert gpu.current() is None
        instrumentor.uninstrument()


def test_shutdown_stops_the_collector(fake_nvml, fresh_state, collectors):
    collector = start(collectors)
    aiobs.configure(metrics_exporter="none", traces_exporter="none", logs_exporter="none")
    aiobs.shutdown()
    assert not collector.running
