"""R18 at the edges the GPU suite (tests/gpu) does not cover: an NVML call that hangs 5 s, and
fork with a running sampler. Missing library, driver errors, lost GPUs, back-off and 8 GPUs are
covered there (test_gpu_collector.py, test_gpu_subprocess.py). On a real GPU, values against
nvidia-smi: tests/gpu/test_gpu_real.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "gpu"))
fakenvml = pytest.importorskip("fakenvml")
pytest.importorskip("pynvml")


@pytest.fixture(scope="module")
def fake_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    try:
        path = fakenvml.build(tmp_path_factory.mktemp("rel_fake_nvml"))
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"cannot build the fake NVML library: {exc}")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "AIOBS_", "FAKE_NVML_"))}
    env["LD_LIBRARY_PATH"] = str(path.parent)
    return env


def _results(env: dict[str, str], scenario: str) -> dict[str, str]:
    result = subprocess.run([sys.executable, str(HERE / "gpu_script.py"), scenario], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out: dict[str, str] = {}
    for line in result.stdout.splitlines():
        if line.startswith("result "):
            for item in line.split()[1:]:
                key, _, value = item.partition("=")
                out[key] = value
    return out


def test_rel_r18_hanging_nvml_call_never_stalls_the_app_and_stop_is_quick(fake_env):
    out = _results(fake_env, "hang")
    assert float(out["stop_s"]) <= 1.0
    assert float(out["worst_gap_s"]) < 0.5, "the application waited on the GPU sampler"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_rel_r18_forked_child_has_no_zombie_sampler(fake_env):
    out = _results(fake_env, "fork")
    assert out["child_samplers"] == "0" and out["current"] == "None"
    assert float(out["child_shutdown_s"]) <= 1.0
    assert out["child_exit"] == "0"
