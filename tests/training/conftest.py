"""Training-area fixtures: a clean run registry per test; Keras on the torch backend."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest


@pytest.fixture(autouse=True)
def _fresh_training_runs():
    from aiobs_otel._core import training

    training.reset_for_tests()
    yield
    training.reset_for_tests()


def metric_points(capture, name):
    return capture.metrics(name)


def one_value(capture, name, **attributes):
    points = [p for p in capture.metrics(name)
              if all(p.attributes.get(k) == v for k, v in attributes.items())]
    assert points, f"no {name} points with {attributes}"
    return points[-1]
