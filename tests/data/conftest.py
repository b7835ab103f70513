"""Fixtures for the data/drift tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_pipeline_memory():
    from aiobs_otel._core import pipeline

    pipeline.reset_for_tests()
    yield
    pipeline.reset_for_tests()
