"""The example end to end (local sink → report section), and lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_example_writes_the_sink_and_the_report_has_a_training_section(tmp_path):
    pytest.importorskip("torch")
    env = {**os.environ, "AIOBS_SINK_DIR": str(tmp_path / "sink"), "AIOBS_STRICT": "true"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "train_pytorch.py")],
                          env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    section = out[out.index("\nTraining\n"):]
    assert "mlp-example" in section and "300" in section
    for kind in ("loss_nan", "grad_norm_nan", "data_stall"):
        assert kind in section
    assert "data wait share" in section and "step p50 ms" in section

    from aiobs_otel.cli.sections import training as training_section
    from aiobs_otel.cli.sinkdata import load

    data = load(tmp_path / "sink")
    lines = training_section.render(data)
    run_row = next(line for line in lines if line.strip().startswith("mlp-example"))
    assert run_row.split()[1:3] == ["1", "300"]


def test_report_section_is_empty_without_training_data(tmp_path):
    from aiobs_otel.cli.sections import training as training_section
    from aiobs_otel.cli.sinkdata import load

    assert training_section.render(load(tmp_path)) == []


def test_histogram_quantile_interpolates_within_buckets():
    from aiobs_otel.cli.sections.training import _histogram_quantile
    from aiobs_otel.cli.sinkdata import MetricPoint

    point = MetricPoint(name="h", kind="histogram", unit="s", attributes={}, resource={},
                        time_ns=0, count=10, total=1.0, bounds=(0.1, 0.2),
                        bucket_counts=(0, 10, 0))
    assert _histogram_quantile([point], 0.5) == pytest.approx(0.15)


def test_importing_the_training_modules_imports_no_framework():
    code = (
        "import sys\n"
        "import aiobs_otel as aiobs\n"
        "aiobs.training_run; aiobs.train_step\n"
        "import aiobs_otel.instrumentation.keras, aiobs_otel.instrumentation.lightning\n"
        "import aiobs_otel.instrumentation.transformers, aiobs_otel.cli.sections.training\n"
        "heavy = [m for m in ('torch', 'keras', 'tensorflow', 'lightning', 'pytorch_lightning',\n"
        "         'transformers', 'numpy') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"
