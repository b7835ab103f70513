"""On a machine with a real NVIDIA GPU (``pytest -m gpu``): our values against nvidia-smi."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "gpu_real_check.py"


@pytest.mark.gpu
def test_collector_agrees_with_nvidia_smi():
    if shutil.which("nvidia-smi") is None:
        pytest.skip("no nvidia-smi: not a GPU machine")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_NVML_")}
    env.pop("LD_LIBRARY_PATH", None)  # the real libnvidia-ml, never the fake
    done = subprocess.run([sys.executable, str(SCRIPT), "--seconds", "5"], env=env,
                          capture_output=True, text=True, timeout=120)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
