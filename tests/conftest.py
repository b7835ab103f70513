"""Shared fixtures. The whole suite runs in strict mode: internal errors fail the test."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # shared test helpers (otlp_receiver) by plain import
os.environ.setdefault("AIOBS_STRICT", "true")
os.environ.setdefault("OTEL_METRIC_EXPORT_INTERVAL", "60000")

import pytest

from aiobs_otel._core import errors, state
from aiobs_otel.testing import aiobs_capture  # noqa: F401


@pytest.fixture(autouse=True)
def _isolated_sink(tmp_path, monkeypatch):
    """Never write telemetry into the repository: the local sink goes to a temp dir."""
    monkeypatch.setenv("AIOBS_SINK_DIR", str(tmp_path / ".aiobs"))
    errors.reset_for_tests()
    yield


@pytest.fixture
def fresh_state():
    """Forget configuration before and after a test that calls configure() itself."""
    from aiobs_otel.setup.providers import shutdown

    state.reset()
    yield
    shutdown(timeout_s=2)
    state.reset()


@pytest.fixture
def otlp_receiver():
    """A real OTLP receiver (gRPC and HTTP/protobuf) on 127.0.0.1 for one test."""
    from otlp_receiver import OTLPReceiver

    receiver = OTLPReceiver()
    yield receiver
    receiver.stop()
