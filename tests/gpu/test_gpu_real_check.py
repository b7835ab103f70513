"""benchmarks/gpu_real_check.py runs end to end against the fake NVML and a fake nvidia-smi."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fakenvml import uuid

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "gpu_real_check.py"
VALUES = {  # what a correct nvidia-smi says about fake GPU 0
    "uuid": uuid(0), "utilization.gpu": "10", "utilization.memory": "5", "memory.used": "1024",
    "memory.total": "81920", "power.draw": "150.00", "enforced.power.limit": "700.00",
    "temperature.gpu": "40", "temperature.memory": "50", "clocks.sm": "1500",
    "clocks.mem": "2619", "ecc.errors.corrected.volatile.total": "0",
    "ecc.errors.uncorrected.volatile.total": "0",
}


def _fake_smi(directory: Path, values: dict[str, str]) -> None:
    cases = "\n".join(f'    {k}) out="$out${{sep}}{v}";;' for k, v in values.items())
    script = f"""#!/bin/sh
query=""
for arg in "$@"; do case "$arg" in --query-gpu=*) query="${{arg#--query-gpu=}}";; esac; done
out=""; sep=""
for field in $(echo "$query" | tr ',' ' '); do
  case "$field" in
{cases}
    *) echo "Field \\"$field\\" is not a valid field to query." >&2; exit 2;;
  esac
  sep=", "
done
echo "$out"
"""
    tool = directory / "nvidia-smi"
    tool.write_text(script)
    tool.chmod(0o755)


def _run(subprocess_env, tmp_path, values):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_smi(bin_dir, values)
    env = {**subprocess_env, "PATH": f"{bin_dir}{os.pathsep}{subprocess_env['PATH']}"}
    return subprocess.run([sys.executable, str(SCRIPT), "--seconds", "0.3", "--interval", "0.1"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_real_check_agrees_with_a_matching_nvidia_smi(subprocess_env, tmp_path):
    done = _run(subprocess_env, tmp_path, VALUES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout and "power W" in done.stdout


def test_real_check_flags_a_disagreement(subprocess_env, tmp_path):
    done = _run(subprocess_env, tmp_path, {**VALUES, "power.draw": "300.00"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 value(s) disagree" in done.stdout
