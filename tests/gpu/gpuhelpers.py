"""Small helpers shared by the GPU tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def wait_sweeps(collector: Any, count: int, timeout_s: float = 5.0) -> None:
    start = collector.sweeps
    assert wait_until(lambda: collector.sweeps >= start + count, timeout_s), collector


def by_device(telemetry: Any, name: str, attribute: str | None = None) -> dict[Any, float]:
    """{hw.id: value} (or {(hw.id, attribute value): value}) for metric ``name``."""
    out: dict[Any, float] = {}
    for point in telemetry.metrics(name):
        key = point.attributes.get("hw.id")
        if attribute is not None:
            key = (key, point.attributes.get(attribute))
        out[key] = point.value
    return out
