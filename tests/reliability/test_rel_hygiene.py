"""R26: import hygiene, disabled mode, non-blocking init, harmless failures at shutdown."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from rel_support import traced_call

from aiobs_otel._core import state
from aiobs_otel.setup import providers


def _python(code: str, **env_updates: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIOBS_"))}
    env.update(env_updates)
    return subprocess.run([sys.executable, "-W", "error", "-c", code], env=env,
                          capture_output=True, text=True, timeout=60)


def test_rel_r26_import_is_silent_threadless_and_light():
    code = (
        "import sys, threading\n"
        "import aiobs_otel\n"
        "heavy = [m for m in ('torch', 'tensorflow', 'keras', 'numpy', 'pandas', 'pynvml',"
        " 'openai', 'anthropic', 'presidio_analyzer', 'opentelemetry.sdk') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_rel_r26_disabled_mode_starts_no_thread_and_opens_no_socket():
    code = (
        "import os, threading\n"
        "import aiobs_otel as aiobs\n"
        "from aiobs_otel._core.wrapping import Operation, Scope, start_span\n"
        "from opentelemetry.trace import SpanKind\n"
        "class Op(Operation):\n"
        "    def open(self, a, k):\n"
        "        return Scope(start_span('x', SpanKind.INTERNAL, None))\n"
        "@Op()\n"
        "def f(x):\n"
        "    return x\n"
        "aiobs.configure(endpoint='http://127.0.0.1:9')\n"
        "assert all(f(i) == i for i in range(1000))\n"
        "with Op() as handle:\n"
        "    assert not handle\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "fds = os.listdir('/proc/self/fd') if os.path.isdir('/proc/self/fd') else []\n"
        "def kind(fd):\n"
        "    try:\n"
        "        return os.readlink(f'/proc/self/fd/{fd}')\n"
        "    except OSError:\n"
        "        return ''\n"
        "socks = [fd for fd in fds if kind(fd).startswith('socket:')]\n"
        "assert not socks, socks\n"
        "assert aiobs.shutdown()\n"
    )
    for variable in ("AIOBS_DISABLED", "OTEL_SDK_DISABLED"):
        result = _python(code, **{variable: "true"})
        assert result.returncode == 0, (variable, result.stderr)
        assert result.stderr == "", result.stderr


def test_rel_r26_configure_with_unreachable_endpoint_does_not_block():
    code = (
        "import time\n"
        "import aiobs_otel as aiobs\n"
        "start = time.monotonic()\n"
        "aiobs.configure(endpoint='http://10.255.255.1:4318')\n"  # non-routable: connect hangs
        "print(f'{time.monotonic() - start:.3f}')\n"
        "aiobs.shutdown(timeout_s=0.5)\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split()[0]) < 1.0, "configure() waited on the network"


def test_rel_r26_thread_start_failing_at_shutdown_is_harmless(faulty, fast_export, monkeypatch):
    from rel_support import pipeline

    with pipeline(endpoint=faulty.http_endpoint):
        traced_call(1)

        def refuse(self: threading.Thread) -> None:
            raise RuntimeError("can't create new thread at interpreter shutdown")

        monkeypatch.setattr(threading.Thread, "start", refuse)
        started = time.monotonic()
        assert providers.shutdown(timeout_s=1) is False
        assert time.monotonic() - started < 2
        monkeypatch.undo()
    assert not state.STATE.configured


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_rel_r26_thread_count_constant_under_failures(faulty, fast_export):
    from rel_support import emit_all, pipeline

    faulty.down()
    with pipeline(endpoint=faulty.http_endpoint):
        emit_all(50)
        providers.force_flush(timeout_s=2)
        baseline = threading.active_count()
        for _ in range(3):
            emit_all(50)
            time.sleep(0.2)
        assert threading.active_count() <= baseline + 1
