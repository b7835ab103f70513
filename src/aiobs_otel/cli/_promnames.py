"""The OpenTelemetry → Prometheus name translation, as the dashboards and alert rules assume it.

Rules (OpenTelemetry's Prometheus compatibility spec, as ``opentelemetry-exporter-prometheus``,
the Collector's Prometheus exporters and Prometheus' own OTLP receiver apply them):

* characters outside ``[a-zA-Z0-9:]`` become ``_`` (``gen_ai.client.operation.duration`` →
  ``gen_ai_client_operation_duration``); attribute keys alike (``gen_ai.request.model`` →
  ``gen_ai_request_model``);
* the unit becomes a suffix: ``s`` → ``_seconds``, ``By`` → ``_bytes``, ``W`` → ``_watts``,
  ``J`` → ``_joules``, ``Cel`` → ``_celsius``, ``Hz`` → ``_hertz``, ``{sample}/s`` →
  ``_per_second``; annotations in braces (``{token}``) add nothing;
* monotonic counters get ``_total``; histograms expose ``_bucket``, ``_sum`` and ``_count``;
* unit ``1``: the Python exporter adds nothing, while the Collector and Prometheus' OTLP receiver
  add ``_ratio`` to gauges. Queries on such gauges match both: ``{__name__=~"x(_ratio)?"}``.
"""

from __future__ import annotations

import re

_INVALID = re.compile(r"[^a-zA-Z0-9:]+")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9]+")
_ANNOTATION = re.compile(r"{.*}")
UNITS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
    "us": "microseconds", "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes",
    "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes", "KBy": "kilobytes",
    "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes", "m": "meters", "V": "volts",
    "A": "amperes", "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius", "Hz": "hertz",
    "1": "", "%": "percent",
}
PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month",
             "y": "year"}


def label(key: str) -> str:
    """``gen_ai.request.model`` → ``gen_ai_request_model``."""
    if key and key[0].isdigit():
        key = "_" + key[1:]
    return _INVALID_LABEL.sub("_", key)


def unit_suffix(unit: str) -> str:
    unit = _ANNOTATION.sub("", unit)
    if unit in UNITS:
        return UNITS[unit]
    top, sep, bottom = unit.partition("/")
    if sep and _INVALID.sub("_", bottom):
        top = UNITS.get(_INVALID.sub("_", top), _INVALID.sub("_", top))
        per = PER_UNITS.get(_INVALID.sub("_", bottom), _INVALID.sub("_", bottom))
        return f"{top}_per_{per}" if top else f"per_{per}"
    return _INVALID.sub("_", unit).strip("_")


def metric(name: str, unit: str = "", kind: str = "gauge") -> str:
    """The Prometheus family name of an OpenTelemetry metric.

    ``kind`` is ``counter`` (monotonic sum), ``gauge`` (gauges and up-down counters) or
    ``histogram``. For a histogram the family name is returned; add ``_bucket`` etc.

    >>> metric("http.client.request.duration", "s", "histogram")
    'http_client_request_duration_seconds'
    >>> metric("app.tokens", "{token}", "counter")
    'app_tokens_total'
    """
    base = _INVALID.sub("_", ("_" + name[1:]) if name[:1].isdigit() else name)
    suffix = unit_suffix(unit)
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    if kind == "counter":
        if base.endswith("_total"):
            base = base[: -len("_total")]
        return f"{base}_total"
    return base


def selector(name: str, unit: str = "", kind: str = "gauge", matchers: str = "") -> str:
    """A PromQL selector for the metric; unit-``1`` gauges match with and without ``_ratio``.

    >>> selector("hw.gpu.utilization", "1", "gauge", 'job=~"$job"')
    '{__name__=~"hw_gpu_utilization(_ratio)?", job=~"$job"}'
    """
    family = metric(name, unit, kind)
    if kind == "gauge" and _ANNOTATION.sub("", unit) == "1":
        inner = f'__name__=~"{family}(_ratio)?"' + (f", {matchers}" if matchers else "")
        return "{" + inner + "}"
    return f"{family}{{{matchers}}}" if matchers else family
