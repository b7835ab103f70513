"""aiobs-otel: OpenTelemetry-native observability for LLM apps, training jobs and data pipelines.

>>> import aiobs_otel as aiobs
>>> aiobs.configure(service_name="checkout-bot")  # doctest: +SKIP

Everything public is importable from here; heavy pieces load on first use, so importing the
package imports no framework, no numpy and no OpenTelemetry SDK, and starts no thread.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it (loaded on first attribute access)
_LAZY: dict[str, str] = {
    "configure": "aiobs_otel.setup.providers",
    "shutdown": "aiobs_otel.setup.providers",
    "force_flush": "aiobs_otel.setup.providers",
    "Settings": "aiobs_otel.config",
    "ContentCapture": "aiobs_otel.config",
    # GenAI
    "llm_call": "aiobs_otel._core.genai",
    "agent": "aiobs_otel._core.genai",
    "tool": "aiobs_otel._core.genai",
    "workflow": "aiobs_otel._core.genai",
    "set_redactor": "aiobs_otel._core.content",
    "set_pricing": "aiobs_otel._core.cost",
    "instrument": "aiobs_otel.instrumentation",
    "uninstrument": "aiobs_otel.instrumentation",
    # training
    "training_run": "aiobs_otel._core.training",
    "train_step": "aiobs_otel._core.training",
    # data and drift
    "pipeline_stage": "aiobs_otel._core.pipeline",
    "DriftMonitor": "aiobs_otel.drift",
    # GPU
    "gpu_collector": "aiobs_otel.collectors.gpu",
    # model quality
    "QualityMonitor": "aiobs_otel._core.quality",
    "record_evaluation": "aiobs_otel._core.quality",
}
_SUBMODULES = ("drift", "testing", "config", "semconv", "instrumentation")

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"aiobs_otel.{name}")
    raise AttributeError(f"module 'aiobs_otel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBMODULES])


if TYPE_CHECKING:  # names for type checkers and IDEs; never executed
    from ._core.content import set_redactor
    from ._core.cost import set_pricing
    from ._core.genai import agent, llm_call, tool, workflow
    from ._core.pipeline import pipeline_stage
    from ._core.quality import QualityMonitor, record_evaluation
    from ._core.training import train_step, training_run
    from .collectors.gpu import gpu_collector
    from .config import ContentCapture, Settings
    from .drift import DriftMonitor
    from .instrumentation import instrument, uninstrument
    from .setup.providers import configure, force_flush, shutdown
