"""DriftMonitor: windows of production data scored against a reference, with alert hygiene.

>>> import numpy as np, aiobs_otel as aiobs
>>> rng = np.random.default_rng(0)
>>> monitor = aiobs.DriftMonitor(name="fraud-model", reference={"x": rng.normal(size=50_000)},
...                              window_size=5_000)  # doctest: +SKIP
>>> monitor.observe({"x": rng.normal(size=20_000)})  # doctest: +SKIP
>>> monitor.scores()["x"]["status"]  # doctest: +SKIP
'ok'

Per window and feature: PSI (reference deciles), KS, JS and normalised Wasserstein; thresholds
calibrated from reference chunks (warn at mean + 3 sd, drift at mean + 5 sd of the chunk scores,
rescaled to the window's row count); fewer than ``min_count`` values gives
``insufficient_data``; a method enters warn/drift when ``k`` of the last ``m`` windows exceed its
threshold and leaves after ``m`` windows below ``exit_ratio`` times the threshold; a feature's
status
is the worst over its methods; a ``aiobs.drift.detected`` event names the top shifted features,
at most once per feature per ``cooldown_windows``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from .. import semconv
from .._core import errors, sketches
from . import _columns
from .reference import (
    CategoricalReference,
    EmbeddingReference,
    NumericReference,
    ReferenceProfile,
    build_reference,
)
from .sketch import CategoricalSketch, ExpHistogram, NumericWindow

__all__ = ["DriftMonitor"]

_log = logging.getLogger("aiobs_otel")
LEVELS = ("ok", "warn", "drift")
# Smallest thresholds: below these a shift is too small to matter whatever the noise.
THRESHOLD_FLOORS = {"psi": 0.005, "ks": 0.01, "js": 0.005, "wasserstein": 0.01}
_EXPORT_MAX_SIZE = 160

Sketch = NumericWindow | CategoricalSketch
FeatureRef = NumericReference | CategoricalReference


@dataclass(slots=True)
class _MethodState:
    # the last m windows: (score, warn threshold, drift threshold); a list (a deque is 600 B)
    history: list[tuple[float, float, float]]
    level: int = 0


class _FeatureState:
    def __init__(self, ref: FeatureRef, m: int) -> None:
        self.ref = ref
        self.window: Sketch = ref.new_sketch()
        self.methods = {name: _MethodState([]) for name in ref.methods}
        self.status = "insufficient_data"
        self.scores: dict[str, float | None] = {}
        self.thresholds: dict[str, tuple[float, float]] = {}
        self.last_alert_window = -(10**9)


class DriftMonitor:
    """Score windows of production data against a reference.

    >>> monitor = DriftMonitor(name="m", reference=profile, window_size=10_000)  # doctest: +SKIP

    ``reference``: a DataFrame, Arrow table, dict of arrays, list of records, a
    :class:`~.reference.ReferenceProfile` or a path to a saved profile. ``window_size``: rows
    per window, or a :class:`datetime.timedelta` (windows then close on the first ``observe``
    after the interval). ``hysteresis=(k, m)``: enter a state after k of m windows over its
    threshold. ``min_count``: values a window needs to be scored (default 1000, or half the
    window when windows have fewer than 2000 rows).
    """

    def __init__(
        self,
        name: str,
        reference: Any,
        window_size: int | timedelta = 10_000,
        *,
        psi_bins: int = 10,
        min_count: int | None = None,
        warn_sigma: float = 3.0,
        drift_sigma: float = 5.0,
        hysteresis: tuple[int, int] = (3, 5),
        exit_ratio: float = 0.7,
        cooldown_windows: int = 12,
        top_features: int = 5,
        features: list[str] | None = None,
        categorical: list[str] | None = None,
        top_k: int = 256,
        max_buckets: int = 160,
        calibration_chunks: int = 40,
        export_sketches: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(window_size, timedelta):
            if window_size.total_seconds() <= 0:
                raise ValueError("window_size must be positive")
            self._window_rows: int | None = None
            self._window_s: float | None = window_size.total_seconds()
        else:
            if int(window_size) < 1:
                raise ValueError("window_size must be at least 1 row")
            self._window_rows, self._window_s = int(window_size), None
        k, m = hysteresis
        if not 1 <= k <= m:
            raise ValueError("hysteresis must be (k, m) with 1 <= k <= m")
        self.name = str(name)
        self.profile = _as_profile(reference, psi_bins=psi_bins, window=self._window_rows,
                                   features=features, categorical=categorical, top_k=top_k,
                                   max_buckets=max_buckets,
                                   calibration_chunks=calibration_chunks)
        if min_count is None:  # 1000 values, or half the window when windows are smaller
            min_count = min(1000, max(1, (self._window_rows or 2000) // 2))
        self.min_count = int(min_count)
        self.warn_sigma, self.drift_sigma = float(warn_sigma), float(drift_sigma)
        self.k, self.m = int(k), int(m)
        self.exit_ratio = float(exit_ratio)
        self.cooldown_windows = int(cooldown_windows)
        self.top_features = int(top_features)
        self.export_sketches = export_sketches
        self._clock = clock
        self._lock = threading.RLock()
        self._features: dict[str, _FeatureState] = {}
        self._embeddings: dict[str, EmbeddingReference] = {}
        for fname, ref in self.profile.features.items():
            if isinstance(ref, EmbeddingReference):
                self._embeddings[fname] = ref
                for part_name, part in ref.parts.items():
                    self._features[part_name] = _FeatureState(part, self.m)
            else:
                self._features[fname] = _FeatureState(ref, self.m)
        self._rows = 0
        self._window_start = clock()
        self._window_start_ns = time.time_ns()
        self.windows = 0  # windows closed so far
        self._evaluated = False
        self._pending: dict[int, dict[str, tuple[int, Sketch]]] = {}
        self._attrs = {fname: {semconv.DRIFT_MONITOR: self.name, semconv.DRIFT_FEATURE: fname,
                               semconv.DRIFT_FEATURE_SHORT: fname}
                       for fname in self._features}
        if export_sketches:
            sketches.register(self)

    # -- ingest ---------------------------------------------------------------------------------
    def observe(self, batch: Any) -> None:
        """Add a batch of rows (any size); windows close as they fill (or as time passes)."""
        with errors.guard("drift.observe"), self._lock:
            self._observe(batch)

    def _observe(self, batch: Any) -> None:
        cols = self._prepare(batch)
        n = _columns.length(batch)
        if self._window_s is not None:
            if self._clock() - self._window_start >= self._window_s and self._rows:
                self._close_window()
            self._add(cols, 0, n)
            self._rows += n
            return
        assert self._window_rows is not None
        pos = 0
        while pos < n:
            take = min(n - pos, self._window_rows - self._rows)
            self._add(cols, pos, pos + take)
            self._rows += take
            pos += take
            if self._rows >= self._window_rows:
                self._close_window()

    def _prepare(self, batch: Any) -> dict[str, Any]:
        """Columns converted once per batch: floats for numeric, raw for categories."""
        raw = _columns.columns(batch)
        out: dict[str, Any] = {}
        for fname, emb in self._embeddings.items():
            col = raw.get(fname)
            if col is not None:
                out.update(emb.project(_columns.embedding_values(col)))
        for fname, st in self._features.items():
            if fname in out:
                continue
            col = raw.get(fname)
            if col is None:
                continue
            if isinstance(st.ref, NumericReference):
                out[fname] = _columns.numeric_values(col)
            else:
                out[fname] = col
        return out

    def _add(self, cols: dict[str, Any], start: int, stop: int) -> None:
        whole = start == 0
        for fname, col in cols.items():
            st = self._features[fname]
            if whole and stop >= _columns.length(col):
                st.window.update(col)
            else:
                st.window.update(_columns.take(col, start, stop))

    def flush(self) -> None:
        """Close the open window now (if it has rows)."""
        with errors.guard("drift.flush"), self._lock:
            if self._rows:
                self._close_window()

    # -- evaluation -----------------------------------------------------------------------------
    def _close_window(self) -> None:
        self.windows += 1
        alerts: list[tuple[float, str, _FeatureState]] = []
        for fname, st in self._features.items():
            raised = self._evaluate(st, update_state=True)
            if raised and self.windows - st.last_alert_window >= self.cooldown_windows:
                st.last_alert_window = self.windows
                alerts.append((self._severity(st), fname, st))
        self._evaluated = True
        end_ns = time.time_ns()
        self._emit_metrics()
        if self.export_sketches:
            self._stash_for_export(end_ns)
        if alerts:
            self._emit_alert(alerts)
        for st in self._features.values():
            st.window = st.ref.new_sketch()
        self._rows = 0
        self._window_start = self._clock()
        self._window_start_ns = end_ns

    def _window_count(self, st: _FeatureState) -> int:
        w = st.window
        return int(w.count) if isinstance(w, NumericWindow) else int(w.counts.sum())

    def _evaluate(self, st: _FeatureState, update_state: bool) -> bool:
        """Score ``st``'s window; with ``update_state`` advance hysteresis. True if it rose."""
        n = self._window_count(st)
        if n == 0:
            st.scores = {m: None for m in st.ref.methods}
            if update_state:
                st.status = "insufficient_data"
            return False
        raw = st.ref.scores(st.window)  # type: ignore[arg-type]
        st.scores = dict(raw)
        enough = n >= self.min_count and n * st.ref.min_bin_share() >= 5
        if not enough:
            if update_state:
                st.status = "insufficient_data"
            return False
        cal = st.ref.calibration
        for method, score in raw.items():
            mean, sd = cal.stats(method)
            g = cal.scale_for(n, method)
            floor = THRESHOLD_FLOORS.get(method, 0.0)
            warn = max((mean + self.warn_sigma * sd) * g, floor)
            drift = max((mean + self.drift_sigma * sd) * g, 2 * floor, warn)
            st.thresholds[method] = (warn, drift)
            if update_state:
                _advance(st.methods[method], score, warn, drift, self.k, self.m,
                         self.exit_ratio)
        if not update_state:
            return False
        before = st.status
        level = max(ms.level for ms in st.methods.values())
        st.status = LEVELS[level]
        return level == 2 and before != "drift"

    def _severity(self, st: _FeatureState) -> float:
        ratios = [(st.scores.get(m) or 0.0) / max(t[1], 1e-12)
                  for m, t in st.thresholds.items()]
        return max(ratios, default=0.0)

    def scores(self) -> dict[str, dict[str, Any]]:
        """The latest window's scores: ``{feature: {"psi", "ks", "js", "wasserstein", "status"}}``.

        Before the first window closes, the open window is scored (status reflects only its
        sample size). Categorical features: ``ks`` is the L∞ distance between category shares
        and ``wasserstein`` is None.
        """
        with self._lock:
            if not self._evaluated:
                for st in self._features.values():
                    self._evaluate(st, update_state=False)
            out: dict[str, dict[str, Any]] = {}
            for fname, st in self._features.items():
                row: dict[str, Any] = {m: st.scores.get(m) for m in
                                       ("psi", "ks", "js", "wasserstein")}
                if not self._evaluated:
                    n = self._window_count(st)
                    row["status"] = "insufficient_data" if n < self.min_count else "ok"
                else:
                    row["status"] = st.status
                out[fname] = row
            return out

    def status(self) -> str:
        """The worst status over all features (``insufficient_data`` only if all are)."""
        statuses = [row["status"] for row in self.scores().values()]
        for level in ("drift", "warn", "ok"):
            if level in statuses:
                return level
        return "insufficient_data"

    def thresholds(self) -> dict[str, dict[str, tuple[float, float]]]:
        """``{feature: {method: (warn, drift)}}`` used for the latest window."""
        with self._lock:
            return {f: dict(st.thresholds) for f, st in self._features.items()}

    def window_sketch(self, feature: str) -> Sketch:
        """The open window's sketch for ``feature`` (merge it with other processes' sketches)."""
        return self._features[feature].window

    # -- telemetry ------------------------------------------------------------------------------
    def _emit_metrics(self) -> None:
        with errors.guard("drift.metrics"):
            from ._telemetry import drift_instruments

            inst = drift_instruments()
            for fname, st in self._features.items():
                attrs = self._attrs[fname]
                for method, score in st.scores.items():
                    if score is not None and math.isfinite(score):
                        inst.score.set(score, {**attrs, semconv.DRIFT_METHOD: method,
                                                  semconv.DRIFT_METHOD_SHORT: method})
                inst.status.set(semconv.DRIFT_STATUS_CODES[st.status], attrs)
                if isinstance(st.window, CategoricalSketch):
                    inst.unseen_rate.set(st.window.unseen_rate, attrs)
            inst.windows.add(1, {semconv.DRIFT_MONITOR: self.name})

    def _emit_alert(self, alerts: list[tuple[float, str, _FeatureState]]) -> None:
        with errors.guard("drift.event"):
            from .._core.otel import event_logger

            alerts.sort(key=lambda a: -a[0])
            top = [{"feature": fname, "status": st.status,
                    **{m: (round(v, 6) if v is not None else None)
                       for m, v in st.scores.items()}}
                   for _sev, fname, st in alerts[: self.top_features]]
            shifted = [name for _sev, name, _st in alerts]
            _log.warning("aiobs_otel: drift detected by %s in %s", self.name,
                         ", ".join(shifted[: self.top_features]))
            event_logger().emit(
                event_name=semconv.EVENT_DRIFT_DETECTED,
                body={"monitor": self.name, "window": self.windows, "features": top},
                attributes={semconv.DRIFT_MONITOR: self.name,
                            semconv.DRIFT_REFERENCE_ID: self.profile.id},
            )

    def _stash_for_export(self, end_ns: int) -> None:
        keys = sketches.reader_keys()
        for gone in set(self._pending) - keys:  # readers of providers no longer in use
            del self._pending[gone]
        if not keys:
            return
        for key in keys:
            pending = self._pending.setdefault(key, {})
            for fname, st in self._features.items():
                if self._window_count(st) == 0 and not isinstance(st.window, NumericWindow):
                    continue
                held = pending.get(fname)
                if held is None:
                    window = st.window
                    pending[fname] = (self._window_start_ns,
                                      window.copy() if isinstance(window, NumericWindow)
                                      else _copy_categorical(window))
                else:
                    held[1].merge(st.window)  # type: ignore[arg-type]

    def drain_sketches(self, reader_key: int) -> list[sketches.SketchPoint]:
        """Points for one metric reader: the windows closed since its last collect."""
        with self._lock:
            pending = self._pending.pop(reader_key, None)
        if not pending:
            return []
        now = time.time_ns()
        points: list[sketches.SketchPoint] = []
        ref_id = self.profile.id
        for fname, (start_ns, sketch) in pending.items():
            attrs = {**self._attrs[fname], semconv.DRIFT_REFERENCE_ID: ref_id}
            st = self._features[fname]
            if isinstance(sketch, NumericWindow):
                hist = sketch.hist
                exported = _fit(hist, _EXPORT_MAX_SIZE)
                points.append(sketches.SketchPoint(semconv.DRIFT_DISTRIBUTION, "exponential",
                                                   attrs, start_ns, now, exported))
                assert isinstance(st.ref, NumericReference)
                counts = sketch.bin_counts()
                points.append(sketches.SketchPoint(
                    semconv.DRIFT_REFERENCE_BINS, "bins", attrs, start_ns, now,
                    (list(st.ref.edges), counts.tolist(), hist.sum, hist.min, hist.max)))
            else:
                codes = len(sketch.counts)
                bounds = [i + 0.5 for i in range(codes - 1)]
                total = float(np.dot(np.arange(codes), sketch.counts))
                points.append(sketches.SketchPoint(
                    semconv.DRIFT_REFERENCE_BINS, "bins", attrs, start_ns, now,
                    (bounds, sketch.counts.tolist(), total, math.nan, math.nan)))
        return points


def _fit(hist: ExpHistogram, size: int) -> ExpHistogram:
    """``hist`` downscaled until each sign's buckets fit in ``size`` (the export size)."""
    if hist.max_size <= size:
        return hist
    out = hist.copy()
    while True:
        spans = [b for b in (out.pos.bounds(), out.neg.bounds()) if b is not None]
        if all(hi - lo + 1 <= size for lo, hi in spans):
            out.max_size = size
            return out
        out = out.downscaled_to(out.scale - 1)


def _copy_categorical(sketch: CategoricalSketch) -> CategoricalSketch:
    out = sketch.empty_like()
    out.merge(sketch)
    return out


def _advance(ms: _MethodState, score: float, warn: float, drift: float, k: int, m: int,
             exit_ratio: float) -> None:
    """Hysteresis: rise after k of the last m windows over a threshold; fall after m calm ones."""
    ms.history.append((score, warn, drift))
    if len(ms.history) > m:
        del ms.history[0]
    n_warn = sum(1 for s, w, _d in ms.history if s > w)
    n_drift = sum(1 for s, _w, d in ms.history if s > d)
    target = 2 if n_drift >= k else 1 if n_warn >= k else 0
    if target > ms.level:
        ms.level = target
        return
    while ms.level > target and len(ms.history) >= m:
        idx = ms.level  # 1 -> warn threshold, 2 -> drift threshold
        if all(s < exit_ratio * (w if idx == 1 else d) for s, w, d in ms.history):
            ms.level -= 1
        else:
            break


def _as_profile(reference: Any, **options: Any) -> ReferenceProfile:
    if isinstance(reference, ReferenceProfile):
        return reference
    if isinstance(reference, (str, bytes)) or hasattr(reference, "__fspath__"):
        return ReferenceProfile.load(reference)  # type: ignore[arg-type]
    window = options.pop("window")
    return build_reference(reference, chunk_size=window, **options)
