"""Test helpers for the quality tests: a hand-moved clock and a synthetic classifier stream."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Stream:
    ids: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    scores: np.ndarray
    region: np.ndarray


def classifier_stream(n: int, *, seed: int = 0, regions=("eu", "us", "apac", "latam"),
                      accuracy=None, drop_region=None, drop_after=None, drop_to=0.6) -> Stream:
    """Binary predictions whose accuracy is ``accuracy[region]`` (default 0.9), dropping to
    ``drop_to`` for ``drop_region`` from row ``drop_after`` on."""
    rng = np.random.default_rng(seed)
    region = rng.choice(np.array(regions), n)
    y_true = rng.integers(0, 2, n)
    target = np.full(n, 0.9)
    if accuracy:
        for name, value in accuracy.items():
            target[region == name] = value
    if drop_region is not None:
        target[(region == drop_region) & (np.arange(n) >= drop_after)] = drop_to
    correct = rng.random(n) < target
    y_pred = np.where(correct, y_true, 1 - y_true)
    confidence = np.clip(rng.normal(0.8, 0.1, n), 0.5, 1.0)
    scores = np.where(y_pred == 1, confidence, 1 - confidence)
    return Stream(np.arange(10_000, 10_000 + n), y_true, y_pred, scores, region)
