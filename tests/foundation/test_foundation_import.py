"""``import aiobs_otel`` is light: no heavy modules, no OTel SDK, no threads, no output."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "tensorflow", "keras", "openai", "anthropic", "pynvml", "numpy", "pandas",
         "pyarrow", "opentelemetry.sdk", "grpc")


def test_import_is_light_and_silent():
    code = (
        "import sys, threading\n"
        "n = threading.active_count()\n"
        "import aiobs_otel\n"
        f"bad = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert threading.active_count() == n, 'a thread was started'\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", code],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_public_names_resolve():
    import aiobs_otel

    for name in ("configure", "shutdown", "force_flush", "Settings", "__version__"):
        assert getattr(aiobs_otel, name) is not None
    assert "configure" in dir(aiobs_otel)
