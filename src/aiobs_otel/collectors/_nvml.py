"""The NVML side of the GPU collector: open a session, pick devices, read them in tiers.

Nothing here touches OpenTelemetry. A :class:`Sampler` reads NVML through the real ``pynvml``
binding into plain per-device dicts of floats (:attr:`DeviceState.values`, SI units); the
telemetry module turns those into observations when a metric reader collects.

Rules the readers follow:

* Each (device, reader) that answers NOT_SUPPORTED (or function-not-found, no-permission, a
  version mismatch) falls back to its next alternative, or is dropped for good. One debug line,
  never a repeated warning, and never a made-up value: an unsupported reading is simply absent.
* ``GPU_IS_LOST`` marks that device failed; it is no longer polled (``hw.status=failed``).
* Uninitialised / driver gone mid-run raises :class:`SessionLost`; the collector backs off.
* ``nvmlDeviceGetPcieThroughput`` is never called: it sleeps 20 ms per call in the driver. PCIe
  and NVLink bytes come from the byte-counter fields instead, on the medium tier.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import semconv

_log = logging.getLogger("aiobs_otel")

# Tiers: the fast one runs every interval, the others every N seconds (rounded to sweeps).
FAST, MEDIUM, SLOW = 0, 1, 2

# NVML return codes (nvml.h; also pynvml.NVML_ERROR_*).
_UNINITIALIZED = 1
_INVALID_ARGUMENT = 2
_NOT_SUPPORTED = 3
_NO_PERMISSION = 4
_DRIVER_NOT_LOADED = 9
_TIMEOUT = 10
_LIBRARY_NOT_FOUND = 12
_FUNCTION_NOT_FOUND = 13
_GPU_IS_LOST = 15
_RESET_REQUIRED = 16
_LIB_RM_VERSION_MISMATCH = 18
_ARGUMENT_VERSION_MISMATCH = 25
_DEPRECATED = 26
_GPU_NOT_FOUND = 28

SKIP_CODES = frozenset({_INVALID_ARGUMENT, _NOT_SUPPORTED, _NO_PERMISSION, _FUNCTION_NOT_FOUND,
                        _ARGUMENT_VERSION_MISMATCH, _DEPRECATED})
LOST_CODES = frozenset({_GPU_IS_LOST, _RESET_REQUIRED, _GPU_NOT_FOUND})
SESSION_CODES = frozenset({_UNINITIALIZED, _DRIVER_NOT_LOADED, _LIBRARY_NOT_FOUND,
                           _LIB_RM_VERSION_MISMATCH})

# Internal value keys of DeviceState.values (not telemetry names; SI units).
UTIL = "util"  # 0..1
MEM_CTRL_UTIL = "mem_ctrl_util"  # 0..1
MEM_USED = "mem_used"  # bytes
MEM_FREE = "mem_free"
MEM_TOTAL = "mem_total"
TEMP_GPU = "temp_gpu"  # Celsius
TEMP_MEMORY = "temp_memory"
POWER = "power"  # W
ENERGY = "energy"  # J since driver load
SM_CLOCK = "sm_clock"  # MHz
MEM_CLOCK = "mem_clock"
CLOCK_EVENTS = "clock_events"  # bitmask
POWER_LIMIT = "power_limit"  # W
PCIE_TX = "pcie_tx"  # bytes (wrap-corrected running total)
PCIE_RX = "pcie_rx"
PCIE_TX_RATE = "pcie_tx_rate"  # bytes/s between medium samples
PCIE_RX_RATE = "pcie_rx_rate"
NVLINK_TX = "nvlink_tx"  # bytes
NVLINK_RX = "nvlink_rx"
ECC_CORRECTED = "ecc_corrected"  # volatile count
ECC_UNCORRECTED = "ecc_uncorrected"
PROCESS_MEMORY = "process_memory"  # bytes used by this process

# Clocks-event (throttle) reasons: bit -> attribute value.
CLOCK_EVENT_REASONS: tuple[tuple[int, str], ...] = (
    (0x001, "gpu_idle"),
    (0x002, "applications_clocks_setting"),
    (0x004, "sw_power_cap"),
    (0x008, "hw_slowdown"),
    (0x010, "sync_boost"),
    (0x020, "sw_thermal_slowdown"),
    (0x040, "hw_thermal_slowdown"),
    (0x080, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)
DEGRADING_EVENTS = 0x008 | 0x020 | 0x040 | 0x080

_FIELD_PCIE_TX = 197  # NVML_FI_DEV_PCIE_COUNT_TX_BYTES
_FIELD_PCIE_RX = 198
_FIELD_NVLINK_TX = 138  # NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, KiB, scope = link (all: ~0)
_FIELD_NVLINK_RX = 139
_FIELD_MEMORY_TEMP = 82
_ALL_LINKS = 0xFFFFFFFF
_XID_EVENT = 0x8  # nvmlEventTypeXidCriticalError


class PackageMissing(ImportError):
    """``pynvml`` (the ``nvidia-ml-py`` package) is not installed."""


class NvmlUnavailable(Exception):
    """NVML could not be opened: ``reason`` is ``library``, ``driver`` or ``error``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class SessionLost(Exception):
    """The NVML session stopped working mid-run (driver unloaded, library uninitialised)."""


def load_pynvml() -> Any:
    """Import ``pynvml`` or raise :class:`PackageMissing` naming the extra to install."""
    try:
        import pynvml
    except ImportError as exc:
        raise PackageMissing(
            "GPU metrics need the nvidia-ml-py package: pip install 'aiobs-otel[gpu]'"
        ) from exc
    return pynvml


def _code(exc: BaseException) -> int:
    return int(getattr(exc, "value", -1))


@dataclass
class DeviceState:
    """One NVML device: identity, the chosen readers per tier and the latest values."""

    index: int
    handle: Any
    uuid: str
    name: str
    minor: int | None
    values: dict[str, float] = field(default_factory=dict)
    lost: bool = False
    # tier -> [[reader name, [alternatives...]], ...]; an exhausted entry is dropped.
    readers: dict[int, list[list[Any]]] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)
    fields: list[Any] = field(default_factory=list)  # field ids the medium tier still asks for
    xid_counts: dict[int, int] = field(default_factory=dict)
    last_xid: int = 0
    xid_supported: bool = False
    seen_clock_events: int = 0  # reasons ever active: only those are reported (0/1)
    pointer: int | None = None
    counters: dict[str, tuple[float, float]] = field(default_factory=dict)  # raw, running total
    rate_base: dict[str, tuple[float, float]] = field(default_factory=dict)  # time, total
    attribute_cache: dict[Any, dict[str, Any]] = field(default_factory=dict)
    base_attributes: dict[str, Any] = field(default_factory=dict)

    def attributes(self, extra: tuple[tuple[str, Any], ...] = ()) -> dict[str, Any]:
        """The device's attributes plus ``extra`` (cached: built once per combination)."""
        cached = self.attribute_cache.get(extra)
        if cached is None:
            cached = {**self.base_attributes, **dict(extra)}
            self.attribute_cache[extra] = cached
        return cached

    @property
    def state(self) -> str:
        """``hw.state``: failed (lost), degraded (HW/thermal slowdown, uncorrected ECC) or ok."""
        if self.lost:
            return "failed"
        events = int(self.values.get(CLOCK_EVENTS, 0))
        if events & DEGRADING_EVENTS or self.values.get(ECC_UNCORRECTED, 0) > 0:
            return "degraded"
        return "ok"


# --- readers: (nv, handle, device) -> None, writing into device.values -------------------------


def _read_utilization(nv: Any, h: Any, d: DeviceState) -> None:
    u = nv.nvmlDeviceGetUtilizationRates(h)
    d.values[UTIL] = u.gpu / 100.0
    d.values[MEM_CTRL_UTIL] = u.memory / 100.0


def _read_memory_v2(nv: Any, h: Any, d: DeviceState) -> None:
    m = nv.nvmlDeviceGetMemoryInfo(h, version=nv.nvmlMemory_v2)
    v = d.values
    v[MEM_TOTAL] = float(m.total)
    v[MEM_USED] = float(m.used)
    v[MEM_FREE] = float(m.free)


def _read_memory_v1(nv: Any, h: Any, d: DeviceState) -> None:
    m = nv.nvmlDeviceGetMemoryInfo(h)
    v = d.values
    v[MEM_TOTAL] = float(m.total)
    v[MEM_USED] = float(m.used)
    v[MEM_FREE] = float(m.free)


def _read_temperature_v(nv: Any, h: Any, d: DeviceState) -> None:
    d.values[TEMP_GPU] = float(nv.nvmlDeviceGetTemperatureV(h, 0))  # NVML_TEMPERATURE_GPU


def _read_temperature_legacy(nv: Any, h: Any, d: DeviceState) -> None:
    d.values[TEMP_GPU] = float(nv.nvmlDeviceGetTemperature(h, 0))


def _read_power(nv: Any, h: Any, d: DeviceState) -> None:
    d.values[POWER] = nv.nvmlDeviceGetPowerUsage(h) / 1000.0


def _read_energy(nv: Any, h: Any, d: DeviceState) -> None:
    d.values[ENERGY] = nv.nvmlDeviceGetTotalEnergyConsumption(h) / 1000.0


def _read_sm_clock(nv: Any, h: Any, d: DeviceState) -> None:
    d.values[SM_CLOCK] = float(nv.nvmlDeviceGetClockInfo(h, 1))  # NVML_CLOCK_SM


def _read_mem_clock(nv: Any, h: Any, d: DeviceState) -> None:
    d.values[MEM_CLOCK] = float(nv.nvmlDeviceGetClockInfo(h, 2))  # NVML_CLOCK_MEM


def _read_clock_events(nv: Any, h: Any, d: DeviceState) -> None:
    mask = int(nv.nvmlDeviceGetCurrentClocksEventReasons(h))
    d.values[CLOCK_EVENTS] = float(mask)
    d.seen_clock_events |= mask


def _read_clock_events_legacy(nv: Any, h: Any, d: DeviceState) -> None:
    mask = int(nv.nvmlDeviceGetCurrentClocksThrottleReasons(h))
    d.values[CLOCK_EVENTS] = float(mask)
    d.seen_clock_events |= mask


def _read_ecc_corrected(nv: Any, h: Any, d: DeviceState) -> None:
    d.values[ECC_CORRECTED] = float(nv.nvmlDeviceGetTotalEccErrors(h, 0, 0))  # volatile


def _read_ecc_uncorrected(nv: Any, h: Any, d: DeviceState) -> None:
    d.values[ECC_UNCORRECTED] = float(nv.nvmlDeviceGetTotalEccErrors(h, 1, 0))


def _read_power_limit(nv: Any, h: Any, d: DeviceState) -> None:
    d.values[POWER_LIMIT] = nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0


def _process_memory(procs: Sequence[Any], d: DeviceState) -> None:
    pid = os.getpid()
    used = [p.usedGpuMemory for p in procs if p.pid == pid and p.usedGpuMemory is not None]
    if used:
        d.values[PROCESS_MEMORY] = float(sum(used))
    else:  # not using this GPU, or PIDs are namespaced (containers): report nothing
        d.values.pop(PROCESS_MEMORY, None)


def _read_processes_v3(nv: Any, h: Any, d: DeviceState) -> None:
    _process_memory(nv.nvmlDeviceGetComputeRunningProcesses_v3(h), d)


def _read_processes_v2(nv: Any, h: Any, d: DeviceState) -> None:
    _process_memory(nv.nvmlDeviceGetComputeRunningProcesses_v2(h), d)


_FIELD_KEYS = {
    _FIELD_PCIE_TX: PCIE_TX, _FIELD_PCIE_RX: PCIE_RX,
    _FIELD_NVLINK_TX: NVLINK_TX, _FIELD_NVLINK_RX: NVLINK_RX,
    _FIELD_MEMORY_TEMP: TEMP_MEMORY,
}
_RATE_KEYS = {PCIE_TX: PCIE_TX_RATE, PCIE_RX: PCIE_RX_RATE}


def _field_value(fv: Any) -> float | None:
    kind = fv.valueType
    v = fv.value
    if kind == 0:
        return float(v.dVal)
    if kind == 1:
        return float(v.uiVal)
    if kind == 2:
        return float(v.ulVal)
    if kind == 3:
        return float(v.ullVal)
    if kind == 4:
        return float(v.sllVal)
    if kind == 5:
        return float(v.siVal)
    if kind == 6:
        return float(v.usVal)
    return None


def _field_id(entry: Any) -> int:
    return int(entry[0] if isinstance(entry, tuple) else entry)


def _accumulate(d: DeviceState, key: str, raw: float, now: float) -> None:
    """A wrapping byte counter becomes a running total that never goes backwards."""
    previous = d.counters.get(key)
    if previous is None:
        total = raw
    else:
        last_raw, total = previous
        total += raw - last_raw if raw >= last_raw else raw  # wrapped or reset: count from 0
    d.counters[key] = (raw, total)
    d.values[key] = total
    rate_key = _RATE_KEYS.get(key)
    if rate_key is not None:
        base = d.rate_base.get(key)
        if base is not None and now > base[0]:
            d.values[rate_key] = (total - base[1]) / (now - base[0])
        d.rate_base[key] = (now, total)


def _read_fields(nv: Any, h: Any, d: DeviceState) -> None:
    if not d.fields:
        raise nv.NVMLError(_NOT_SUPPORTED)
    values = nv.nvmlDeviceGetFieldValues(h, d.fields)
    now = time.monotonic()
    keep: list[Any] = []
    for entry, fv in zip(d.fields, values, strict=False):
        fid = _field_id(entry)
        ret = fv.nvmlReturn
        if ret in SKIP_CODES:
            d.unsupported.append(f"field:{fid}")
            d.values.pop(_FIELD_KEYS[fid], None)
            _log.debug("aiobs_otel: GPU %s: NVML field %d not supported; skipped", d.uuid, fid)
            continue
        keep.append(entry)
        if ret != 0:
            continue
        value = _field_value(fv)
        if value is None:
            continue
        key = _FIELD_KEYS[fid]
        if key in (NVLINK_TX, NVLINK_RX):
            _accumulate(d, key, value * 1024.0, now)  # KiB -> bytes
        elif key in (PCIE_TX, PCIE_RX):
            _accumulate(d, key, value, now)
        elif value > 0:  # memory temperature: some boards answer 0, which is not a reading
            d.values[key] = value
    if len(keep) != len(d.fields):
        d.fields = keep


Reader = Callable[[Any, Any, DeviceState], None]

# name, tier, alternatives (first that works wins), the values it writes (dropped with it)
READERS: tuple[tuple[str, int, tuple[Reader, ...], tuple[str, ...]], ...] = (
    ("utilization", FAST, (_read_utilization,), (UTIL, MEM_CTRL_UTIL)),
    ("memory", FAST, (_read_memory_v2, _read_memory_v1), (MEM_TOTAL, MEM_USED, MEM_FREE)),
    ("temperature", FAST, (_read_temperature_v, _read_temperature_legacy), (TEMP_GPU,)),
    ("power", FAST, (_read_power,), (POWER,)),
    ("energy", FAST, (_read_energy,), (ENERGY,)),
    ("sm_clock", FAST, (_read_sm_clock,), (SM_CLOCK,)),
    ("mem_clock", FAST, (_read_mem_clock,), (MEM_CLOCK,)),
    ("clock_events", FAST, (_read_clock_events, _read_clock_events_legacy), (CLOCK_EVENTS,)),
    ("fields", MEDIUM, (_read_fields,), ()),
    ("ecc_corrected", MEDIUM, (_read_ecc_corrected,), (ECC_CORRECTED,)),
    ("ecc_uncorrected", MEDIUM, (_read_ecc_uncorrected,), (ECC_UNCORRECTED,)),
    ("power_limit", SLOW, (_read_power_limit,), (POWER_LIMIT,)),
    ("processes", SLOW, (_read_processes_v3, _read_processes_v2), (PROCESS_MEMORY,)),
)
_WRITES = {name: keys for name, _, _, keys in READERS}


def _handle_pointer(handle: Any) -> int | None:
    try:
        return ctypes.cast(handle, ctypes.c_void_p).value
    except Exception:  # a handle we cannot compare only loses XID attribution
        return None


class Sampler:
    """An open NVML session over the selected devices.

    >>> sampler = Sampler(select=lambda uuids: list(range(len(uuids))))  # doctest: +SKIP
    >>> sampler.open(); sampler.sweep((FAST, MEDIUM, SLOW)); sampler.close()  # doctest: +SKIP
    """

    def __init__(self, select: Callable[[list[str]], list[int]], dcgm: bool = False) -> None:
        self._select = select
        self.dcgm = dcgm  # which naming the telemetry callbacks use for this sampler
        self.nv: Any = None
        self.devices: list[DeviceState] = []
        self.driver_version = ""
        self.context: Any = None  # the span context active at the last sweep (exemplars)
        self.stopped = False  # set when sampling ended: exports report the last values once
        self.final_reported: set[object] = set()
        self._event_set: Any = None
        self._by_pointer: dict[int, DeviceState] = {}
        self._open = False

    # -- session --------------------------------------------------------------------------------
    def open(self) -> None:
        """Init NVML, read device identities once, select devices, set up XID events."""
        nv = load_pynvml()
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            code = _code(exc)
            if code == _LIBRARY_NOT_FOUND:
                raise NvmlUnavailable("library", "the NVIDIA driver library libnvidia-ml.so.1 "
                                      "was not found (no NVIDIA driver installed?)") from exc
            if code == _DRIVER_NOT_LOADED:
                raise NvmlUnavailable("driver", "the NVIDIA driver is not loaded") from exc
            raise NvmlUnavailable("error", f"nvmlInit failed: {exc}") from exc
        self.nv = nv
        self._open = True
        try:
            self._discover(nv)
        except nv.NVMLError as exc:
            self.close()
            raise NvmlUnavailable("error", f"listing GPUs failed: {exc}") from exc

    def _discover(self, nv: Any) -> None:
        try:
            self.driver_version = str(nv.nvmlSystemGetDriverVersion())
        except nv.NVMLError:
            self.driver_version = ""
        count = nv.nvmlDeviceGetCount()
        handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = [self._uuid(nv, h, i) for i, h in enumerate(handles)]
        for index in self._select(uuids):
            handle = handles[index]
            try:
                name = str(nv.nvmlDeviceGetName(handle))
            except nv.NVMLError:
                name = "NVIDIA GPU"
            try:
                minor: int | None = int(nv.nvmlDeviceGetMinorNumber(handle))
            except nv.NVMLError:
                minor = None
            device = DeviceState(index, handle, uuids[index], name, minor)
            for reader_name, tier, alternatives, _ in READERS:
                device.readers.setdefault(tier, []).append([reader_name, list(alternatives)])
            device.fields = [_FIELD_PCIE_TX, _FIELD_PCIE_RX, (_FIELD_NVLINK_TX, _ALL_LINKS),
                             (_FIELD_NVLINK_RX, _ALL_LINKS), _FIELD_MEMORY_TEMP]
            device.pointer = _handle_pointer(handle)
            device.base_attributes = {
                semconv.HW_ID: device.uuid,
                semconv.HW_TYPE: semconv.HW_TYPE_GPU,
                semconv.HW_NAME: name,
                semconv.HW_VENDOR: "NVIDIA",
                semconv.GPU_INDEX: index,
            }
            if self.driver_version:
                device.base_attributes[semconv.HW_DRIVER_VERSION] = self.driver_version
            self.devices.append(device)
        self._setup_xid_events(nv)

    @staticmethod
    def _uuid(nv: Any, handle: Any, index: int) -> str:
        try:
            return str(nv.nvmlDeviceGetUUID(handle))
        except nv.NVMLError as exc:
            if _code(exc) in SESSION_CODES | LOST_CODES:
                raise
            return f"GPU-nvml-index-{index}"  # still unique on this host, as hw.id must be

    def _setup_xid_events(self, nv: Any) -> None:
        if not self.devices:
            return
        try:
            event_set = nv.nvmlEventSetCreate()
        except nv.NVMLError as exc:
            _log.debug("aiobs_otel: NVML events unavailable (%s); no XID counts", exc)
            return
        registered = 0
        for device in self.devices:
            try:
                nv.nvmlDeviceRegisterEvents(device.handle, _XID_EVENT, event_set)
            except nv.NVMLError as exc:
                device.unsupported.append("xid_events")
                _log.debug("aiobs_otel: GPU %s: XID events unavailable (%s)", device.uuid, exc)
                continue
            device.xid_supported = True
            registered += 1
            if device.pointer is not None:
                self._by_pointer[device.pointer] = device
        if registered:
            self._event_set = event_set
        else:
            self._free_event_set(event_set)

    def _free_event_set(self, event_set: Any) -> None:
        try:
            self.nv.nvmlEventSetFree(event_set)
        except Exception:  # best effort at teardown
            pass

    def close(self) -> None:
        """Free the event set and shut NVML down (idempotent)."""
        if not self._open:
            return
        self._open = False
        if self._event_set is not None:
            self._free_event_set(self._event_set)
            self._event_set = None
        try:
            self.nv.nvmlShutdown()
        except Exception:  # the session is being dropped anyway
            pass

    # -- sampling -------------------------------------------------------------------------------
    def sweep(self, tiers: Sequence[int] = (FAST,), context: Any = None) -> None:
        """Read every selected device once for ``tiers``; raises :class:`SessionLost`."""
        nv = self.nv
        error = nv.NVMLError
        self.context = context
        for device in self.devices:
            if device.lost:
                continue
            handle = device.handle
            for tier in tiers:
                entries = device.readers.get(tier)
                if not entries:
                    continue
                for entry in entries:
                    try:
                        entry[1][0](nv, handle, device)
                    except error as exc:
                        self._failed(device, entry, exc)
                        if device.lost:
                            break
                if device.lost:
                    break
                if any(not e[1] for e in entries):
                    device.readers[tier] = [e for e in entries if e[1]]
        if self._event_set is not None and FAST in tiers:
            self._poll_xid(nv)

    def _failed(self, device: DeviceState, entry: list[Any], exc: BaseException) -> None:
        code = _code(exc)
        if code in SKIP_CODES:
            alternatives = entry[1]
            alternatives.pop(0)
            if alternatives:  # fall back (e.g. MemoryInfo_v2 -> v1) and read it right away
                try:
                    alternatives[0](self.nv, device.handle, device)
                except self.nv.NVMLError as again:
                    self._failed(device, entry, again)
                return
            device.unsupported.append(entry[0])
            for key in _WRITES.get(entry[0], ()):  # it may have answered before: no stale value
                device.values.pop(key, None)
            _log.debug("aiobs_otel: GPU %s: %s not supported (%s); skipped from now on",
                       device.uuid, entry[0], exc)
        elif code in LOST_CODES:
            self.mark_lost(device, exc)
        elif code in SESSION_CODES:
            raise SessionLost(str(exc)) from exc
        # anything else (timeout, busy, unknown) is transient: keep the reader, try next sweep

    def mark_lost(self, device: DeviceState, exc: BaseException | None = None) -> None:
        if device.lost:
            return
        device.lost = True
        device.values.clear()
        _log.warning("aiobs_otel: GPU %s (%s, index %d) is lost%s; it is no longer sampled "
                     "(hw.status=failed)", device.uuid, device.name, device.index,
                     f" ({exc})" if exc is not None else "")

    def _poll_xid(self, nv: Any) -> None:
        for _ in range(64):  # drain what is pending, bounded
            try:
                data = nv.nvmlEventSetWait_v2(self._event_set, 0)
            except nv.NVMLError as exc:
                code = _code(exc)
                if code in SESSION_CODES:
                    raise SessionLost(str(exc)) from exc
                if code != _TIMEOUT:
                    _log.debug("aiobs_otel: NVML event wait failed (%s); XID polling off", exc)
                    self._free_event_set(self._event_set)
                    self._event_set = None
                return
            if not data.eventType & _XID_EVENT:
                continue
            device = self._by_pointer.get(_handle_pointer(data.device) or -1)
            if device is None:
                continue
            xid = int(data.eventData)
            device.xid_counts[xid] = device.xid_counts.get(xid, 0) + 1
            device.last_xid = xid
            _log.warning("aiobs_otel: GPU %s reported XID %d", device.uuid, xid)


# --- which NVML devices this process samples ------------------------------------------------------


def resolve_cuda_devices(visible: Sequence[str] | None, uuids: Sequence[str]) -> list[int]:
    """NVML indices of the CUDA devices, in CUDA order (``CUDA_VISIBLE_DEVICES`` semantics).

    Entries are indices or (prefixes of) UUIDs; as CUDA does, parsing stops at the first entry
    that names no device (or a repeat). MIG entries are not mapped.

    >>> resolve_cuda_devices(("1", "GPU-aa"), ["GPU-aa11", "GPU-bb22"])
    [1, 0]
    """
    if visible is None:
        return list(range(len(uuids)))
    found: list[int] = []
    for raw in visible:
        entry = raw.strip()
        index: int | None = None
        if entry.isdigit():
            candidate = int(entry)
            index = candidate if candidate < len(uuids) else None
        else:
            prefix = entry if entry.upper().startswith("GPU-") else f"GPU-{entry}"
            matches = [i for i, u in enumerate(uuids) if u.lower().startswith(prefix.lower())]
            index = matches[0] if len(matches) == 1 else None
        if index is None or index in found:
            break
        found.append(index)
    return found


def select_devices(
    uuids: Sequence[str],
    mode: str,
    visible: Sequence[str] | None,
    local_rank: int | None,
    explicit: Sequence[int | str] | None = None,
) -> list[int]:
    """The NVML indices to sample.

    * ``explicit``: these CUDA indices or UUIDs (resolved through ``CUDA_VISIBLE_DEVICES``).
    * ``node``: every GPU of the machine, sampled by local rank 0 only (others sample none).
    * ``rank``: this rank's GPU (CUDA device ``LOCAL_RANK``); without a launcher, all the
      process's CUDA-visible GPUs.
    """
    cuda = resolve_cuda_devices(visible, uuids)
    if explicit is not None:
        chosen: list[int] = []
        for item in explicit:
            text = str(item)
            if text.isdigit():
                if int(text) < len(cuda):
                    chosen.append(cuda[int(text)])
            else:
                hit = resolve_cuda_devices((text,), uuids)
                chosen.extend(hit)
        return list(dict.fromkeys(chosen))
    if mode == "node":
        return list(range(len(uuids))) if local_rank in (None, 0) else []
    if local_rank is None:
        return cuda
    if not cuda:
        return []
    if len(cuda) == 1:
        return cuda
    return [cuda[local_rank % len(cuda)]]
