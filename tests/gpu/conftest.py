"""GPU fixtures: the fake NVML library, a collector that is always stopped, env isolation."""

from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import fakenvml

_FAKE_VARS = ("FAKE_NVML_GPUS", "FAKE_NVML_DRIVER_NOT_LOADED", "FAKE_NVML_UNSUPPORTED",
              "FAKE_NVML_MISSING", "FAKE_NVML_LOST_AFTER", "FAKE_NVML_XID",
              "FAKE_NVML_CLOCK_EVENTS", "FAKE_NVML_ECC_UNCORRECTED", "FAKE_NVML_NAME",
              "CUDA_VISIBLE_DEVICES", "LOCAL_RANK", "RANK", "WORLD_SIZE", "SLURM_PROCID",
              "SLURM_JOB_ID", "OMPI_COMM_WORLD_RANK", "PMI_RANK")


@pytest.fixture(scope="session")
def fake_nvml_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake libnvidia-ml.so.1, compiled once per test session."""
    try:
        return fakenvml.build(tmp_path_factory.mktemp("fake_nvml"))
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"cannot build the fake NVML library: {exc}")


@pytest.fixture
def fake_nvml(fake_nvml_path: Path, monkeypatch: pytest.MonkeyPatch) -> fakenvml.Control:
    """The fake loaded in this process; scenario env vars are cleared (set them per test)."""
    for name in _FAKE_VARS:
        monkeypatch.delenv(name, raising=False)
    import pynvml

    lib = fakenvml.preload(fake_nvml_path)
    loaded = getattr(pynvml, "nvmlLib", None)
    if loaded is not None and getattr(loaded, "_name", None) not in (str(fake_nvml_path),
                                                                     "libnvidia-ml.so.1"):
        pytest.skip("pynvml already bound to another NVML library in this process")
    control = fakenvml.Control(lib)
    control.reset_counts()
    return control


@pytest.fixture
def collectors():
    """Collectors a test starts are stopped afterwards, whatever happens."""
    from aiobs_otel.collectors import gpu

    started: list[gpu.GpuCollector] = []
    yield started
    for c in started:
        c.stop()
    running = gpu.current()
    if running is not None:
        running.stop()


@pytest.fixture
def real_nvml_present() -> bool:
    return ctypes.util.find_library("nvidia-ml") is not None


@pytest.fixture
def subprocess_env(fake_nvml_path: Path, tmp_path: Path) -> dict[str, str]:
    """An environment for a child process that loads the fake NVML through LD_LIBRARY_PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in _FAKE_VARS and not k.startswith(("OTEL_", "AIOBS_"))}
    env["LD_LIBRARY_PATH"] = str(fake_nvml_path.parent)
    env["AIOBS_SINK_DIR"] = str(tmp_path / ".aiobs")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).parents[2] / "src"),
                                                   env.get("PYTHONPATH", "")) if p)
    return env
