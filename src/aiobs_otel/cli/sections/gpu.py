"""``aiobs-otel report`` section: one row per GPU (utilisation over the run, memory, power,
temperature, state, active clock-event reasons), from semconv or DCGM-compatible names."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ... import semconv as sc
from ..report import table
from ..sinkdata import MetricPoint, SinkData

TITLE = "GPUs"
ORDER = 60
_GIB = 1024.0**3


def _by_gpu(points: list[MetricPoint], key: str) -> dict[str, list[MetricPoint]]:
    grouped: dict[str, list[MetricPoint]] = defaultdict(list)
    for point in points:
        gpu = point.attributes.get(key)
        if gpu is not None:
            grouped[str(gpu)].append(point)
    return grouped


def _latest(data: SinkData, name: str, key: str, **match: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for point in sorted(data.latest_points(name), key=lambda p: p.time_ns):
        if point.value is None or any(point.attributes.get(k) != v for k, v in match.items()):
            continue
        gpu = point.attributes.get(key)
        if gpu is not None:
            out[str(gpu)] = point.value
    return out


Utilization = dict[str, tuple[float, float, float]]


def _utilization(data: SinkData, name: str, key: str, scale: float) -> Utilization:
    """Per GPU: (mean, max, last) utilisation in % over every exported point of the run."""
    series = _by_gpu([p for p in data.metrics if p.name == name and p.value is not None], key)
    out: Utilization = {}
    for gpu, points in series.items():
        values = [float(p.value) * scale for p in sorted(points, key=lambda p: p.time_ns)
                  if p.value is not None]
        if values:
            out[gpu] = (sum(values) / len(values), max(values), values[-1])
    return out


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(data: SinkData) -> list[str]:
    """One row per GPU; empty when no GPU metric was recorded."""
    names = set(data.metric_names())
    if sc.HW_GPU_UTILIZATION in names or sc.HW_GPU_MEMORY_USAGE in names:
        return _semconv(data)
    if sc.DCGM_GPU_UTIL in names or sc.DCGM_FB_USED in names:
        return _dcgm(data)
    return []


def _semconv(data: SinkData) -> list[str]:
    key = sc.HW_ID
    util = _utilization(data, sc.HW_GPU_UTILIZATION, key, 100.0)
    used = _latest(data, sc.HW_GPU_MEMORY_USAGE, key)
    limit = _latest(data, sc.HW_GPU_MEMORY_LIMIT, key)
    power = _latest(data, sc.HW_POWER, key)
    temp = _latest(data, sc.HW_TEMPERATURE, key, **{sc.HW_SENSOR_LOCATION: "gpu"})
    names: dict[str, str] = {}
    for point in data.metrics:
        if point.name.startswith("hw.") and key in point.attributes:
            names.setdefault(str(point.attributes[key]), str(point.attributes.get(sc.HW_NAME, "")))
    states: dict[str, str] = {}
    for point in data.latest_points(sc.HW_STATUS):
        if point.value == 1 and key in point.attributes:
            states[str(point.attributes[key])] = str(point.attributes.get(sc.HW_STATE))
    reasons: dict[str, list[str]] = defaultdict(list)
    for point in data.latest_points(sc.GPU_CLOCK_EVENT):
        if point.value == 1 and key in point.attributes:
            reasons[str(point.attributes[key])].append(
                str(point.attributes.get(sc.GPU_CLOCK_EVENT_REASON)))
    rows = []
    for gpu in sorted(set(names) | set(util) | set(used)):
        mean, peak = util[gpu][:2] if gpu in util else (None, None)
        rows.append([
            gpu[:12], names.get(gpu, ""), _fmt(mean), _fmt(peak),
            _fmt(used[gpu] / _GIB if gpu in used else None),
            _fmt(limit[gpu] / _GIB if gpu in limit else None),
            _fmt(power.get(gpu), 0), _fmt(temp.get(gpu), 0), states.get(gpu, "-"),
            ",".join(sorted(reasons.get(gpu, []))) or "-",
        ])
    return table(["gpu", "name", "util avg %", "util max %", "mem GiB", "of GiB", "power W",
                  "temp C", "state", "clock events"], rows)


def _dcgm(data: SinkData) -> list[str]:
    key = sc.DCGM_LABEL_UUID
    util = _utilization(data, sc.DCGM_GPU_UTIL, key, 1.0)
    used = _latest(data, sc.DCGM_FB_USED, key)
    free = _latest(data, sc.DCGM_FB_FREE, key)
    power = _latest(data, sc.DCGM_POWER_USAGE, key)
    temp = _latest(data, sc.DCGM_GPU_TEMP, key)
    xid = _latest(data, sc.DCGM_XID_ERRORS, key)
    rows = []
    for gpu in sorted(set(util) | set(used)):
        mean, peak = util[gpu][:2] if gpu in util else (None, None)
        total = used.get(gpu, 0) + free.get(gpu, 0) if gpu in used and gpu in free else None
        rows.append([gpu[:12], _fmt(mean), _fmt(peak),
                     _fmt(used[gpu] / 1024 if gpu in used else None),
                     _fmt(total / 1024 if total is not None else None),
                     _fmt(power.get(gpu), 0), _fmt(temp.get(gpu), 0),
                     _fmt(xid.get(gpu), 0)])
    return table(["gpu", "util avg %", "util max %", "mem GiB", "of GiB", "power W", "temp C",
                  "last XID"], rows)
