"""The drift monitor's metric instruments (OTel API only), rebuilt when providers change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.metrics import Counter, Meter

from .. import semconv
from .._core.otel import instrument_set


@dataclass(frozen=True)
class DriftInstruments:
    score: Any  # synchronous Gauge
    status: Any
    unseen_rate: Any
    windows: Counter


@instrument_set("drift")
def _drift_instruments(m: Meter) -> DriftInstruments:
    _hook_sketch_export()
    return DriftInstruments(
        score=m.create_gauge(semconv.DRIFT_SCORE, unit="1",
                             description="Drift effect size of the latest window, by method."),
        status=m.create_gauge(semconv.DRIFT_STATUS, unit="1",
                              description="-1 insufficient data, 0 ok, 1 warn, 2 drift."),
        unseen_rate=m.create_gauge(semconv.DRIFT_UNSEEN_RATE, unit="1",
                                   description="Share of values never seen in the reference."),
        windows=m.create_counter(semconv.DRIFT_WINDOWS, unit="{window}",
                                 description="Drift windows evaluated."),
    )


def _hook_sketch_export() -> None:
    """Make the active meter provider's readers carry the sketches (once per provider)."""
    from .._core import errors, state

    with errors.guard("drift.hook_export"):
        from ..setup.sketch_export import hook_meter_provider

        hook_meter_provider(state.STATE.meter_provider)


def drift_instruments() -> DriftInstruments:
    return _drift_instruments.get()
