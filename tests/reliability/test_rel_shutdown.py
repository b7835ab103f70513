"""R07: exit and shutdown() are capped with the collector down or blackholed (SDK alone: ~30 s).

Each case is a real interpreter (``exit_script.py``) configured with ``configure()``; the exit
time is measured from the script's last line of output to the end of the process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("exit_script.py")
SLACK_S = 1.5  # interpreter teardown on a loaded 2-core machine


def _run(args: list[str], env_updates: dict[str, str] | None = None,
         timeout: float = 40) -> tuple[list[str], float, int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIOBS_"))}
    env.update(env_updates or {})
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = []
    exit_started = time.monotonic()
    for line in proc.stdout:
        lines.append(line.strip())
        if line.startswith("exiting"):
            exit_started = time.monotonic()
            break
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    return lines, time.monotonic() - exit_started, proc.returncode, stderr


def _dead_endpoint() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there: connection refused


@pytest.mark.parametrize("protocol", [
    "http/protobuf", pytest.param("grpc", marks=pytest.mark.reliability)])
def test_rel_r07_exit_with_collector_down_is_capped(protocol):
    lines, exit_s, code, stderr = _run([_dead_endpoint(), protocol, "exit"])
    assert code == 0, stderr
    assert "exiting" in lines
    assert exit_s <= 5.0 + SLACK_S, f"exit took {exit_s:.1f} s"


@pytest.mark.reliability
def test_rel_r07_exit_with_collector_blackholed_is_capped(faulty):
    faulty.set("blackhole")
    _, exit_s, code, stderr = _run([faulty.http_endpoint, "http/protobuf", "exit"])
    assert code == 0, stderr
    assert exit_s <= 5.0 + SLACK_S, f"exit took {exit_s:.1f} s"


def test_rel_r07_shutdown_timeout_is_configurable():
    lines, exit_s, code, stderr = _run([_dead_endpoint(), "http/protobuf", "shutdown"],
                                       {"AIOBS_SHUTDOWN_TIMEOUT": "1"})
    assert code == 0, stderr
    [result] = [line for line in lines if line.startswith("shutdown=")]
    ok, took = result.split()
    assert ok == "shutdown=False", "a shutdown that dropped telemetry must report failure"
    assert float(took.split("=")[1]) <= 1.0 + SLACK_S
    assert "after-shutdown-ok configured=False" in lines, "a call after shutdown reconfigured"
    assert exit_s <= SLACK_S + 1.0, "exit after an explicit shutdown must not wait again"


def test_rel_r07_force_flush_honours_its_timeout(faulty):
    faulty.set("blackhole")
    lines, _, code, stderr = _run([faulty.http_endpoint, "http/protobuf", "flush"],
                                  {"AIOBS_SHUTDOWN_TIMEOUT": "1"})
    assert code == 0, stderr
    [result] = [line for line in lines if line.startswith("flush=")]
    ok, took = result.split()
    assert ok == "flush=False"
    assert float(took.split("=")[1]) <= 1.0 + SLACK_S


def test_rel_r07_exit_with_healthy_collector_delivers_everything(faulty):
    _, exit_s, code, stderr = _run([faulty.http_endpoint, "http/protobuf", "exit", "300"])
    assert code == 0, stderr
    assert faulty.items("traces") == 300
    assert faulty.items("logs") == 300
    assert exit_s <= 5.0 + SLACK_S
