"""GPU samples → OpenTelemetry observations (semconv ``hw.*`` or DCGM-compatible names).

All GPU metrics are asynchronous instruments whose callbacks read the latest sample of the
published :class:`~._nvml.Sampler`: the sampling thread only writes floats into dicts, and the
SDK pays for observations once per export, not once per sample. Each observation carries the
span context that was active when the sample was taken (see :mod:`aiobs_otel._core.activity`),
so the SDK's trace-based exemplar filter links the value to the training step or LLM call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from .. import semconv
from .._core.otel import instrument_set
from . import _nvml as n

_MIB = 1024.0 * 1024.0
_published: n.Sampler | None = None
_hostname: str | None = None


def publish(sampler: n.Sampler | None) -> None:
    """Make ``sampler`` the source of every GPU callback (None: report nothing)."""
    global _published
    _published = sampler


def published() -> n.Sampler | None:
    return _published


Callback = Callable[[CallbackOptions], Iterable[Observation]]
Extract = Callable[[n.DeviceState], Iterable[tuple[float, dict[str, Any]]]]


def _callback(extract: Extract, dcgm: bool = False) -> Callback:
    key = object()

    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        sampler = _published
        if sampler is None or sampler.dcgm is not dcgm:
            return ()
        if sampler.stopped:
            # A stopped sampler's last values are reported once more (the final export at
            # shutdown runs after the collector stopped), then never again: no stale gauges.
            if key in sampler.final_reported:
                return ()
            sampler.final_reported.add(key)
        ctx = sampler.context
        return [Observation(value, attributes, ctx)
                for device in sampler.devices for value, attributes in extract(device)]

    return callback


def _value(key: str, scale: float = 1.0,
           extra: tuple[tuple[str, Any], ...] = ()) -> Extract:
    def extract(device: n.DeviceState) -> Iterable[tuple[float, dict[str, Any]]]:
        value = device.values.get(key)
        if value is None:
            return ()
        return ((value * scale, device.attributes(extra)),)

    return extract


def _values(*parts: Extract) -> Extract:
    def extract(device: n.DeviceState) -> Iterable[tuple[float, dict[str, Any]]]:
        return [item for part in parts for item in part(device)]

    return extract


# --- semconv mode --------------------------------------------------------------------------------


def _memory_fraction(device: n.DeviceState) -> Iterable[tuple[float, dict[str, Any]]]:
    used = device.values.get(n.MEM_USED)
    total = device.values.get(n.MEM_TOTAL)
    if used is None or not total:
        return ()
    return ((used / total, device.attributes()),)


def _errors(device: n.DeviceState) -> Iterable[tuple[float, dict[str, Any]]]:
    out: list[tuple[float, dict[str, Any]]] = []
    values = device.values
    for key, kind in ((n.ECC_CORRECTED, "corrected"), (n.ECC_UNCORRECTED, "uncorrected")):
        count = values.get(key)
        if count is not None:
            out.append((count, device.attributes(((semconv.ERROR_TYPE, kind),))))
    for xid, count in list(device.xid_counts.items()):  # the sampler thread may add one now
        out.append((float(count), device.attributes(
            ((semconv.ERROR_TYPE, "xid"), (semconv.GPU_XID, xid)))))
    return out


def _status(device: n.DeviceState) -> Iterable[tuple[float, dict[str, Any]]]:
    current = device.state
    return [(1.0 if state == current else 0.0, device.attributes(((semconv.HW_STATE, state),)))
            for state in ("ok", "degraded", "failed")]


def _clock_events(device: n.DeviceState) -> Iterable[tuple[float, dict[str, Any]]]:
    mask = device.values.get(n.CLOCK_EVENTS)
    if mask is None:
        return ()
    bits, seen = int(mask), device.seen_clock_events
    # A reason is reported once it has been active (then 1 or 0): 9 series per GPU that are
    # almost always 0 would cost export time for nothing. Absent means "never since start".
    return [(1.0 if bits & bit else 0.0,
             device.attributes(((semconv.GPU_CLOCK_EVENT_REASON, reason),)))
            for bit, reason in n.CLOCK_EVENT_REASONS if seen & bit]


def _directions(tx: str, rx: str) -> Extract:
    return _values(
        _value(tx, extra=((semconv.NETWORK_IO_DIRECTION, "transmit"),)),
        _value(rx, extra=((semconv.NETWORK_IO_DIRECTION, "receive"),)),
    )


@dataclass(frozen=True)
class GpuInstruments:
    instruments: tuple[Any, ...]


@instrument_set("gpu")
def _semconv_instruments(m: Meter) -> GpuInstruments:
    r, by, w = semconv.GPU_UNIT_RATIO, semconv.GPU_UNIT_BYTES, semconv.GPU_UNIT_WATTS
    gauge, updown, counter = (m.create_observable_gauge, m.create_observable_up_down_counter,
                              m.create_observable_counter)
    general = ((semconv.HW_GPU_TASK, "general"),)
    return GpuInstruments((
        gauge(semconv.HW_GPU_UTILIZATION, [_callback(_value(n.UTIL, extra=general))], r,
              "Fraction of time one or more kernels ran on the GPU (NVML utilization.gpu)."),
        gauge(semconv.GPU_MEMORY_CONTROLLER_UTILIZATION, [_callback(_value(n.MEM_CTRL_UTIL))], r,
              "Fraction of time device memory was read or written (NVML utilization.memory)."),
        updown(semconv.HW_GPU_MEMORY_USAGE, [_callback(_value(n.MEM_USED))], by,
               "GPU memory used."),
        updown(semconv.HW_GPU_MEMORY_LIMIT, [_callback(_value(n.MEM_TOTAL))], by,
               "Size of the GPU memory."),
        gauge(semconv.HW_GPU_MEMORY_UTILIZATION, [_callback(_memory_fraction)], r,
              "Fraction of GPU memory used."),
        gauge(semconv.HW_POWER, [_callback(_value(n.POWER))], w,
              "Power drawn by the GPU (NVML power usage; a 1 s average on Ampere and newer)."),
        counter(semconv.HW_ENERGY, [_callback(_value(n.ENERGY))], semconv.GPU_UNIT_JOULES,
                "Energy consumed by the GPU since the driver loaded."),
        gauge(semconv.HW_TEMPERATURE, [_callback(_values(
            _value(n.TEMP_GPU, extra=((semconv.HW_SENSOR_LOCATION, "gpu"),)),
            _value(n.TEMP_MEMORY, extra=((semconv.HW_SENSOR_LOCATION, "memory"),)),
        ))], semconv.GPU_UNIT_CELSIUS, "GPU die and memory temperature."),
        counter(semconv.HW_ERRORS, [_callback(_errors)], semconv.GPU_UNIT_ERRORS,
                "ECC errors since the driver loaded (corrected/uncorrected) and XID events."),
        updown(semconv.HW_STATUS, [_callback(_status)], r,
               "1 for the GPU's current state (ok, degraded, failed), 0 for the others."),
        gauge(semconv.GPU_CLOCK_SPEED, [_callback(_values(
            _value(n.SM_CLOCK, 1e6, ((semconv.GPU_CLOCK_DOMAIN, "sm"),)),
            _value(n.MEM_CLOCK, 1e6, ((semconv.GPU_CLOCK_DOMAIN, "memory"),)),
        ))], semconv.GPU_UNIT_HERTZ, "Current SM and memory clock."),
        gauge(semconv.GPU_CLOCK_EVENT, [_callback(_clock_events)], r,
              "1 while a clocks-event (throttle) reason is active, else 0."),
        gauge(semconv.GPU_POWER_LIMIT, [_callback(_value(n.POWER_LIMIT))], w,
              "Enforced power limit."),
        counter(semconv.GPU_PCIE_IO, [_callback(_directions(n.PCIE_TX, n.PCIE_RX))], by,
                "Bytes moved over PCIe (NVML byte-counter fields)."),
        counter(semconv.GPU_NVLINK_IO, [_callback(_directions(n.NVLINK_TX, n.NVLINK_RX))], by,
                "Bytes moved over NVLink, all links (NVML throughput fields)."),
        updown(semconv.GPU_PROCESS_MEMORY_USAGE, [_callback(_value(n.PROCESS_MEMORY))], by,
               "GPU memory used by this process."),
    ))


# --- DCGM-compatible mode -------------------------------------------------------------------------


def dcgm_labels(device: n.DeviceState, driver_version: str) -> dict[str, Any]:
    global _hostname
    if _hostname is None:
        import socket

        _hostname = socket.gethostname()
    minor = device.index if device.minor is None else device.minor
    return {
        semconv.DCGM_LABEL_GPU: str(device.index),
        semconv.DCGM_LABEL_UUID: device.uuid,
        semconv.DCGM_LABEL_DEVICE: f"nvidia{minor}",
        semconv.DCGM_LABEL_MODEL: device.name,
        semconv.DCGM_LABEL_HOSTNAME: _hostname,
        semconv.DCGM_LABEL_DRIVER: driver_version,
    }


_DCGM = (("dcgm", True),)  # cache key marker: DCGM label set instead of hw.* attributes


def _dcgm(key: str, scale: float = 1.0) -> Extract:
    def extract(device: n.DeviceState) -> Iterable[tuple[float, dict[str, Any]]]:
        value = device.values.get(key)
        if value is None:
            return ()
        return ((value * scale, device.attribute_cache[_DCGM]),)

    return extract


def _dcgm_xid(device: n.DeviceState) -> Iterable[tuple[float, dict[str, Any]]]:
    if not device.xid_supported or device.lost:
        return ()
    return ((float(device.last_xid), device.attribute_cache[_DCGM]),)


@instrument_set("gpu.dcgm")
def _dcgm_instruments(m: Meter) -> GpuInstruments:
    g = m.create_observable_gauge
    specs: tuple[tuple[str, Extract, str], ...] = (
        (semconv.DCGM_GPU_UTIL, _dcgm(n.UTIL, 100.0), "GPU utilization (in %)."),
        (semconv.DCGM_MEM_COPY_UTIL, _dcgm(n.MEM_CTRL_UTIL, 100.0), "Memory utilization (in %)."),
        (semconv.DCGM_FB_USED, _dcgm(n.MEM_USED, 1 / _MIB), "Framebuffer memory used (in MiB)."),
        (semconv.DCGM_FB_FREE, _dcgm(n.MEM_FREE, 1 / _MIB), "Framebuffer memory free (in MiB)."),
        (semconv.DCGM_FB_TOTAL, _dcgm(n.MEM_TOTAL, 1 / _MIB), "Framebuffer memory total (in MiB)."),
        (semconv.DCGM_GPU_TEMP, _dcgm(n.TEMP_GPU), "GPU temperature (in C)."),
        (semconv.DCGM_MEMORY_TEMP, _dcgm(n.TEMP_MEMORY), "Memory temperature (in C)."),
        (semconv.DCGM_POWER_USAGE, _dcgm(n.POWER), "Power draw (in W)."),
        (semconv.DCGM_POWER_MGMT_LIMIT, _dcgm(n.POWER_LIMIT), "Power management limit (in W)."),
        (semconv.DCGM_TOTAL_ENERGY, _dcgm(n.ENERGY, 1000.0),
         "Total energy consumption since boot (in mJ)."),
        (semconv.DCGM_SM_CLOCK, _dcgm(n.SM_CLOCK), "SM clock frequency (in MHz)."),
        (semconv.DCGM_MEM_CLOCK, _dcgm(n.MEM_CLOCK), "Memory clock frequency (in MHz)."),
        (semconv.DCGM_CLOCKS_EVENT_REASONS, _dcgm(n.CLOCK_EVENTS),
         "Current clocks-event (throttle) reasons bitmask."),
        (semconv.DCGM_XID_ERRORS, _dcgm_xid, "Value of the last XID error encountered."),
        (semconv.DCGM_ECC_SBE_VOL_TOTAL, _dcgm(n.ECC_CORRECTED),
         "Total number of single-bit volatile ECC errors."),
        (semconv.DCGM_ECC_DBE_VOL_TOTAL, _dcgm(n.ECC_UNCORRECTED),
         "Total number of double-bit volatile ECC errors."),
        (semconv.DCGM_PCIE_TX_BYTES, _dcgm(n.PCIE_TX_RATE), "PCIe bytes transmitted per second."),
        (semconv.DCGM_PCIE_RX_BYTES, _dcgm(n.PCIE_RX_RATE), "PCIe bytes received per second."),
    )
    return GpuInstruments(tuple(g(name, [_callback(extract, dcgm=True)], "", description)
                                for name, extract, description in specs))


DCGM_NAMES: tuple[str, ...] = (
    semconv.DCGM_GPU_UTIL, semconv.DCGM_MEM_COPY_UTIL, semconv.DCGM_FB_USED, semconv.DCGM_FB_FREE,
    semconv.DCGM_FB_TOTAL, semconv.DCGM_GPU_TEMP, semconv.DCGM_MEMORY_TEMP,
    semconv.DCGM_POWER_USAGE, semconv.DCGM_POWER_MGMT_LIMIT, semconv.DCGM_TOTAL_ENERGY,
    semconv.DCGM_SM_CLOCK, semconv.DCGM_MEM_CLOCK, semconv.DCGM_CLOCKS_EVENT_REASONS,
    semconv.DCGM_XID_ERRORS, semconv.DCGM_ECC_SBE_VOL_TOTAL, semconv.DCGM_ECC_DBE_VOL_TOTAL,
    semconv.DCGM_PCIE_TX_BYTES, semconv.DCGM_PCIE_RX_BYTES,
)


def dcgm_views() -> list[Any]:
    """SDK Views that restore DCGM's upper-case names (the SDK lower-cases instrument names)."""
    from opentelemetry.sdk.metrics.view import View

    return [View(instrument_name=name.lower(), meter_name=semconv.SCOPE_NAME, name=name)
            for name in DCGM_NAMES]


def ensure_instruments(dcgm: bool, sampler: n.Sampler) -> None:
    """Build (once per provider generation) the instruments for the chosen naming mode."""
    if dcgm:
        for device in sampler.devices:
            if _DCGM not in device.attribute_cache:
                device.attribute_cache[_DCGM] = dcgm_labels(device, sampler.driver_version)
        _dcgm_instruments.get()
    else:
        _semconv_instruments.get()
