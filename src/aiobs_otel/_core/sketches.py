"""Registry of sketch producers (drift monitors) whose sketches go out as OTLP points.

The Python SDK has no batch API for histograms and no MetricProducer, so drift monitors hand
their closed windows' sketches to :mod:`aiobs_otel.setup.sketch_export`, which appends them to
what each metric reader collects. This module holds no numpy and no SDK import.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SketchPoint:
    """One sketch to export: ``kind`` is ``"exponential"`` (an ExpHistogram) or ``"bins"``."""

    metric: str
    kind: str
    attributes: dict[str, Any]
    start_ns: int
    end_ns: int
    sketch: Any  # ExpHistogram for "exponential"; (bounds, counts, total, lo, hi) for "bins"


class SketchProducer(Protocol):
    def drain_sketches(self, reader_key: int) -> list[SketchPoint]: ...


_lock = threading.Lock()
_producers: weakref.WeakSet[Any] = weakref.WeakSet()
_readers: set[int] = set()


def register(producer: SketchProducer) -> None:
    with _lock:
        _producers.add(producer)


def reader_keys() -> frozenset[int]:
    """Keys of the metric readers that currently receive sketches."""
    return frozenset(_readers)


def add_reader(key: int) -> None:
    with _lock:
        _readers.add(key)


def discard_reader(key: int) -> None:
    with _lock:
        _readers.discard(key)


def keep_only(keys: set[int]) -> None:
    """Forget readers of providers no longer in use (their pending sketches are dropped)."""
    with _lock:
        _readers.intersection_update(keys)


def drain(reader_key: int) -> list[SketchPoint]:
    """Every point waiting for this reader (each point goes to each reader once)."""
    with _lock:
        producers = list(_producers)
    points: list[SketchPoint] = []
    for producer in producers:
        points.extend(producer.drain_sketches(reader_key))
    return points
