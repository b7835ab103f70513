"""Every example under examples/ runs on the embedded local default and ends with a report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("example,expected", [
    ("quickstart.py", ["chat gpt-4o-mini", "execute_tool lookup_order", "invoke_agent support",
                       "gen_ai.client.token.usage"]),
    ("drift_monitor.py", ["drift"]),
    ("quality_monitor.py", ["active alerts"]),
])
def test_example_runs_with_no_server(example, expected, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIOBS_"))}
    result = subprocess.run([sys.executable, str(ROOT / "examples" / example)], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    for text in expected:
        assert text in result.stdout, (text, result.stdout[-2000:])
    assert (tmp_path / ".aiobs" / "traces.jsonl").exists() or \
        (tmp_path / ".aiobs" / "metrics.jsonl").exists()
