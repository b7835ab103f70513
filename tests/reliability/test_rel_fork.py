"""R17: fork with a non-empty queue, with a held lock, after pre-fork init (gunicorn --preload),
and double fork. The child works, exports its own data and never re-sends the parent's queue."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("fork_script.py")
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def _run(receiver, scenario: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIOBS_"))}
    env.update({"OTEL_BSP_SCHEDULE_DELAY": "60000", "OTEL_METRICS_EXPORTER": "none"})
    result = subprocess.run([sys.executable, str(SCRIPT), receiver.http_endpoint, scenario],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "parent-ok child_exit=0" in result.stdout, (result.stdout, result.stderr)
    return result.stdout


@pytest.mark.parametrize("scenario", ["queue", "lock", "preload"])
def test_rel_r17_child_exports_its_own_and_never_the_parents_queue(faulty, scenario):
    out = _run(faulty, scenario)
    assert out.count("child-ok") == 1
    names = Counter(faulty.span_names())
    assert names["parent.op"] == 50, "the parent's queue was sent more (or less) than once"
    assert names["child.op"] == 5
    assert names["parent.after"] == 3


def test_rel_r17_double_fork(faulty):
    out = _run(faulty, "double")
    assert out.count("child-ok") == 2
    names = Counter(faulty.span_names())
    assert names == {"parent.op": 50, "child.op": 5, "grandchild.op": 5, "parent.after": 3}
