"""Collectors that sample hardware on their own thread (today: NVIDIA GPUs through NVML).

>>> from aiobs_otel.collectors import gpu_collector
>>> collector = gpu_collector(interval=1.0)  # doctest: +SKIP

Importing this package imports neither ``pynvml`` nor the OpenTelemetry SDK and starts nothing.
"""

from __future__ import annotations

from .gpu import GpuCollector, GpuDevice, gpu_collector, start_from_settings

__all__ = ["GpuCollector", "GpuDevice", "gpu_collector", "start_from_settings"]
