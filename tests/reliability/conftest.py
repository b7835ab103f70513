"""Fixtures of the reliability suite: a fault-injecting receiver, fast export settings."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from faulty_receiver import FaultyReceiver

from aiobs_otel.setup import accounting


@pytest.fixture
def faulty() -> Iterator[FaultyReceiver]:
    receiver = FaultyReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture(autouse=True)
def _fresh_accounting() -> Iterator[None]:
    accounting.reset_for_tests()
    yield
    accounting.reset_for_tests()


@pytest.fixture
def fast_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small batches, short delays and a 1 s export timeout, so fault tests run in seconds."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "100")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "256")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")


