"""``aiobs-otel demo``: the README's main job, end to end, then its report in real Chromium."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from test_backends_html_report import check_in_browser

from aiobs_otel.cli import html_report, sinkdata


@pytest.mark.slow
def test_demo_runs_and_its_report_renders(tmp_path: Path, chromium) -> None:
    directory = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "aiobs_otel", "demo", "--dir", str(directory), "--quick"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    torch_present = importlib.util.find_spec("torch") is not None
    for expected in ("+ LLM app", "1 rate-limited, 1 tool call", "+ data pipeline and drift",
                     "monitor status drift", "+ model quality", "HTML report:", "LLM calls",
                     *(["+ training run"] if torch_present else ["- training run"])):
        assert expected in out, f"{expected!r} missing from the demo's output:\n{out}"
    assert "skipped: no NVIDIA GPU found" in out or "+ GPU collector" in out, out

    data = sinkdata.load(directory)
    titles = html_report.chart_titles(data)
    for title in ("Latency by model", "Cumulative cost by model", "Token mix by model",
                  "Errors by error.type", "Drift score per feature (psi)", "Records per stage",
                  "Stage runs", "Quality by segment", "Time to first chunk (streaming)",
                  "Tool calls"):
        assert title in titles, titles
    if torch_present:
        assert {"Loss", "Step time and data wait", "Anomalies by kind"} <= set(titles)
    page = directory / "report.html"
    report = check_in_browser(chromium, page, tmp_path / "demo-report.png")
    assert report["charts"] == len(titles)
    print(f"screenshot: {tmp_path / 'demo-report.png'}")
