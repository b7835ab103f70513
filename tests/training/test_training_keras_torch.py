"""Keras 3 ``model.fit`` with the callback, on the torch backend (keras installs without TF)."""

from __future__ import annotations

import os

import pytest

if os.environ.get("KERAS_BACKEND", "torch") != "torch":
    pytest.skip("this module runs Keras on the torch backend", allow_module_level=True)
pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from aiobs_otel import semconv  # noqa: E402
from aiobs_otel.testing import capture  # noqa: E402


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def _data(n=64):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_keras_fit_reports_a_run_its_steps_and_metrics():
    from aiobs_otel.instrumentation.keras import TelemetryCallback

    x, y = _data()
    model = _model()
    with capture() as t:
        model.fit(x, y, batch_size=8, epochs=2, verbose=0,
                  callbacks=[TelemetryCallback(name="keras-tiny", batch_size=8)])
        (run_span,) = t.spans("training_run keras-tiny")
        assert run_span.attributes[semconv.TRAINING_FRAMEWORK] == "keras"
        assert run_span.attributes[semconv.TRAINING_MODEL_PARAMETERS] == model.count_params()
        steps = t.spans("train_step")
        assert len(steps) == 16
        assert sorted(s.attributes[semconv.TRAINING_STEP] for s in steps) == list(range(16))
        assert {s.attributes[semconv.TRAINING_EPOCH] for s in steps} == {0, 1}
        assert all(s.parent.span_id == run_span.context.span_id for s in steps)
        assert all(s.attributes[semconv.TRAINING_LOSS_ATTR] >= 0 for s in steps)
        assert all(s.attributes[semconv.TRAINING_LR_ATTR] == pytest.approx(0.01) for s in steps)
        (duration,) = t.metrics(semconv.TRAINING_STEP_DURATION)
        assert duration.count == 16
        (samples,) = t.metrics(semconv.TRAINING_SAMPLES)
        assert samples.value == 128


def test_keras_nan_loss_is_an_anomaly():
    import numpy as np

    from aiobs_otel.instrumentation.keras import TelemetryCallback

    x, y = _data(32)
    y[5, 0] = np.nan
    with capture() as t:
        _model().fit(x, y, batch_size=8, epochs=1, verbose=0,
                     callbacks=[TelemetryCallback(name="keras-nan", batch_size=8)])
        events = t.logs(semconv.TRAINING_ANOMALY_EVENT)
        assert events
        assert events[0].log_record.attributes[semconv.TRAINING_ANOMALY_KIND] == \
            semconv.ANOMALY_LOSS_NAN
        kinds = {p.attributes["kind"] for p in t.metrics(semconv.TRAINING_ANOMALIES)}
        assert kinds == {semconv.ANOMALY_LOSS_NAN}


def test_the_callback_keeps_keras_async_batch_end_dispatch():
    from keras.callbacks import Callback, CallbackList

    from aiobs_otel.instrumentation.keras import TelemetryCallback

    class Blocking(Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    model = _model()
    assert CallbackList([TelemetryCallback()], model=model)._async_train is True
    # what a plain batch-end override does (the behaviour we avoid)
    assert CallbackList([Blocking()], model=model)._async_train is False
