"""Check the GPU collector against ``nvidia-smi`` on a real NVIDIA machine.

    python benchmarks/gpu_real_check.py [--seconds 10] [--interval 1.0] [--load]

Starts the collector (node mode, all GPUs) into an in-memory capture, samples for ``--seconds``,
then prints our latest values next to ``nvidia-smi --query-gpu=... --format=csv`` read at the
same moment, plus the process CPU time the sampling cost. ``--load`` runs a matmul loop on
every GPU with torch (when installed) so utilisation, power and clocks are not idle values.
Exit status 0 when every comparable value agrees within its tolerance, 1 otherwise.
Needs: the NVIDIA driver, ``nvidia-smi``, ``pip install 'aiobs-otel[gpu]'``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from typing import Any

MIB = 1024 * 1024
# (our metric, attribute filter, scale to nvidia-smi unit, nvidia-smi field, tolerance, label)
COMPARE: list[tuple[str, dict[str, Any], float, str, float, str]] = [
    ("hw.gpu.utilization", {}, 100.0, "utilization.gpu", 15.0, "util %"),
    ("aiobs.gpu.memory_controller.utilization", {}, 100.0, "utilization.memory", 15.0,
     "mem busy %"),
    ("hw.gpu.memory.usage", {}, 1 / MIB, "memory.used", 64.0, "mem used MiB"),
    ("hw.gpu.memory.limit", {}, 1 / MIB, "memory.total", 1.0, "mem total MiB"),
    ("hw.power", {}, 1.0, "power.draw", 30.0, "power W"),
    ("aiobs.gpu.power.limit", {}, 1.0, "enforced.power.limit", 1.0, "power limit W"),
    ("hw.temperature", {"hw.sensor_location": "gpu"}, 1.0, "temperature.gpu", 3.0, "temp C"),
    ("hw.temperature", {"hw.sensor_location": "memory"}, 1.0, "temperature.memory", 3.0,
     "mem temp C"),
    ("aiobs.gpu.clock.speed", {"aiobs.gpu.clock.domain": "sm"}, 1e-6, "clocks.sm", 150.0,
     "SM clock MHz"),
    ("aiobs.gpu.clock.speed", {"aiobs.gpu.clock.domain": "memory"}, 1e-6, "clocks.mem", 50.0,
     "mem clock MHz"),
    ("hw.errors", {"error.type": "corrected"}, 1.0, "ecc.errors.corrected.volatile.total", 0.0,
     "ECC corrected"),
    ("hw.errors", {"error.type": "uncorrected"}, 1.0, "ecc.errors.uncorrected.volatile.total",
     0.0, "ECC uncorrected"),
]


def nvidia_smi(fields: list[str]) -> dict[str, dict[str, str]]:
    """{uuid: {field: raw value}}; fields this nvidia-smi does not know are left out."""
    usable: list[str] = []
    for name in fields:
        probe = subprocess.run(["nvidia-smi", f"--query-gpu={name}", "--format=csv,noheader"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            usable.append(name)
    query = ",".join(["uuid", *usable])
    out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=True).stdout
    rows: dict[str, dict[str, str]] = {}
    for line in out.strip().splitlines():
        cells = [c.strip() for c in line.split(",")]
        rows[cells[0]] = dict(zip(usable, cells[1:], strict=False))
    return rows


def number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:  # "[N/A]", "[Not Supported]"
        return None


def start_load(seconds: float) -> threading.Thread | None:
    try:
        import torch
    except ImportError:
        print("(--load: torch is not installed; sampling an idle GPU)")
        return None
    if not torch.cuda.is_available():
        return None

    def work() -> None:
        deadline = time.monotonic() + seconds
        mats = [torch.randn(8192, 8192, device=f"cuda:{i}", dtype=torch.bfloat16)
                for i in range(torch.cuda.device_count())]
        while time.monotonic() < deadline:
            for m in mats:
                m @ m
            torch.cuda.synchronize()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--load", action="store_true")
    args = parser.parse_args()
    if shutil.which("nvidia-smi") is None:
        print("nvidia-smi not found: run this on a machine with the NVIDIA driver")
        return 2

    import aiobs_otel as aiobs
    from aiobs_otel.testing import capture

    load = start_load(args.seconds + 2) if args.load else None
    with capture(strict=False) as telemetry:
        collector = aiobs.gpu_collector(interval=args.interval, mode="node")
        if not collector.wait_for_sample(30):
            print(f"the collector did not sample: {collector!r}")
            return 1
        cpu0, wall0 = time.process_time(), time.monotonic()  # steady state: after NVML init
        time.sleep(args.seconds)
        sweeps = collector.sweeps
        cpu = time.process_time() - cpu0 if load is None else None
        wall = time.monotonic() - wall0
        points = telemetry.metrics()
        smi = nvidia_smi(sorted({c[3] for c in COMPARE}))
        unsupported = collector.unsupported
        collector.stop()

    print(f"{collector.devices or 'no devices'}; {sweeps} sweeps in {wall:.1f} s")
    print(f"{'GPU':14} {'value':16} {'aiobs-otel':>14} {'nvidia-smi':>14}  ok")
    failures = 0
    for uuid, smi_row in smi.items():
        for metric, match, scale, field, tolerance, label in COMPARE:
            ours = [p.value for p in points if p.name == metric
                    and p.attributes.get("hw.id") == uuid
                    and all(p.attributes.get(k) == v for k, v in match.items())]
            theirs = number(smi_row.get(field))
            mine = ours[-1] * scale if ours else None
            if mine is None and theirs is None:
                verdict = "both n/a"
            elif mine is None or theirs is None:
                verdict = "MISSING" if theirs is not None else "only ours"
                failures += theirs is not None
            else:
                good = abs(mine - theirs) <= tolerance
                verdict = "yes" if good else f"NO (tolerance {tolerance})"
                failures += not good
            print(f"{uuid[:14]:14} {label:16} {_fmt(mine):>14} {_fmt(theirs):>14}  {verdict}")
    print(f"unsupported (probed once, skipped): {unsupported}")
    if cpu is not None:
        print(f"process CPU while sampling: {cpu * 1000:.1f} ms over {wall:.1f} s "
              f"= {100 * cpu / wall:.3f} % of one core (sampling only; no export)")
    print("OK" if not failures else f"{failures} value(s) disagree")
    return 0 if not failures else 1


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
