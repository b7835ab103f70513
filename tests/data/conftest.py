"""Fixtures for the data/drift tests: every test records into an in-memory capture."""

from __future__ import annotations

import pytest

from aiobs_otel.testing import capture


@pytest.fixture(autouse=True)
def _fresh_pipeline_memory():
    from aiobs_otel._core import pipeline

    pipeline.reset_for_tests()
    with capture():  # never configure global providers from these tests
        yield
    pipeline.reset_for_tests()
