"""Streaming, mergeable drift detection (numpy only; imported on first use).

>>> import aiobs_otel as aiobs
>>> monitor = aiobs.DriftMonitor(name="fraud-model", reference=train_df)  # doctest: +SKIP
>>> aiobs.drift.build_reference(train_df).save("ref.json")  # doctest: +SKIP
"""

from __future__ import annotations

try:
    import numpy  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "aiobs_otel.drift needs numpy: pip install 'aiobs-otel[numpy]'"
    ) from exc

from .monitor import DriftMonitor
from .reference import ReferenceProfile, build_reference
from .sketch import CategoricalSketch, ExpHistogram

__all__ = ["CategoricalSketch", "DriftMonitor", "ExpHistogram", "ReferenceProfile",
           "build_reference"]
