"""Fixtures for the auto-instrumentation tests (the fakes live in ``instr_fakes``)."""

from __future__ import annotations

import pytest
from instr_fakes import (  # noqa: F401 - pytest fixtures, used by name
    anthropic_client,
    async_anthropic_client,
    async_openai_client,
    fake,
    instrumented,
    openai_client,
    telemetry,
)


@pytest.fixture(autouse=True)
def _spans_end_exactly_once(caplog):
    """The OTel SDK logs a warning when a span is ended twice: that fails the test."""
    yield
    twice = [r for r in caplog.records if "on an ended span" in r.getMessage()]
    assert not twice, "a span was ended more than once"
