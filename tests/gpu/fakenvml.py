"""Build and drive the fake ``libnvidia-ml.so.1`` (tests/gpu/fake_nvml/fake_nvml.c).

The library is compiled with gcc into a temporary directory at test time; no binary is ever
committed. In-process, :func:`preload` loads it by absolute path before pynvml's first
``CDLL("libnvidia-ml.so.1")``: glibc matches the soname and hands pynvml our library, so the real
binding code runs. Subprocesses get it through ``LD_LIBRARY_PATH``.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).parent / "fake_nvml" / "fake_nvml.c"
GIB = 1024**3
MIB = 1024**2
DRIVER_VERSION = "560.35.03"
_loaded: ctypes.CDLL | None = None


def build(directory: Path) -> Path:
    """Compile the fake into ``directory/libnvidia-ml.so.1`` and return its path."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise RuntimeError("no C compiler (gcc) to build the fake NVML library")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "libnvidia-ml.so.1"
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-O2", "-Wall", "-Wl,-soname,libnvidia-ml.so.1",
         "-o", str(target), str(SOURCE)],
        check=True, capture_output=True, text=True,
    )
    return target


def preload(path: Path) -> ctypes.CDLL:
    """Load the fake in this process (once) so pynvml picks it up by soname."""
    global _loaded
    if _loaded is None:
        _loaded = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        _loaded.fakeNvmlCallCount.restype = ctypes.c_long
        _loaded.fakeNvmlCallCount.argtypes = [ctypes.c_char_p]
        _loaded.fakeNvmlInjectXid.argtypes = [ctypes.c_int, ctypes.c_ulonglong]
        _loaded.fakeNvmlSetUnsupported.argtypes = [ctypes.c_char_p]
    return _loaded


class Control:
    """Handles on the fake's control exports (in-process tests)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib

    def calls(self, function: str) -> int:
        return int(self.lib.fakeNvmlCallCount(function.encode()))

    def lose(self, index: int) -> None:
        self.lib.fakeNvmlLoseGpu(index)

    def set_util(self, index: int, percent: int) -> None:
        self.lib.fakeNvmlSetUtil(index, percent)

    def set_unsupported(self, functions: str) -> None:
        """Replace the NOT_SUPPORTED list mid-run (``fn`` or ``fn@index``, comma separated)."""
        self.lib.fakeNvmlSetUnsupported(functions.encode())

    def inject_xid(self, index: int, code: int) -> None:
        self.lib.fakeNvmlInjectXid(index, code)

    def reset_counts(self) -> None:
        self.lib.fakeNvmlResetCounts()


def uuid(index: int) -> str:
    return f"GPU-fa4e{index:04x}-0000-4000-8000-{index:012d}"


def expected(index: int) -> dict[str, Any]:
    """What the fake reports for GPU ``index``, in the units our semconv metrics use."""
    used = (index + 1) * GIB
    return {
        "hw.gpu.utilization": (10 + 7 * index) / 100,
        "aiobs.gpu.memory_controller.utilization": (5 + index) / 100,
        "hw.gpu.memory.usage": used,
        "hw.gpu.memory.limit": 80 * GIB,
        "hw.gpu.memory.utilization": used / (80 * GIB),
        "hw.power": (150_000 + 1000 * index) / 1000,
        "hw.energy": (5_000_000 + 1000 * index) / 1000,
        "temperature.gpu": 40 + index,
        "temperature.memory": 50 + index,
        "clock.sm": (1500 + 10 * index) * 1e6,
        "clock.memory": 2619 * 1e6,
        "aiobs.gpu.power.limit": 700.0,
        "pcie.transmit": 1_000_000 * (index + 1),
        "pcie.receive": 2_000_000 * (index + 1),
        "nvlink.transmit": 100 * 1024 * (index + 1),
        "nvlink.receive": 200 * 1024 * (index + 1),
        "ecc.corrected": 3 * index,
        "ecc.uncorrected": 0,
        "process.memory": 256 * MIB * (index + 1),
    }
