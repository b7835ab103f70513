"""GPU collector cost per sampling sweep over 8 fake GPUs, against raw pynvml in the same run.

Run: ``pytest benchmarks/bench_gpu.py --benchmark-only --benchmark-columns=min,median,ops``
or ``python benchmarks/bench_gpu.py`` for CPU-time figures (``time.process_time``) and the
share of one core at 1 Hz.

* ``fast sweep``: our fast tier (utilisation, memory, temperature, power, energy, SM and memory
  clocks, clock-event reasons, XID poll) for 8 GPUs, against the *same* pynvml calls made bare
  (the floor any NVML sampler pays);
* ``all tiers``: the first sweep of a minute (fast + field values + ECC + power limit +
  processes), amortised 1/10 and 1/60 in the core-share figure;
* ``export``: one metric collection of every GPU instrument (the SDK side, once per export).

The fake library answers in ~0.1 us, so these are the *Python* costs; a real driver adds
20-100 us of C time per call, with the GIL released. Target: <= 1 ms Python CPU per 8-GPU
sweep and <= 0.1% of one core at 1 Hz.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "gpu"))

import fakenvml

GPUS = 8
_state: dict[str, object] = {}


def _setup() -> tuple[object, object]:
    """Build + preload the fake, open a sampler over 8 GPUs (once per process)."""
    if "sampler" in _state:
        return _state["nv"], _state["sampler"]
    os.environ["FAKE_NVML_GPUS"] = str(GPUS)
    path = fakenvml.build(Path(tempfile.mkdtemp(prefix="aiobs-bench-nvml-")))
    fakenvml.preload(path)
    import pynvml

    from aiobs_otel.collectors import _nvml

    sampler = _nvml.Sampler(select=lambda uuids: list(range(len(uuids))))
    sampler.open()
    sampler.sweep((_nvml.FAST, _nvml.MEDIUM, _nvml.SLOW))
    _state.update(nv=pynvml, sampler=sampler)
    return pynvml, sampler


def _raw_fast(nv: object, handles: list[object], event_set: object) -> None:
    """The fast tier's NVML calls, made bare: the baseline."""
    n = nv  # type: ignore[assignment]
    for h in handles:
        u = n.nvmlDeviceGetUtilizationRates(h)  # type: ignore[attr-defined]
        _ = u.gpu, u.memory
        m = n.nvmlDeviceGetMemoryInfo(h, version=n.nvmlMemory_v2)  # type: ignore[attr-defined]
        _ = m.total, m.used, m.free
        n.nvmlDeviceGetTemperatureV(h, 0)  # type: ignore[attr-defined]
        n.nvmlDeviceGetPowerUsage(h)  # type: ignore[attr-defined]
        n.nvmlDeviceGetTotalEnergyConsumption(h)  # type: ignore[attr-defined]
        n.nvmlDeviceGetClockInfo(h, 1)  # type: ignore[attr-defined]
        n.nvmlDeviceGetClockInfo(h, 2)  # type: ignore[attr-defined]
        n.nvmlDeviceGetCurrentClocksEventReasons(h)  # type: ignore[attr-defined]
    try:
        n.nvmlEventSetWait_v2(event_set, 0)  # type: ignore[attr-defined]
    except n.NVMLError:  # type: ignore[attr-defined]
        pass


def _raw_args() -> tuple[object, list[object], object]:
    nv, sampler = _setup()
    return nv, [d.handle for d in sampler.devices], sampler._event_set  # type: ignore[attr-defined]


def _collect_once() -> None:
    from aiobs_otel.testing import capture

    _, sampler = _setup()
    from aiobs_otel.collectors import _gpu_telemetry

    with capture() as telemetry:
        _gpu_telemetry.ensure_instruments(False, sampler)  # type: ignore[arg-type]
        _gpu_telemetry.publish(sampler)  # type: ignore[arg-type]
        telemetry.metric_reader.get_metrics_data()  # warm
        _state["reader"] = telemetry.metric_reader
        _state["export"] = _cpu_per_call(telemetry.metric_reader.get_metrics_data, 200)
        _gpu_telemetry.publish(None)


def _cpu_per_call(fn: object, repeat: int) -> float:
    call = fn  # type: ignore[assignment]
    start = time.process_time_ns()
    for _ in range(repeat):
        call()  # type: ignore[operator]
    return (time.process_time_ns() - start) / repeat / 1e3  # microseconds


# --- pytest-benchmark ----------------------------------------------------------------------------


def test_baseline_raw_pynvml_fast_calls(benchmark: pytest.FixtureDef) -> None:
    nv, handles, event_set = _raw_args()
    benchmark.group = "gpu sweep, 8 GPUs"
    benchmark(_raw_fast, nv, handles, event_set)  # type: ignore[operator]


def test_fast_sweep(benchmark: pytest.FixtureDef) -> None:
    from aiobs_otel.collectors import _nvml

    _, sampler = _setup()
    benchmark.group = "gpu sweep, 8 GPUs"
    benchmark(sampler.sweep, (_nvml.FAST,), None)  # type: ignore[attr-defined,operator]


def test_all_tiers_sweep(benchmark: pytest.FixtureDef) -> None:
    from aiobs_otel.collectors import _nvml

    _, sampler = _setup()
    benchmark.group = "gpu sweep, 8 GPUs"
    tiers = (_nvml.FAST, _nvml.MEDIUM, _nvml.SLOW)
    benchmark(sampler.sweep, tiers, None)  # type: ignore[attr-defined,operator]


def test_export_collection(benchmark: pytest.FixtureDef) -> None:
    from aiobs_otel.collectors import _gpu_telemetry
    from aiobs_otel.testing import capture

    _, sampler = _setup()
    benchmark.group = "gpu export, 8 GPUs"
    with capture() as telemetry:
        _gpu_telemetry.ensure_instruments(False, sampler)  # type: ignore[arg-type]
        _gpu_telemetry.publish(sampler)  # type: ignore[arg-type]
        benchmark(telemetry.metric_reader.get_metrics_data)  # type: ignore[operator]
        _gpu_telemetry.publish(None)


# --- plain CPU-time report ------------------------------------------------------------------------


def main() -> None:
    from aiobs_otel.collectors import _nvml

    _, sampler = _setup()
    args = _raw_args()
    repeat = 2000
    for _ in range(200):  # warm up
        sampler.sweep((_nvml.FAST,))  # type: ignore[attr-defined]
        _raw_fast(*args)
    raw = _cpu_per_call(lambda: _raw_fast(*args), repeat)
    fast = _cpu_per_call(lambda: sampler.sweep((_nvml.FAST,)), repeat)  # type: ignore[attr-defined]
    full = _cpu_per_call(
        lambda: sampler.sweep((_nvml.FAST, _nvml.MEDIUM, _nvml.SLOW)), repeat  # type: ignore[attr-defined]
    )
    medium = _cpu_per_call(lambda: sampler.sweep((_nvml.MEDIUM,)), repeat)  # type: ignore[attr-defined]
    slow = _cpu_per_call(lambda: sampler.sweep((_nvml.SLOW,)), repeat)  # type: ignore[attr-defined]
    _collect_once()
    export = float(_state["export"])  # type: ignore[arg-type]
    # fast every 1 s, medium every 10 s, slow every 60 s, one export collection every 10 s
    per_second = fast + medium / 10 + slow / 60 + export / 10
    print(f"8 GPUs, CPU time per call (process_time, {repeat} runs):")
    print(f"  raw pynvml, fast-tier calls : {raw:8.1f} us")
    print(f"  our fast sweep              : {fast:8.1f} us  ({fast / raw:.2f}x raw)")
    print(f"  our sweep, all tiers        : {full:8.1f} us  (medium {medium:.1f}, slow {slow:.1f})")
    print(f"  one export collection       : {export:8.1f} us")
    print(f"  share of one core at 1 Hz (export every 10 s): {per_second / 1e4:.4f} %")
    per_second_60 = fast + medium / 10 + slow / 60 + export / 60
    print(f"  share of one core at 1 Hz (export every 60 s): {per_second_60 / 1e4:.4f} %")
    print(f"  sampling alone (no export)                   : "
          f"{(fast + medium / 10 + slow / 60) / 1e4:.4f} %")


if __name__ == "__main__":
    main()
