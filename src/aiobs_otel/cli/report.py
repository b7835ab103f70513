"""``aiobs-otel report [DIR]``: a terminal summary of the embedded sink.

The summary is made of sections. The core ones (spans, metrics) live here; each area adds its
own as a module in :mod:`aiobs_otel.cli.sections` with ``TITLE``, ``ORDER`` and
``render(data) -> list[str]`` (an empty list hides the section). They are found automatically.
"""

from __future__ import annotations

import argparse
import importlib
import math
import pkgutil
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .sinkdata import MetricPoint, SinkData, load

Section = tuple[int, str, Callable[[SinkData], list[str]]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory", nargs="?", default=None,
        help="the sink directory (default: AIOBS_SINK_DIR or ./.aiobs)",
    )
    parser.add_argument("--html", metavar="FILE", default=None,
                        help="also write a self-contained HTML report to FILE")


def run(args: argparse.Namespace) -> int:
    directory = Path(args.directory) if args.directory else _default_dir()
    if not directory.is_dir():
        print(f"aiobs-otel report: no telemetry directory at {directory}", file=sys.stderr)
        return 1
    data = load(directory)
    sys.stdout.write(render(data))
    html_target = getattr(args, "html", None)
    if html_target:
        try:
            html_module = importlib.import_module("aiobs_otel.cli.html_report")
        except ImportError:
            print("aiobs-otel report: the HTML report is not available in this build",
                  file=sys.stderr)
            return 1
        html_module.write(data, Path(html_target))
        print(f"HTML report written to {html_target}")
    return 0


def _default_dir() -> Path:
    from ..config import load_settings

    return load_settings().sink_dir


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Left-aligned first column, right-aligned others."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        rest = zip(row[1:], widths[1:], strict=True)
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in rest]
        lines.append("  " + "  ".join(parts).rstrip())
        if index == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


def spans_section(data: SinkData) -> list[str]:
    by_name: dict[str, list[Any]] = defaultdict(list)
    for span in data.spans:
        by_name[span.name].append(span)
    rows = []
    for name in sorted(by_name, key=lambda n: (-len(by_name[n]), n)):
        spans = by_name[name]
        durations = [s.duration_s * 1000 for s in spans]
        errors = sum(1 for s in spans if s.is_error)
        rows.append([name, len(spans), f"{100.0 * errors / len(spans):.1f}%",
                     percentile(durations, 50), percentile(durations, 95)])
    if not rows:
        return ["  (no spans)"]
    return table(["span", "count", "errors", "p50 ms", "p95 ms"], rows)


def summarize_metric(points: list[MetricPoint]) -> tuple[str, str]:
    """(kind, value text) for the latest points of one metric across its series."""
    kind = points[0].kind
    if kind == "sum":
        values = [p.value for p in points if p.value is not None]
        return ("sum", _cell(float(sum(values))))
    if kind == "gauge":
        values = [p.value for p in points if p.value is not None]
        if len(values) == 1:
            return ("gauge", _cell(values[0]))
        return ("gauge", f"last {_cell(values[-1])} (min {_cell(min(values))}, "
                         f"max {_cell(max(values))}, {len(values)} series)")
    count = sum(p.count for p in points)
    total = sum(p.total for p in points)
    mean = total / count if count else math.nan
    return ("histogram", f"count {count}, sum {_cell(total)}, mean {_cell(mean)}")


def metrics_section(data: SinkData) -> list[str]:
    rows = []
    for name in data.metric_names():
        points = data.latest_points(name)
        if data_is_delta(points):
            points = [p for p in data.metrics if p.name == name]
        kind, text = summarize_metric(points)
        unit = points[0].unit
        rows.append([name, kind, unit or "", text])
    if not rows:
        return ["  (no metrics)"]
    return table(["metric", "kind", "unit", "value"], rows)


def data_is_delta(points: list[MetricPoint]) -> bool:
    return bool(points) and not points[0].cumulative


def logs_section(data: SinkData) -> list[str]:
    counts: dict[str, int] = defaultdict(int)
    for entry in data.logs:
        counts[entry.event_name or "(log)"] += 1
    if not counts:
        return []
    return table(["event", "count"], sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


CORE_SECTIONS: list[Section] = [
    (10, "Spans", spans_section),
    (20, "Metrics", metrics_section),
    (30, "Events", logs_section),
]


def sections() -> list[Section]:
    """The core sections plus every module in ``aiobs_otel.cli.sections``, by ORDER."""
    from . import sections as package

    found = list(CORE_SECTIONS)
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found.append((int(getattr(module, "ORDER", 100)), str(module.TITLE), module.render))
    return sorted(found, key=lambda s: s[0])


def render(data: SinkData) -> str:
    """The whole terminal report as text."""
    out = [f"aiobs-otel report: {data.directory}",
           f"{len(data.spans)} spans, {len(data.metrics)} metric points, "
           f"{len(data.logs)} log records"]
    if data.bad_lines:
        out.append(f"({data.bad_lines} unreadable lines skipped)")
    for _, title, render_section in sections():
        try:
            lines = render_section(data)
        except Exception as exc:  # one broken section must not hide the others
            lines = [f"  (section failed: {exc!r})"]
        if lines:
            out += ["", title, *lines]
    return "\n".join(out) + "\n"
