"""The ``aiobs-otel report`` GPU section, from a real run into the local sink."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fakenvml import uuid
from test_gpu_subprocess import APP

from aiobs_otel.cli.sections import gpu as section
from aiobs_otel.cli.sinkdata import SinkData, load


def _run(subprocess_env: dict[str, str], **extra: str) -> Path:
    env = {**subprocess_env, "AIOBS_GPU": "true", "AIOBS_GPU_INTERVAL": "0.05",
           "AIOBS_GPU_MODE": "node", "FAKE_NVML_GPUS": "2", "OTEL_METRIC_EXPORT_INTERVAL": "200",
           **extra}
    done = subprocess.run([sys.executable, "-c", APP.format(start="aiobs.configure()")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return Path(env["AIOBS_SINK_DIR"])


def test_report_lists_each_gpu(subprocess_env):
    lines = section.render(load(_run(subprocess_env, FAKE_NVML_CLOCK_EVENTS="0x4")))
    text = "\n".join(lines)
    assert uuid(0)[:12] in text and uuid(1)[:12] in text
    row0 = next(line for line in lines if uuid(0)[:12] in line)
    assert "NVIDIA H200" in row0 and "10.0" in row0 and "ok" in row0
    assert "sw_power_cap" in row0


def test_report_in_dcgm_mode(subprocess_env):
    lines = section.render(load(_run(subprocess_env, AIOBS_GPU_DCGM="true")))
    row1 = next(line for line in lines if uuid(1)[:12] in line)
    assert "17.0" in row1


def test_no_gpu_metrics_no_section(tmp_path):
    assert section.render(SinkData(tmp_path)) == []
