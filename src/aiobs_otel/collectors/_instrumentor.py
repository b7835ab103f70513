"""``opentelemetry-instrument`` entry point ``aiobs_gpu``: starts the GPU collector.

With ``AIOBS_GPU=true`` in the environment, ``opentelemetry-instrument python train.py`` samples
the GPUs with no code change. Without it, instrumenting does nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from .._core import state


class GpuInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Starts the NVML GPU collector when ``AIOBS_GPU`` is true.

    >>> GpuInstrumentor().instrument()  # doctest: +SKIP
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        # pynvml is checked when the sampler starts, so a missing package gives our diagnostic
        # (naming the extra) instead of a silent skip by the loader.
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        from .gpu import start_from_settings

        start_from_settings(state.current_settings())

    def _uninstrument(self, **kwargs: Any) -> None:
        from .gpu import current

        collector = current()
        if collector is not None:
            collector.stop()
