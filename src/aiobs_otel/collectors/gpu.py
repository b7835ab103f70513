"""The NVML GPU collector: one daemon thread that samples GPUs at a fixed interval.

>>> import aiobs_otel as aiobs
>>> collector = aiobs.gpu_collector(interval=1.0)  # doctest: +SKIP
>>> collector.stop()  # doctest: +SKIP

Or with no code: ``AIOBS_GPU=true`` (``AIOBS_GPU_INTERVAL``, ``AIOBS_GPU_MODE``,
``AIOBS_GPU_DCGM``) through ``configure()`` or ``opentelemetry-instrument``.

Cheap readings (utilisation, memory, power, energy, temperature, clocks, clock-event reasons,
XID events) run every interval; NVML field values (PCIe/NVLink byte counters, memory
temperature) and ECC every 10 s; power limit and per-process memory every 60 s. No NVML call
ever happens on the application's threads. When the ``pynvml`` package, the driver library or
the driver is missing, one warning is logged, the application runs on and the collector retries
with a growing back-off (a missing package is not retried).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core import activity, errors, state
from . import _nvml

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["GpuCollector", "GpuDevice", "dcgm_views", "gpu_collector", "start_from_settings"]

_log = logging.getLogger("aiobs_otel")
_MODES = ("rank", "node")
_MEDIUM_PERIOD_S = 10.0
_SLOW_PERIOD_S = 60.0
_BACKOFF_FIRST_S = 30.0
_BACKOFF_MAX_S = 600.0

_lock = threading.Lock()
_collector: GpuCollector | None = None
_package_warned = False


@dataclass(frozen=True)
class GpuDevice:
    """A GPU the collector samples."""

    index: int  # NVML (PCI-order) index
    uuid: str
    name: str


class GpuCollector:
    """A running (or stopped) GPU sampler. Get one with :func:`gpu_collector`.

    ``status`` is one of ``starting``, ``running``, ``idle`` (no GPU selected for this process),
    ``backoff`` (NVML unavailable; retrying), ``unavailable`` (pynvml missing), ``disabled``
    or ``stopped``.
    """

    def __init__(
        self,
        interval: float,
        mode: str,
        dcgm: bool,
        devices: Sequence[int | str] | None = None,
        restart_after_fork: bool = False,
    ) -> None:
        self.interval = interval
        self.mode = mode
        self.dcgm = dcgm
        self.explicit_devices = tuple(devices) if devices is not None else None
        self.restart_after_fork = restart_after_fork
        self.status = "starting"
        self.medium_period_s = _MEDIUM_PERIOD_S
        self.slow_period_s = _SLOW_PERIOD_S
        self.backoff_first_s = _BACKOFF_FIRST_S
        self.sweeps = 0
        self.internal_error: BaseException | None = None
        self._stop = threading.Event()
        self._sampled = threading.Event()
        self._thread: threading.Thread | None = None
        self._sampler: _nvml.Sampler | None = None
        self._logged: set[str] = set()
        self.shutdown_registered = False

    # -- public ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the sampling thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop.is_set()

    @property
    def devices(self) -> list[GpuDevice]:
        """The GPUs being sampled (empty before the first sweep or without NVML)."""
        sampler = self._sampler
        if sampler is None:
            return []
        return [GpuDevice(d.index, d.uuid, d.name) for d in sampler.devices]

    @property
    def unsupported(self) -> dict[str, list[str]]:
        """Readings each GPU answered NOT_SUPPORTED to (probed once, skipped for good)."""
        sampler = self._sampler
        if sampler is None:
            return {}
        return {d.uuid: list(d.unsupported) for d in sampler.devices}

    def wait_for_sample(self, timeout: float = 5.0) -> bool:
        """Block until the first sweep finished (True); False after ``timeout`` or as soon as
        the collector knows it cannot sample (NVML unavailable, disabled, stopped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if self._sampled.wait(max(0.0, min(0.05, remaining))):
                return True
            if remaining <= 0 or self.status in ("backoff", "unavailable", "disabled", "stopped"):
                return False

    def stop(self, timeout: float = 1.0) -> None:
        """Stop sampling and join the thread (at most ``timeout`` seconds). Idempotent."""
        global _collector
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if self.status != "unavailable":
            self.status = "stopped"
        with _lock:
            if _collector is self:
                _collector = None

    def __enter__(self) -> GpuCollector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"GpuCollector(status={self.status!r}, interval={self.interval}, "
                f"mode={self.mode!r}, dcgm={self.dcgm}, devices={len(self.devices)})")

    # -- thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aiobs-gpu-sampler", daemon=True)
        self._thread.start()

    def _once(self, key: str, message: str, *args: Any, level: int = logging.WARNING) -> None:
        if key not in self._logged:
            self._logged.add(key)
            _log.log(level, message, *args)

    def _report(self, hook: str, exc: Exception) -> None:
        try:
            errors.report(hook, exc)
        except errors.InternalError as strict:  # strict mode: keep it for the tests to see
            self.internal_error = strict

    def _select(self, uuids: list[str]) -> list[int]:
        from ..config import cuda_visible_devices, distributed_identity

        return _nvml.select_devices(uuids, self.mode, cuda_visible_devices(),
                                    distributed_identity().local_rank, self.explicit_devices)

    def _run(self) -> None:
        global _package_warned
        backoff = self.backoff_first_s
        while not self._stop.is_set():
            sampler = _nvml.Sampler(self._select, dcgm=self.dcgm)
            try:
                sampler.open()
            except _nvml.PackageMissing as exc:
                self.status = "unavailable"
                if not _package_warned:  # once per process: retrying cannot install it
                    _package_warned = True
                    _log.warning("aiobs_otel: %s (the application is unaffected)", exc)
                return
            except _nvml.NvmlUnavailable as exc:
                self.status = "backoff"
                self._once(f"open:{exc.reason}", "aiobs_otel: GPU metrics are off: %s; the "
                           "application is unaffected and the collector retries in the "
                           "background", exc)
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            except Exception as exc:  # never let the thread die silently
                self._report("gpu.open", exc)
                self.status = "backoff"
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            backoff = self.backoff_first_s
            self._sampler = sampler
            activity.watch()  # from now on open spans are published for exemplars
            try:
                self._sample_until_stopped(sampler)
            except _nvml.SessionLost as exc:
                self.status = "backoff"
                self._once("session", "aiobs_otel: the NVIDIA driver stopped answering (%s); "
                           "GPU sampling pauses and retries in the background", exc)
            finally:
                activity.unwatch()
                sampler.stopped = True  # stays published: the final export still carries it
                sampler.close()
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, _BACKOFF_MAX_S)

    def _sample_until_stopped(self, sampler: _nvml.Sampler) -> None:
        from . import _gpu_telemetry

        if not sampler.devices:
            self.status = "idle"
            self._once("idle", "aiobs_otel: no GPU selected for this process (mode=%s); the "
                       "GPU collector idles", self.mode, level=logging.INFO)
            self._sampled.set()
            self._stop.wait()
            return
        self.status = "running"
        medium_every = max(1, round(self.medium_period_s / self.interval))
        slow_every = max(1, round(self.slow_period_s / self.interval))
        deadline = time.monotonic()
        count = 0
        while not self._stop.is_set():
            tiers = [_nvml.FAST]
            if count % medium_every == 0:
                tiers.append(_nvml.MEDIUM)
            if count % slow_every == 0:
                tiers.append(_nvml.SLOW)
            try:
                sampler.sweep(tiers, activity.latest())
                generation = state.STATE.generation
                if generation != self._generation:  # first sweep, or the providers changed
                    _gpu_telemetry.ensure_instruments(self.dcgm, sampler)
                    _gpu_telemetry.publish(sampler)
                    self._generation = generation
            except _nvml.SessionLost:
                raise
            except Exception as exc:
                self._report("gpu.sweep", exc)
            count += 1
            self.sweeps += 1
            self._sampled.set()
            deadline += self.interval
            now = time.monotonic()
            if deadline < now:  # fell behind (suspended, slow driver): do not catch up in bursts
                deadline = now + self.interval
            self._stop.wait(deadline - now)

    _generation = -1


def gpu_collector(
    interval: float | None = None,
    mode: str | None = None,
    dcgm: bool | None = None,
    *,
    devices: Sequence[int | str] | None = None,
    restart_after_fork: bool = False,
) -> GpuCollector:
    """Start the GPU collector (one daemon thread) or return the one already running.

    ``interval`` seconds between fast sweeps, ``mode`` ``"rank"`` (this rank's GPU, the default)
    or ``"node"`` (every GPU, sampled by local rank 0), ``dcgm`` for DCGM-exporter names; each
    defaults to its setting (``AIOBS_GPU_INTERVAL``, ``AIOBS_GPU_MODE``, ``AIOBS_GPU_DCGM``).
    ``devices`` picks CUDA device indices or UUIDs explicitly. A forked child does not inherit
    the sampler; with ``restart_after_fork=True`` it starts its own.

    >>> collector = gpu_collector(interval=1.0)  # doctest: +SKIP
    >>> collector.stop()  # doctest: +SKIP
    """
    global _collector
    settings = state.current_settings()
    interval = settings.gpu_interval_s if interval is None else interval
    mode = settings.gpu_mode if mode is None else mode
    dcgm = settings.gpu_dcgm if dcgm is None else dcgm
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
        raise ValueError(f"gpu_collector(interval=...) must be a positive number, got {interval!r}")
    if mode not in _MODES:
        raise ValueError(f"gpu_collector(mode=...) must be 'rank' or 'node', got {mode!r}")
    with _lock:
        running = _collector
        if running is not None and (running.running or running.status == "unavailable"):
            if (running.interval, running.mode, running.dcgm) != (float(interval), mode, dcgm):
                _log.debug("aiobs_otel: a GPU collector is already running (%r); reusing it",
                           running)
            return running
        collector = GpuCollector(float(interval), mode, bool(dcgm), devices, restart_after_fork)
        if state.disabled:
            collector.status = "disabled"
            return collector
        collector.start()
        _collector = collector
        collector.shutdown_registered = True
    state.on_shutdown(collector.stop)  # aiobs.shutdown() (and exit) stops the thread
    return collector


def dcgm_views() -> list[Any]:
    """OpenTelemetry SDK Views for DCGM-compatible mode; pass them to your own MeterProvider.

    The SDK lower-cases instrument names, so without these the names arrive as
    ``dcgm_fi_dev_gpu_util``. ``configure()`` adds them itself when ``AIOBS_GPU_DCGM=true``.

    >>> MeterProvider(views=dcgm_views(), metric_readers=[...])  # doctest: +SKIP
    """
    from ._gpu_telemetry import dcgm_views as views

    return views()


def current() -> GpuCollector | None:
    """The running collector, if any."""
    return _collector


def start_from_settings(settings: Settings) -> GpuCollector | None:
    """Start the collector from settings (``AIOBS_GPU=true``); called by ``configure()``."""
    if settings.disabled or not settings.gpu:
        return None
    collector = gpu_collector(settings.gpu_interval_s, settings.gpu_mode, settings.gpu_dcgm)
    with _lock:
        register = not collector.shutdown_registered and collector.running
        collector.shutdown_registered = True
    if register:  # a collector running from before the last shutdown()
        state.on_shutdown(collector.stop)
    return collector


# --- fork safety ----------------------------------------------------------------------------------


def _after_fork_in_child() -> None:
    """The child has no sampler thread: forget the parent's, restart it only if asked to."""
    global _collector, _lock
    _lock = threading.Lock()
    inherited = _collector
    _collector = None
    activity.clear()
    pynvml = sys.modules.get("pynvml")
    if pynvml is not None and hasattr(pynvml, "libLoadLock"):
        pynvml.libLoadLock = threading.Lock()  # type: ignore[attr-defined]  # parent's sampler may hold it
    telemetry = sys.modules.get(f"{__package__}._gpu_telemetry")
    if telemetry is not None:
        telemetry.publish(None)
    if inherited is None:
        return
    inherited._stop.set()
    inherited._thread = None
    inherited.status = "stopped"
    if inherited.restart_after_fork and not state.disabled:
        try:
            gpu_collector(inherited.interval, inherited.mode, inherited.dcgm,
                          devices=inherited.explicit_devices, restart_after_fork=True)
        except Exception as exc:  # a child must never fail because of us
            _log.warning("aiobs_otel: could not restart the GPU collector after fork: %r", exc)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
