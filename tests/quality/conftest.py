"""Fixtures for the quality tests."""

from __future__ import annotations

import gc

import pytest
from quality_streams import Clock


@pytest.fixture(autouse=True)
def _no_stale_monitors():
    """Monitors of earlier tests must not show up in this test's collected metrics."""
    from aiobs_otel._core import quality_monitor

    if quality_monitor._live_monitors():  # normally freed by refcounting already
        gc.collect()
    yield


@pytest.fixture
def clock() -> Clock:
    return Clock()
