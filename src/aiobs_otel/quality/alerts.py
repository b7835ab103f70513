"""Degradation alerts: a baseline per (metric, segment), minimum counts and hysteresis.

For every complete window and every group (a segment value, or the whole window when no
segments are declared) with at least ``min_samples`` rows:

1. The first ``baseline_windows`` qualifying windows form the baseline (their row-weighted
   mean), unless a fixed threshold is configured for the metric.
2. A window *breaches* when the value is worse than the baseline by more than the margin:
   ``tolerance`` (absolute for bounded metrics, a fraction of the baseline for MAE/RMSE). For
   accuracy the margin is at least ``z`` standard errors of the difference of two proportions,
   so small segments do not alarm on noise.
3. ``alert_after`` consecutive breaching windows enter the degraded state (one event);
   ``recover_after`` consecutive windows within half the margin leave it (one event).

>>> rule = Rule("accuracy", higher_is_better=True, tolerance=0.05)
>>> tracker = AlertTracker([rule], min_samples=10, baseline_windows=1, alert_after=1)
>>> tracker.update(1, ("region", "eu"), {"accuracy": 0.9}, 100)
[]
>>> [t.kind for t in tracker.update(2, ("region", "eu"), {"accuracy": 0.5}, 100)]
['degraded']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Group = tuple[str | None, str | None]  # (segment key, segment value); (None, None) = overall


@dataclass(frozen=True)
class Rule:
    metric: str
    higher_is_better: bool
    tolerance: float
    relative: bool = False  # tolerance is a fraction of the baseline
    threshold: float | None = None  # a fixed bound instead of the learned baseline
    proportion: bool = False  # apply the standard-error guard


@dataclass
class _State:
    baseline_sum: float = 0.0
    baseline_rows: int = 0
    baseline_windows: int = 0
    breaches: int = 0
    recoveries: int = 0
    degraded: bool = False

    @property
    def baseline(self) -> float:
        return self.baseline_sum / self.baseline_rows if self.baseline_rows else math.nan


@dataclass(frozen=True)
class Transition:
    kind: str  # "degraded" | "recovered"
    metric: str
    group: Group
    window: int
    value: float
    reference: float  # the baseline or the fixed threshold
    margin: float
    count: int


@dataclass
class AlertTracker:
    rules: Sequence[Rule]
    min_samples: int
    baseline_windows: int = 2
    alert_after: int = 2
    recover_after: int = 3
    z: float = 3.0
    _states: dict[tuple[str, Group], _State] = field(default_factory=dict)

    def degraded(self) -> dict[tuple[str, Group], bool]:
        """Current state of every (metric, group) seen with enough rows."""
        return {key: state.degraded for key, state in self._states.items()}

    def update(self, window: int, group: Group, values: Mapping[str, float | None],
               count: int) -> list[Transition]:
        """Feed one complete window's values for one group; returns state changes."""
        if count < self.min_samples:
            return []
        changes: list[Transition] = []
        for rule in self.rules:
            value = values.get(rule.metric)
            if value is None or math.isnan(value):
                continue
            state = self._states.setdefault((rule.metric, group), _State())
            if rule.threshold is None and state.baseline_windows < self.baseline_windows:
                state.baseline_sum += value * count
                state.baseline_rows += count
                state.baseline_windows += 1
                continue
            change = self._judge(rule, state, window, group, value, count)
            if change is not None:
                changes.append(change)
        return changes

    def _margin(self, rule: Rule, state: _State, count: int) -> tuple[float, float]:
        if rule.threshold is not None:
            return rule.threshold, 0.0
        reference = state.baseline
        margin = rule.tolerance * abs(reference) if rule.relative else rule.tolerance
        if rule.proportion and 0.0 < reference < 1.0:
            spread = reference * (1.0 - reference) * (1.0 / count + 1.0 / state.baseline_rows)
            margin = max(margin, self.z * math.sqrt(spread))
        return reference, margin

    def _judge(self, rule: Rule, state: _State, window: int, group: Group, value: float,
               count: int) -> Transition | None:
        reference, margin = self._margin(rule, state, count)
        worse = reference - value if rule.higher_is_better else value - reference
        breach = worse > margin
        healthy = worse <= margin / 2.0
        state.breaches = state.breaches + 1 if breach else 0
        state.recoveries = state.recoveries + 1 if healthy else 0
        if not state.degraded and state.breaches >= self.alert_after:
            state.degraded = True
            state.recoveries = 0
            return Transition("degraded", rule.metric, group, window, value, reference, margin,
                              count)
        if state.degraded and state.recoveries >= self.recover_after:
            state.degraded = False
            state.breaches = 0
            return Transition("recovered", rule.metric, group, window, value, reference, margin,
                              count)
        return None
