"""Keras 3 ``model.fit`` on the TensorFlow backend (``nox -s tensorflow``; TF is ~570 MB).

Each test runs Keras in a subprocess with ``KERAS_BACKEND=tensorflow``, so this module never
imports TensorFlow into the default test process (where Keras runs on torch).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.tensorflow

SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import keras
    from aiobs_otel import semconv
    from aiobs_otel.instrumentation.keras import TelemetryCallback
    from aiobs_otel.testing import capture

    spe = int(sys.argv[1])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", steps_per_execution=spe)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    y[40, 0] = np.nan
    callback = TelemetryCallback(name="tf", batch_size=8)
    with capture() as t:
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[callback])
        steps = t.spans("train_step")
        print(json.dumps({
            "backend": keras.backend.backend(),
            "runs": len(t.spans("training_run tf")),
            "steps": len(steps),
            "samples": [p.value for p in t.metrics(semconv.TRAINING_SAMPLES)],
            "kinds": sorted({p.attributes["kind"] for p in t.metrics(semconv.TRAINING_ANOMALIES)}),
            "durations": t.metrics(semconv.TRAINING_STEP_DURATION)[0].count,
        }))
''')


def _fit(steps_per_execution: int) -> dict:
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed (nox -s tensorflow installs it)")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(steps_per_execution)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_keras_tensorflow_fit_reports_steps_and_the_nan():
    result = _fit(1)
    assert result["backend"] == "tensorflow"
    assert result["runs"] == 1
    assert result["steps"] == 8 and result["durations"] == 8
    assert result["samples"] == [64]
    assert result["kinds"] == ["loss_nan"]


def test_keras_tensorflow_steps_per_execution_counts_every_batch():
    result = _fit(4)  # hooks fire every 4 batches
    assert result["steps"] == 2
    assert result["samples"] == [64]
