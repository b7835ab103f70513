"""Model quality and LLM evaluations: ``QualityMonitor`` and ``record_evaluation``.

``record_evaluation`` needs no numpy; ``QualityMonitor`` loads numpy (the ``numpy`` extra) on
first use, so LLM applications that only record evaluations never import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .evaluation import record_evaluation

if TYPE_CHECKING:
    from .quality_monitor import QualityMonitor

__all__ = ["QualityMonitor", "record_evaluation"]


def __getattr__(name: str) -> Any:
    if name == "QualityMonitor":
        try:
            from .quality_monitor import QualityMonitor
        except ImportError as exc:
            if getattr(exc, "name", None) == "numpy":
                raise ImportError("QualityMonitor needs numpy: pip install 'aiobs-otel[numpy]'",
                                  name="numpy") from exc
            raise
        return QualityMonitor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
