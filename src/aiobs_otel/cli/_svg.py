"""Small inline-SVG charts for the HTML report: lines over time or steps, and bar charts.

No JavaScript and no network: every chart is an ``<svg>`` element whose marks carry a
``<title>`` (the browser's tooltip). Every mark has ``class="mark"``, so a test can count them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
)
WIDTH = 560
HEIGHT = 250
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 62, 16, 14, 36


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]]
    color: str = ""


@dataclass
class Marker:
    """A vertical line at ``x`` with a label (e.g. a training anomaly)."""

    x: float
    label: str
    color: str = "#e15759"


@dataclass
class Chart:
    title: str
    svg: str
    legend: list[tuple[str, str]] = field(default_factory=list)  # (name, color)
    note: str = ""


def fmt_number(value: float, unit: str = "") -> str:
    """Compact human formatting: 1.2k, 3.4M, 0.012, 250 ms."""
    if math.isnan(value):
        return "-"
    if unit == "s":
        if abs(value) < 1:
            return f"{value * 1000:.0f} ms" if abs(value) >= 0.01 else f"{value * 1000:.2g} ms"
        return f"{value:.3g} s"
    if unit == "%":
        return f"{value:.0f}%"
    if unit == "$":
        return f"${value:.4g}" if abs(value) < 1 else f"${value:,.2f}"
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}{unit_suffix(unit)}"
    if magnitude == 0:
        return f"0{unit_suffix(unit)}"
    if magnitude < 0.01:
        return f"{value:.2g}{unit_suffix(unit)}"
    return f"{value:.3g}{unit_suffix(unit)}"


def unit_suffix(unit: str) -> str:
    return f" {unit}" if unit and unit not in ("s", "%", "$") else ""


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks: list[float] = []
    value = start
    while len(ticks) < 20:
        ticks.append(round(value, 12))
        if value >= high - step * 1e-9:
            break
        value += step
    return ticks


def _time_label(seconds: float, span_s: float) -> str:
    stamp = time.localtime(seconds)
    return time.strftime("%H:%M:%S" if span_s < 3600 * 6 else "%d %b %H:%M", stamp)


def _svg_open(width: int, height: int, label: str) -> str:
    return (f'<svg class="chart-svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(label)}" '
            f'xmlns="http://www.w3.org/2000/svg">')


def line_chart(title: str, series: Sequence[Series], *, x_time: bool = False, x_label: str = "",
               y_unit: str = "", markers: Sequence[Marker] = (), y_min: float | None = None,
               y_max: float | None = None, show_points: bool | None = None,
               note: str = "", log_y: bool | None = None) -> Chart | None:
    """Lines (with dots when there are few points); None when no series has a point.

    ``log_y=None`` picks a log scale by itself when positive values span over 50x (a loss
    curve with a spike stays readable).
    """
    series = [s for s in series if s.points]
    if not series:
        return None
    for index, s in enumerate(series):
        s.color = s.color or color(index)
        s.points.sort()
    xs = [p[0] for s in series for p in s.points] + [m.x for m in markers]
    ys = [p[1] for s in series for p in s.points if math.isfinite(p[1])]
    if not ys:
        return None
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if log_y is None:
        log_y = y_min is None and min(ys) > 0 and max(ys) / min(ys) > 50
    if log_y:
        ys = [y for y in ys if y > 0]
    lo = min(ys) if y_min is None else y_min
    hi = max(ys) if y_max is None else y_max
    if log_y:
        low_e, high_e = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        stride = max(1, math.ceil((high_e - low_e) / 7))  # at most ~8 labelled decades
        ticks = [float(10 ** e) for e in range(low_e, high_e + stride, stride)]
        if len(ticks) < 2:
            ticks.append(ticks[0] * 10)
    else:
        if lo > 0 and y_min is None and lo < (hi - lo):  # start at zero when it is close anyway
            lo = 0.0
        ticks = nice_ticks(lo, hi)
    scale: Callable[[float], float] = (lambda v: math.log10(max(v, 1e-300))) if log_y \
        else (lambda v: v)
    y0, y1 = scale(ticks[0]), scale(ticks[-1])
    if y1 == y0:
        y1 = y0 + 1
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def px(x: float) -> float:
        return MARGIN_LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return MARGIN_TOP + plot_h - (scale(y) - y0) / (y1 - y0) * plot_h

    out = [_svg_open(WIDTH, HEIGHT, title)]
    for tick in ticks:
        out.append(f'<line class="grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
                   f'y1="{py(tick):.1f}" y2="{py(tick):.1f}"/>')
        out.append(f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{py(tick) + 4:.1f}" '
                   f'text-anchor="end">{escape(fmt_number(tick, y_unit))}</text>')
    x_ticks = nice_ticks(x0, x1, 6)
    shown: set[str] = set()
    for tick in x_ticks:
        if tick < x0 - 1e-9 or tick > x1 + 1e-9:
            continue
        text = _time_label(tick, x1 - x0) if x_time else fmt_number(tick)
        if text in shown:  # sub-second ticks on a time axis would repeat a label
            continue
        shown.add(text)
        anchor = "end" if px(tick) > WIDTH - MARGIN_RIGHT - 4 * len(text) else "middle"
        out.append(f'<text class="tick" x="{px(tick):.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" '
                   f'text-anchor="{anchor}">{escape(text)}</text>')
    if x_label:
        out.append(f'<text class="axis-label" x="{MARGIN_LEFT + plot_w / 2:.1f}" '
                   f'y="{HEIGHT - 4}" text-anchor="middle">{escape(x_label)}</text>')
    for marker in markers:
        mx = px(marker.x)
        out.append(f'<line class="marker mark" x1="{mx:.1f}" x2="{mx:.1f}" y1="{MARGIN_TOP}" '
                   f'y2="{MARGIN_TOP + plot_h}" stroke="{marker.color}">'
                   f'<title>{escape(marker.label)}</title></line>')
    for s in series:
        finite = [(x, y) for x, y in s.points if math.isfinite(y) and (y > 0 or not log_y)]
        if len(finite) > 1:
            path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}"
                            for i, (x, y) in enumerate(finite))
            out.append(f'<path class="line mark" d="{path}" stroke="{s.color}">'
                       f'<title>{escape(s.name)}</title></path>')
        dots = show_points if show_points is not None else len(finite) <= 80
        if dots or len(finite) == 1:
            for x, y in finite:
                label = (f"{s.name}: {fmt_number(y, y_unit)} at "
                         f"{_time_label(x, 0) if x_time else fmt_number(x)}")
                out.append(f'<circle class="dot mark" cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" '
                           f'fill="{s.color}"><title>{escape(label)}</title></circle>')
    out.append("</svg>")
    legend = [(s.name, s.color) for s in series] if len(series) > 1 else []
    legend += [(m.label, m.color) for m in markers[:3]]
    if log_y:
        note = f"{note}, log scale" if note else "log scale"
    return Chart(title, "".join(out), legend, note)


def bar_chart(title: str, categories: Sequence[str], series: Sequence[Series | tuple[str,
              Sequence[float]]], *, stacked: bool = False, unit: str = "",
              threshold: float | None = None, threshold_label: str = "",
              note: str = "", colors: Sequence[str] | None = None) -> Chart | None:
    """Horizontal bars, one row per category; several series are grouped or stacked."""
    named = [(s.name, [p[1] for p in s.points]) if isinstance(s, Series) else (s[0], list(s[1]))
             for s in series]
    if not categories or not named or not any(any(v for v in values) for _, values in named):
        return None
    palette = list(colors) if colors else [color(i) for i in range(len(named))]
    # A series with nothing in it (no failures, say) is left out, legend included.
    kept = [i for i, (_, values) in enumerate(named) if any(values)]
    named = [named[i] for i in kept]
    palette = [palette[i % len(palette)] for i in kept]
    rows = len(categories)
    band = 26.0 if stacked or len(named) == 1 else 14.0 * len(named) + 8
    height = int(MARGIN_TOP + rows * band + MARGIN_BOTTOM)
    label_w = min(200, 14 + 7 * max(len(c) for c in categories))
    left = max(MARGIN_LEFT, label_w)
    plot_w = WIDTH - left - MARGIN_RIGHT - 40
    totals = [sum(v[i] for _, v in named) if stacked else max(v[i] for _, v in named)
              for i in range(rows)]
    top = max([*totals, threshold or 0.0]) or 1.0
    ticks = nice_ticks(0.0, top, 4)
    scale_max = ticks[-1]

    def px(value: float) -> float:
        return left + value / scale_max * plot_w

    out = [_svg_open(WIDTH, height, title)]
    for tick in ticks:
        out.append(f'<line class="grid" x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{MARGIN_TOP}" '
                   f'y2="{height - MARGIN_BOTTOM}"/>')
        out.append(f'<text class="tick" x="{px(tick):.1f}" y="{height - MARGIN_BOTTOM + 16}" '
                   f'text-anchor="middle">{escape(fmt_number(tick, unit))}</text>')
    for row, category in enumerate(categories):
        y = MARGIN_TOP + row * band
        out.append(f'<text class="cat" x="{left - 8}" y="{y + band / 2 + 4:.1f}" '
                   f'text-anchor="end">{escape(category)}</text>')
        offset = 0.0
        for index, (name, values) in enumerate(named):
            value = values[row]
            if not value:
                continue
            if stacked:
                x, w, by, bh = px(offset), px(offset + value) - px(offset), y + 4, band - 8
                offset += value
            else:
                slot = (band - 8) / len(named)
                x, w, by, bh = left, px(value) - left, y + 4 + index * slot, max(2.0, slot - 2)
            label = f"{category} · {name}: {fmt_number(value, unit)}" if len(named) > 1 else \
                f"{category}: {fmt_number(value, unit)}"
            out.append(f'<rect class="bar mark" x="{x:.1f}" y="{by:.1f}" width="{max(w, 1.5):.1f}" '
                       f'height="{bh:.1f}" rx="2" fill="{palette[index % len(palette)]}">'
                       f'<title>{escape(label)}</title></rect>')
        end = totals[row]
        out.append(f'<text class="value" x="{px(end) + 4:.1f}" y="{y + band / 2 + 4:.1f}">'
                   f'{escape(fmt_number(end, unit))}</text>')
    if threshold is not None:
        tx = px(threshold)
        out.append(f'<line class="threshold" x1="{tx:.1f}" x2="{tx:.1f}" y1="{MARGIN_TOP - 4}" '
                   f'y2="{height - MARGIN_BOTTOM}"><title>{escape(threshold_label)}</title></line>')
    out.append("</svg>")
    legend = [(name, palette[i % len(palette)]) for i, (name, _) in enumerate(named)] \
        if len(named) > 1 else []
    if threshold is not None and threshold_label:
        legend.append((threshold_label, "#e15759"))
    return Chart(title, "".join(out), legend, note)
