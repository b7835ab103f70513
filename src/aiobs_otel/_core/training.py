"""Training telemetry: a run span, sampled step spans and per-step metrics, with no device sync.

>>> import aiobs_otel as aiobs
>>> with aiobs.training_run(name="mnist", model=model) as run:  # doctest: +SKIP
...     for x, y in run.watch_loader(loader):
...         with aiobs.train_step(batch_size=len(x)) as step:
...             loss = loss_fn(model(x), y); loss.backward()
...             norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
...             step.record(loss=loss, grad_norm=norm)

How it stays off the critical path:

* ``record()`` only keeps references. CPU tensors are read (``.item()``) in batches, several
  steps later; CUDA tensors get a ``non_blocking`` copy into pinned host memory and are read once
  the step's CUDA event has completed, so no call ever waits for the device.
* On CUDA the step time is measured by a ring of ``torch.cuda.Event`` pairs polled with
  ``query()``; elsewhere with the host clock.
* Every step's time and data wait go into deferred histograms (:mod:`.deferred`): the step only
  appends to a buffer, and the SDK records are made when metrics are collected (on the export
  thread). Gauges and counters
  (loss, grad norm, learning rate, throughput, MFU, samples, tokens, steps) are observable
  instruments that read the run's latest figures at collection. So a step makes no SDK call
  unless its span is sampled. All carry ``aiobs.training.run.name``.
* Step spans are sampled (``step_span_every``); a sampled step span is ended when its values
  have been read, with the step's real end time.
"""

from __future__ import annotations

import contextvars
import functools
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Meter, Observation
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from .. import semconv
from . import deferred, errors, flops, state
from .deferred import NO_EXEMPLAR, DeferredHistogram, deferred_histogram
from .otel import event_logger, instrument_set, tracer
from .wrapping import NOOP_SCOPE, Operation, Scope, error_type, publish_activity

__all__ = ["TrainStep", "TrainingRun", "start_run", "train_step", "training_run"]

# Values of a step are read once at most this many steps are waiting (then half are read).
_LAG_LIMIT = 16
_RING_SIZE = _LAG_LIMIT + 4
_SPIKE_WINDOW = 100
_SPIKE_MIN_HISTORY = 20
_REFRESH_EVERY = 16
_STALL_FLOOR_S = 0.1
_STALL_FACTOR = 4.0
_ANOMALY_LOG_EVERY = 100  # steps between two log events of the same kind
_FINISHED_KEPT = 4
# Automatic step-span sampling (step_span_every unset): every step of a short run, then every
# 100th, so a million-step run makes about 11k step spans instead of a million.
_AUTO_FULL_STEPS = 1000
_AUTO_EVERY = 100


def step_is_sampled(index: int, every: int | None) -> bool:
    """Whether step ``index`` gets a span: every ``every``-th, or the automatic rule for None."""
    if every is None:
        return index < _AUTO_FULL_STEPS or index % _AUTO_EVERY == 0
    return every == 1 or index % every == 0

_CURRENT_RUN: contextvars.ContextVar[TrainingRun | None] = contextvars.ContextVar(
    "aiobs_training_run", default=None
)
_live: list[TrainingRun] = []
_finished: deque[TrainingRun] = deque(maxlen=_FINISHED_KEPT)
_registry_lock = threading.Lock()
_implicit: list[TrainingRun] = []
_NO_SPAN: Context = NO_EXEMPLAR  # histograms outside a sampled step: no exemplar
# Step-time and data-wait values waiting for a collection, per histogram (steps can be short and
# share one attribute mapping per run: deeper than the default), then the caller records.
_BUFFER_CAP = 1 << 16


# --- instruments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Instruments:
    step_duration: DeferredHistogram
    data_wait: DeferredHistogram
    checkpoint: Histogram
    anomalies: Counter


def flush_histograms() -> None:
    """Record the buffered step-time and data-wait values into the SDK histograms now."""
    instruments = _instruments.get()
    _flush_into(instruments.step_duration, instruments.data_wait)


def _flush_into(step_duration: DeferredHistogram, data_wait: DeferredHistogram) -> None:
    step_duration.drain()
    data_wait.drain()


def _observer(field: str, flush: Callable[[], None]
              ) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        found: list[Observation] = []
        with errors.guard("training.observe"):
            runs = _runs_to_report()
            if state.STATE.configured:  # during shutdown the drain already ran (_drain_all)
                for run in runs:
                    run.drain(policy="export")
            flush()  # what the runs' drain just added (bound instruments: no re-resolving)
            for run in runs:
                value = getattr(run, field)
                if value is not None:
                    found.append(Observation(value, run.metric_attributes))
        return found

    return observe


@instrument_set("training")
def _instruments(m: Meter) -> _Instruments:
    buckets = semconv.TRAINING_DURATION_BUCKETS
    step_duration = deferred_histogram(
        m, semconv.TRAINING_STEP_DURATION, unit="s",
        description="Duration of one training step (device time on CUDA, host otherwise).",
        explicit_bucket_boundaries_advisory=buckets, capacity=_BUFFER_CAP,
    )
    data_wait = deferred_histogram(
        m, semconv.TRAINING_DATA_WAIT_DURATION, unit="s",
        description="Time spent waiting for the data loader before a step.",
        explicit_bucket_boundaries_advisory=buckets, capacity=_BUFFER_CAP,
    )
    flush = functools.partial(_flush_into, step_duration, data_wait)
    for name, field, unit, description in (
        (semconv.TRAINING_LOSS, "last_loss", "1", "Training loss of the latest step."),
        (semconv.TRAINING_GRAD_NORM, "last_grad_norm", "1", "Gradient norm of the latest step."),
        (semconv.TRAINING_LEARNING_RATE, "last_lr", "1", "Learning rate of the latest step."),
        (semconv.TRAINING_THROUGHPUT, "last_throughput", "{sample}/s",
         "Samples per second of the latest step (data wait included)."),
        (semconv.TRAINING_TOKEN_THROUGHPUT, "last_token_throughput", "{token}/s",
         "Tokens per second of the latest step (data wait included)."),
        (semconv.TRAINING_MFU, "last_mfu", "1",
         "Model FLOPs utilisation of the latest step on this device (dense peak)."),
        (semconv.TRAINING_ACHIEVED_FLOPS, "last_achieved_flops", "{flop}/s",
         "Model FLOP/s achieved by the latest step on this device."),
        (semconv.TRAINING_PEAK_FLOPS, "peak_flops", "{flop}/s",
         "Dense peak FLOP/s of this device for the run's precision (MFU's denominator)."),
    ):
        m.create_observable_gauge(name, [_observer(field, flush)], unit=unit,
                                  description=description)
    for name, field, unit, description in (
        (semconv.TRAINING_SAMPLES, "total_samples", "{sample}", "Samples trained on."),
        (semconv.TRAINING_TOKENS, "total_tokens", "{token}", "Tokens trained on."),
        (semconv.TRAINING_STEP_COUNT, "total_steps", "{step}", "Training steps completed."),
    ):
        m.create_observable_counter(name, [_observer(field, flush)], unit=unit,
                                    description=description)
    return _Instruments(
        step_duration=step_duration,
        data_wait=data_wait,
        checkpoint=m.create_histogram(
            semconv.TRAINING_CHECKPOINT_DURATION, unit="s",
            description="Duration of a checkpoint save.",
            explicit_bucket_boundaries_advisory=buckets,
        ),
        anomalies=m.create_counter(
            semconv.TRAINING_ANOMALIES, unit="{anomaly}",
            description="Training anomalies (non-finite loss or gradient norm, loss spikes, "
                        "data-loader stalls), by kind.",
        ),
    )


def _runs_to_report() -> list[TrainingRun]:
    with _registry_lock:
        return [*_finished, *_live]


def _register(run: TrainingRun) -> None:
    with _registry_lock:
        _live.append(run)
    with state.STATE.lock:
        if _drain_all not in state.STATE.shutdown_callbacks:
            state.on_shutdown(_drain_all)


def _retire(run: TrainingRun) -> None:
    with _registry_lock:
        if run in _live:
            _live.remove(run)
        if run not in _finished:
            _finished.append(run)


def _drain_all() -> None:
    """Read every value still pending (a shutdown callback, run before providers stop).

    ``shutdown()`` marks the library unconfigured before it runs its callbacks; the providers
    are still up, so they are used as they are instead of being configured anew.
    """
    with state.STATE.lock:
        was_configured = state.STATE.configured
        state.STATE.configured = True
    try:
        for run in _runs_to_report():
            with errors.guard("training.drain_all"):
                run.drain(policy="final")
        with errors.guard("training.flush"):
            flush_histograms()  # drain_all (registered by .deferred) runs after this, too
    finally:
        with state.STATE.lock:
            state.STATE.configured = was_configured


def _torch() -> Any:
    """torch if the application imported it; we never import it ourselves."""
    return sys.modules.get("torch")


# --- value capture and reading --------------------------------------------------------------------


def _read(value: Any) -> float | None:
    """A captured value as a float (the late read: called only off the hot path)."""
    if value is None or type(value) is float:
        return value  # type: ignore[no-any-return]
    item = getattr(value, "item", None)
    return float(item() if item is not None else value)


class _StreamingRobust:
    """Median and MAD of a running window, refreshed every few samples (cheap per sample)."""

    def __init__(self, window: int) -> None:
        self.values: deque[float] = deque(maxlen=window)
        self.median = math.nan
        self.mad = math.nan
        self._since = _REFRESH_EVERY

    def add(self, value: float) -> None:
        self.values.append(value)
        self._since += 1
        if self._since >= _REFRESH_EVERY:
            self._since = 0
            ordered = sorted(self.values)
            self.median = _median(ordered)
            median = self.median
            self.mad = _median(sorted([abs(v - median) for v in ordered]))


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    if n == 0:
        return math.nan
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def robust_z(value: float, median: float, mad: float) -> float:
    """Robust z-score 0.6745·(x - median) / MAD; MAD is floored so a flat loss is no spike."""
    floor = 1e-6 * max(abs(median), 1e-6)
    return 0.6745 * (value - median) / max(mad, floor)


# --- steps ----------------------------------------------------------------------------------------


class TrainStep(Scope):
    """One training step: the handle of ``with train_step() as step``.

    >>> with aiobs.train_step(batch_size=32) as step:  # doctest: +SKIP
    ...     step.record(loss=loss, grad_norm=norm, lr=sched.get_last_lr()[0])
    """

    hook_name = "training.step"
    # Defaults as class attributes: a step sets only what it changes (cheaper to create).
    loss: Any = None
    grad_norm: Any = None
    lr: Any = None
    values: dict[str, Any] | None = None
    deferred = False  # holds tensors to read later
    ready_event: Any = None  # CUDA: values and timing readable once this completed
    events: Any = None  # CUDA: (start, end) timing events from the run's ring
    data_wait_ns = 0
    first_batch = False
    batch_changed = False  # record(batch_size=) changed it after the span started
    host_ns = 0
    end_wall_ns = 0
    error: BaseException | None = None

    def __init__(self, span: Span, run: TrainingRun, index: int, sampled: bool,
                 batch_size: int | None, tokens: int | None, attach_context: bool) -> None:
        self.span = span
        self.ended = False
        self.start_ns = time.perf_counter_ns()
        self.run = run
        self.index = index
        self.sampled = sampled
        self.batch_size = batch_size
        self.tokens = tokens
        self._attach_context = attach_context

    def attach(self) -> object:
        if not self.sampled or not self._attach_context:
            return None
        return super().attach()

    def record(self, loss: Any = None, grad_norm: Any = None, lr: Any = None, *,
               batch_size: int | None = None, tokens: int | None = None, **values: Any) -> None:
        """Record this step's figures: floats, numpy scalars or tensors, read later (no sync).

        ``values`` are extra scalars put on the step span as ``aiobs.training.<name>``.
        """
        try:
            capture = self.run.capture
            if loss is not None:
                self.loss = capture(self, loss)
            if grad_norm is not None:
                self.grad_norm = capture(self, grad_norm)
            if lr is not None:
                self.lr = capture(self, lr)
            if batch_size is not None:
                self.batch_size = batch_size
                self.batch_changed = True
            if tokens is not None:
                self.tokens = tokens
            if values:
                extra = self.values if self.values is not None else {}
                for name, value in values.items():
                    extra[name] = capture(self, value)
                self.values = extra
        except Exception as exc:
            errors.report("training.record", exc)

    def on_result(self, result: Any) -> None:
        """Decorator form: the function's return value is the loss, or a dict with "loss"."""
        if isinstance(result, dict):
            self.record(loss=result.get("loss"), grad_norm=result.get("grad_norm"),
                        lr=result.get("lr", result.get("learning_rate")))
        elif result is not None and self.loss is None:
            self.record(loss=result)

    def end(self, error: BaseException | None = None) -> None:
        """End the step (for callbacks that cannot use ``with``)."""
        self.finish(error)

    def stop_clock(self) -> None:
        """Fix the step's end time now; values may still be recorded until ``end()``."""
        if not self.host_ns:
            self.host_ns = time.perf_counter_ns() - self.start_ns
            if self.sampled:
                self.end_wall_ns = time.time_ns()

    def finish(self, error: BaseException | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        if not self.host_ns:
            self.host_ns = time.perf_counter_ns() - self.start_ns
        self.error = error
        try:
            self.run.close_step(self)
        except Exception as exc:
            if self.sampled:
                self.span.end()
            errors.report("training.step.end", exc)


class _TrainStepOp(Operation):
    hook_name = "training.step"

    def __init__(self, batch_size: int | None, tokens: int | None, step: int | None,
                 run: TrainingRun | None) -> None:
        self._batch_size = batch_size
        self._tokens = tokens
        self._step = step
        self._run = run
        self._entered: list[tuple[TrainStep | None, object]] = []

    # A leaner ``with`` than Operation's (this is the per-step hot path); same guarantees.
    def __enter__(self) -> Any:
        if state.disabled:
            self._entered.append((None, None))
            return NOOP_SCOPE
        try:
            run = self._run or _CURRENT_RUN.get() or _implicit_run()
            scope = run.open_step(self._batch_size, self._tokens, self._step, True)
        except Exception as exc:
            errors.report("training.step.open", exc)
            self._entered.append((None, None))
            return NOOP_SCOPE
        token = None
        if scope.sampled:
            try:
                token = scope.attach()
            except Exception as exc:
                errors.report("training.step.attach", exc)
            publish_activity(scope)  # the GPU sampler's exemplars point at this step
        self._entered.append((scope, token))
        return scope

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        scope, token = self._entered.pop()
        if scope is None:
            return
        if token is not None:
            try:
                scope.detach(token)
            except Exception as error:
                errors.report("training.step.detach", error)
        scope.finish(exc)  # guarded inside

    def open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> Scope:
        run = self._run or _CURRENT_RUN.get() or _implicit_run()
        batch = self._batch_size
        if batch is None and args:
            batch = _infer_batch_size(args[0])
        return run.open_step(batch, self._tokens, self._step, attach_context=True)


def _infer_batch_size(arg: Any) -> int | None:
    """Leading dimension of a tensor/array argument (or of the first item of a tuple/dict)."""
    if isinstance(arg, (tuple, list)) and arg:
        arg = arg[0]
    elif isinstance(arg, dict) and arg:
        arg = next(iter(arg.values()))
    shape = getattr(arg, "shape", None)
    if shape is not None and len(shape) > 0:
        try:
            return int(shape[0])
        except (TypeError, ValueError):
            return None
    return None


def train_step(batch_size: int | None = None, *, tokens: int | None = None,
               step: int | None = None, run: TrainingRun | None = None) -> Any:
    """Time one training step and record its loss, gradient norm and learning rate.

    >>> with aiobs.train_step(batch_size=64) as step:  # doctest: +SKIP
    ...     step.record(loss=loss, grad_norm=norm)
    >>> @aiobs.train_step()  # the return value (loss, or a dict with "loss") is recorded
    ... def step_fn(batch): ...

    Inside ``training_run`` the step belongs to that run; otherwise to a default run.
    ``tokens`` counts the step's tokens (else ``batch_size * tokens_per_sample``); ``step``
    overrides the step index (e.g. when resuming).
    """
    return _TrainStepOp(batch_size, tokens, step, run)


# --- runs -----------------------------------------------------------------------------------------


class _EventRing:
    """A fixed ring of CUDA timing-event pairs, reused in turn (never allocated per step)."""

    def __init__(self, torch: Any, size: int) -> None:
        event = torch.cuda.Event
        self._pairs = [(event(enable_timing=True), event(enable_timing=True))
                       for _ in range(size)]
        self._next = 0

    def take(self) -> tuple[Any, Any]:
        pair = self._pairs[self._next]
        self._next = (self._next + 1) % len(self._pairs)
        return pair


class _NullOp:
    """A context manager and decorator that does nothing (for the disabled run handle)."""

    def __enter__(self) -> _NullOp:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __call__(self, fn: Any) -> Any:
        return fn


class _NoopRun:
    """The run handle when the library is disabled: the loader passes through untouched."""

    def watch_loader(self, loader: Iterable[Any]) -> Iterable[Any]:
        return loader

    def checkpoint(self, path: str | None = None) -> _NullOp:
        return _NullOp()

    def __getattr__(self, name: str) -> Any:
        return getattr(NOOP_SCOPE, name)

    def __bool__(self) -> bool:
        return False


_NOOP_RUN = _NoopRun()


class TrainingRun(Scope):
    """A training run: the handle of ``with training_run(...) as run``.

    >>> with aiobs.training_run(name="finetune", model=model) as run:  # doctest: +SKIP
    ...     for batch in run.watch_loader(loader): ...
    ...     with run.checkpoint("ckpt.pt"):
    ...         torch.save(model.state_dict(), "ckpt.pt")
    """

    hook_name = "training.run"

    def __init__(self, span: Span, name: str, options: _RunOptions, implicit: bool = False) -> None:
        super().__init__(span)
        self.name = name
        self.implicit = implicit
        self.metric_attributes = {semconv.TRAINING_RUN_NAME: name}
        self._context = trace.set_span_in_context(span)
        self._lock = threading.Lock()
        self._add_lock = threading.Lock()
        self._generation = state.STATE.generation
        self._pending: deque[TrainStep] = deque()
        self._next_index = 0
        self._epoch = -1
        self._wait_ns = 0
        self._wait_first = False
        self._optimizer = options.optimizer
        self._span_every = options.step_span_every
        self._stall_threshold_s = options.stall_threshold_s
        self._spike_threshold = options.spike_threshold
        self._tokens_per_sample = options.tokens_per_sample
        self._flops_per_sample = options.flops_per_sample
        self._flops_per_token = options.flops_per_token
        self.peak_flops = options.peak_flops
        self._losses = _StreamingRobust(_SPIKE_WINDOW)
        self._durations: deque[float] = deque(maxlen=64)
        self._stall_floor = (options.stall_threshold_s if options.stall_threshold_s is not None
                             else _STALL_FLOOR_S)
        self._anomaly_seen: dict[str, tuple[int, int]] = {}  # kind -> (last logged step, muted)
        self._cuda = options.cuda
        self._ring: _EventRing | None = None
        # latest figures and totals, read by the observable instruments
        self.last_loss: float | None = None
        self.last_grad_norm: float | None = None
        self.last_lr: float | None = None
        self.last_throughput: float | None = None
        self.last_token_throughput: float | None = None
        self.last_mfu: float | None = None
        self.last_achieved_flops: float | None = None
        self.total_samples: int | None = None
        self.total_tokens: int | None = None
        self.total_steps = 0
        self.anomaly_counts: dict[str, int] = {}
        self.finished = False

    # -- context ------------------------------------------------------------------------------
    def attach(self) -> object:
        return (super().attach(), _CURRENT_RUN.set(self))

    def detach(self, token: object) -> None:
        otel_token, run_token = cast(
            "tuple[object, contextvars.Token[TrainingRun | None]]", token
        )
        _CURRENT_RUN.reset(run_token)
        super().detach(otel_token)

    # -- the data loader ----------------------------------------------------------------------
    def watch_loader(self, loader: Iterable[Any]) -> Iterator[Any]:
        """Iterate ``loader``, timing each wait for the next batch (data-loader wait)."""
        self._epoch += 1
        return self._watch(iter(loader))

    def _watch(self, iterator: Iterator[Any]) -> Iterator[Any]:
        first = True
        clock = time.perf_counter_ns
        while True:
            started = clock()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            self.note_data_wait(clock() - started, first)
            first = False
            yield batch

    def note_data_wait(self, wait_ns: int, first_batch: bool = False) -> None:
        """Count ``wait_ns`` of data-loader wait towards the next step."""
        try:
            self._wait_ns += wait_ns
            self._wait_first = self._wait_first or first_batch
            _instruments.get().data_wait.record(wait_ns / 1e9, self.metric_attributes,
                                                _NO_SPAN)
        except Exception as exc:
            errors.report("training.data_wait", exc)

    # -- checkpoints --------------------------------------------------------------------------
    def checkpoint(self, path: str | None = None) -> _CheckpointOp:
        """Time a checkpoint save: ``with run.checkpoint("ckpt.pt"): torch.save(...)``."""
        return _CheckpointOp(self, path)

    # -- steps --------------------------------------------------------------------------------
    def start_step(self, batch_size: int | None = None, tokens: int | None = None,
                   step: int | None = None) -> TrainStep | Any:
        """Open a step without making it the current context (for framework callbacks).

        End it with ``step.end()``.
        """
        if state.disabled:
            return NOOP_SCOPE
        try:
            return self.open_step(batch_size, tokens, step, attach_context=False)
        except Exception as exc:
            errors.report("training.step.open", exc)
            return NOOP_SCOPE

    def open_step(self, batch_size: int | None, tokens: int | None, step: int | None,
                  attach_context: bool) -> TrainStep:
        if state.STATE.generation != self._generation:  # new providers: build instruments
            self._generation = state.STATE.generation
            _instruments.get()
        index = self._next_index if step is None else step
        self._next_index = index + 1
        every = self._span_every
        sampled = step_is_sampled(index, every)
        if sampled:
            attributes: dict[str, Any] = {semconv.TRAINING_STEP: index}
            if batch_size is not None:
                attributes[semconv.TRAINING_BATCH_SIZE] = batch_size
            if self._epoch >= 0:
                attributes[semconv.TRAINING_EPOCH] = self._epoch
            parent = None if attach_context else self._context
            span = tracer().start_span(semconv.TRAINING_STEP_SPAN, context=parent,
                                       kind=SpanKind.INTERNAL, attributes=attributes)
        else:
            span = INVALID_SPAN
        handle = TrainStep(span, self, index, sampled, batch_size, tokens, attach_context)
        handle.data_wait_ns = self._wait_ns
        handle.first_batch = self._wait_first
        self._wait_ns = 0
        self._wait_first = False
        if self._cuda:
            ring = self._ring
            if ring is None:
                ring = self._ring = _EventRing(_torch(), _RING_SIZE)
            handle.events = pair = ring.take()
            pair[0].record()
        return handle

    def capture(self, step: TrainStep, value: Any) -> Any:
        """Keep ``value`` for a late read: floats as they are, tensors by reference."""
        cls = type(value)
        if cls is float:
            return value
        if cls is int or cls is bool:
            return float(value)
        if getattr(value, "is_cuda", False):
            step.deferred = True
            if step.ready_event is None:
                step.ready_event = True  # an event is recorded when the step closes
            return value.detach().to("cpu", non_blocking=True)
        if hasattr(value, "detach") and hasattr(value, "requires_grad"):  # a torch tensor
            step.deferred = True
            return value.detach() if value.requires_grad else value
        if cls.__module__ == "numpy":
            return float(value)
        if hasattr(value, "numpy") or hasattr(value, "__array__"):  # TF / JAX arrays
            step.deferred = True
            return value
        return float(value)

    def add_step(self, duration_s: float, *, loss: Any = None, grad_norm: Any = None,
                 lr: Any = None, batch_size: int | None = None, tokens: int | None = None,
                 data_wait_s: float = 0.0, end_time_ns: int | None = None,
                 step: int | None = None) -> None:
        """Report a step timed elsewhere (framework callbacks); thread-safe.

        >>> run.add_step(0.012, loss=0.43, batch_size=32)  # doctest: +SKIP
        """
        if state.disabled:
            return
        try:
            with self._add_lock:
                end_wall = end_time_ns or time.time_ns()
                duration_ns = max(0, int(duration_s * 1e9))
                index = self._next_index if step is None else step
                self._next_index = max(self._next_index, index + 1)
                every = self._span_every
                sampled = step_is_sampled(index, every)
                span: Span = INVALID_SPAN
                if sampled:
                    attributes: dict[str, Any] = {semconv.TRAINING_STEP: index}
                    if batch_size is not None:
                        attributes[semconv.TRAINING_BATCH_SIZE] = batch_size
                    if self._epoch >= 0:
                        attributes[semconv.TRAINING_EPOCH] = self._epoch
                    span = tracer().start_span(
                        semconv.TRAINING_STEP_SPAN, context=self._context,
                        kind=SpanKind.INTERNAL, attributes=attributes,
                        start_time=end_wall - duration_ns,
                    )
                handle = TrainStep(span, self, index, sampled, batch_size, tokens, False)
                handle.record(loss=loss, grad_norm=grad_norm, lr=lr)
                handle.data_wait_ns = max(0, int(data_wait_s * 1e9))
                handle.host_ns = duration_ns or 1
                handle.end_wall_ns = end_wall
                handle.ended = True
                self.close_step(handle)
        except Exception as exc:
            errors.report("training.add_step", exc)

    def set_epoch(self, epoch: int) -> None:
        """The epoch the following steps belong to (callbacks; ``watch_loader`` counts itself)."""
        self._epoch = epoch

    def close_step(self, step: TrainStep) -> None:
        if step.sampled and not step.end_wall_ns:
            step.end_wall_ns = time.time_ns()
        if step.lr is None and self._optimizer is not None:
            step.lr = self.capture(step, self._optimizer.param_groups[0]["lr"])
        if step.events is not None:
            step.events[1].record()
            step.ready_event = step.events[1]
        elif step.ready_event is True:  # CUDA tensors in a run that was not timing on CUDA
            torch = _torch()
            event = torch.cuda.Event()
            event.record()
            step.ready_event = event
            self._cuda = True  # time the following steps with CUDA events
        pending = self._pending
        if not pending and not step.deferred and step.ready_event is None:
            with self._lock:
                self._complete(step)
            return
        pending.append(step)
        if len(pending) > 1 or step.ready_event is not None:
            self.drain(policy="step")

    def drain(self, policy: str = "step") -> None:
        """Read pending steps. ``step``: those ready without waiting, then the oldest half once
        too many are waiting; ``export``: those readable without waiting; ``final``: all."""
        pending = self._pending
        if not pending:
            return
        blocking = policy != "export"
        if not self._lock.acquire(blocking=blocking):
            return
        try:
            while pending:
                head = pending[0]
                event = head.ready_event
                if event is not None:
                    if policy != "final" and not event.query():
                        break
                elif head.deferred and policy == "step":
                    break
                pending.popleft()
                self._complete(head)
            if policy == "step" and len(pending) >= _LAG_LIMIT:
                while len(pending) > _LAG_LIMIT // 2:
                    self._complete(pending.popleft())
        finally:
            self._lock.release()

    def _complete(self, step: TrainStep) -> None:
        """The late half of a step: read its values, record metrics, detect anomalies, end span."""
        try:
            self._complete_unguarded(step)
        except Exception as exc:
            errors.report("training.step.complete", exc)
        finally:
            if step.sampled:
                span = step.span
                error = step.error
                if error is not None and span.is_recording():
                    span.set_attribute(semconv.ERROR_TYPE, error_type(error))
                    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.end(end_time=step.end_wall_ns or None)

    def _complete_unguarded(self, step: TrainStep) -> None:
        event = step.ready_event
        duration = step.host_ns / 1e9
        if event is not None:
            if not event.query():
                event.synchronize()  # only this event; reached when far behind, or at run end
            if step.events is not None:
                start, end = step.events
                if not start.query():  # done whenever end is, unless the streams differ
                    start.synchronize()
                duration = start.elapsed_time(end) / 1000.0
        loss, grad_norm, lr = step.loss, step.grad_norm, step.lr
        if step.deferred:
            loss, grad_norm, lr = _read(loss), _read(grad_norm), _read(lr)
        recording = step.sampled and step.span.is_recording()
        # the sampled step span is the histogram's exemplar; no exemplar lookup otherwise
        if recording:
            _instruments.get().step_duration.record(duration, self.metric_attributes,
                                                    span=step.span)
        else:
            _instruments.get().step_duration.record(duration, self.metric_attributes, _NO_SPAN)
        wait = step.data_wait_ns / 1e9
        wall = duration + wait
        self.total_steps += 1
        batch = step.batch_size
        tokens = step.tokens
        if tokens is None and batch is not None and self._tokens_per_sample:
            tokens = batch * self._tokens_per_sample
        if batch is not None:
            self.total_samples = (self.total_samples or 0) + batch
            if wall > 0:
                self.last_throughput = batch / wall
        if tokens is not None:
            self.total_tokens = (self.total_tokens or 0) + tokens
            if wall > 0:
                self.last_token_throughput = tokens / wall
        if self._flops_per_sample or self._flops_per_token:
            step_flops = None
            if tokens is not None and self._flops_per_token:
                step_flops = tokens * self._flops_per_token
            elif batch is not None and self._flops_per_sample:
                step_flops = batch * self._flops_per_sample
            if step_flops is not None and wall > 0:
                self.last_achieved_flops = step_flops / wall
                if self.peak_flops:
                    self.last_mfu = flops.mfu(step_flops, wall, self.peak_flops)
        if lr is not None:
            self.last_lr = lr
        isfinite = math.isfinite
        if grad_norm is not None:
            if isfinite(grad_norm):
                self.last_grad_norm = grad_norm
            else:
                kind = (semconv.ANOMALY_GRAD_NORM_NAN if math.isnan(grad_norm)
                        else semconv.ANOMALY_GRAD_NORM_INF)
                self._anomaly(kind, step, grad_norm)
        if loss is not None:
            if isfinite(loss):
                self.last_loss = loss
                self._check_spike(step, loss)
            else:
                kind = semconv.ANOMALY_LOSS_NAN if math.isnan(loss) else semconv.ANOMALY_LOSS_INF
                self._anomaly(kind, step, loss)
        if wait >= self._stall_floor and not step.first_batch:
            self._check_stall(step, wait)
        self._durations.append(duration)
        if recording:
            final: dict[str, Any] = {semconv.TRAINING_STEP_DURATION_ATTR: duration,
                                     semconv.TRAINING_DATA_WAIT_ATTR: wait}
            for key, value in ((semconv.TRAINING_LOSS_ATTR, loss),
                               (semconv.TRAINING_GRAD_NORM_ATTR, grad_norm),
                               (semconv.TRAINING_LR_ATTR, lr),
                               (semconv.TRAINING_TOKENS_ATTR, tokens)):
                if value is not None:
                    final[key] = value
            if step.batch_changed and batch is not None:
                final[semconv.TRAINING_BATCH_SIZE] = batch
            if step.values:
                prefix = semconv.PREFIX + ".training."
                for name, value in step.values.items():
                    read = _read(value)
                    if read is not None:
                        final[prefix + name] = read
            step.span.set_attributes(final)

    # -- anomalies ----------------------------------------------------------------------------
    def _check_spike(self, step: TrainStep, loss: float) -> None:
        window = self._losses
        if len(window.values) >= _SPIKE_MIN_HISTORY:
            z = robust_z(loss, window.median, window.mad)
            if z > self._spike_threshold:
                self._anomaly(semconv.ANOMALY_LOSS_SPIKE, step, loss, score=z,
                              threshold=self._spike_threshold)
        window.add(loss)

    def _check_stall(self, step: TrainStep, wait: float) -> None:
        threshold = self._stall_threshold_s
        if threshold is None:
            threshold = _STALL_FLOOR_S
            if len(self._durations) >= 8:
                threshold = max(threshold, _STALL_FACTOR * _median(sorted(self._durations)))
        if wait >= threshold:
            self._anomaly(semconv.ANOMALY_DATA_STALL, step, wait, threshold=threshold)

    def _anomaly(self, kind: str, step: TrainStep, value: float, score: float | None = None,
                 threshold: float | None = None) -> None:
        self.anomaly_counts[kind] = self.anomaly_counts.get(kind, 0) + 1
        _instruments.get().anomalies.add(1, {
            semconv.TRAINING_ANOMALY_KIND: kind, semconv.TRAINING_ANOMALY_KIND_SHORT: kind,
            **self.metric_attributes,
        })
        attributes: dict[str, Any] = {
            semconv.TRAINING_ANOMALY_KIND: kind,
            semconv.TRAINING_STEP: step.index,
            semconv.TRAINING_ANOMALY_VALUE: value,
            semconv.TRAINING_RUN_NAME: self.name,
        }
        if score is not None:
            attributes[semconv.TRAINING_ANOMALY_SCORE] = score
        if threshold is not None:
            attributes[semconv.TRAINING_ANOMALY_THRESHOLD] = threshold
        timestamp = step.end_wall_ns or time.time_ns()
        step_span = step.span if step.sampled and step.span.is_recording() else None
        if step_span is not None:
            step_span.add_event(semconv.TRAINING_ANOMALY_EVENT, attributes, timestamp=timestamp)
        last, muted = self._anomaly_seen.get(kind, (-(10**18), 0))
        if step.index - last < _ANOMALY_LOG_EVERY and step.index >= last:
            self._anomaly_seen[kind] = (last, muted + 1)
            return
        self._anomaly_seen[kind] = (step.index, 0)
        if muted:
            attributes[semconv.TRAINING_ANOMALY_SUPPRESSED] = muted
        target = step_span if step_span is not None else self.span
        if step_span is None and self.span.is_recording():
            self.span.add_event(semconv.TRAINING_ANOMALY_EVENT, attributes, timestamp=timestamp)
        from opentelemetry._logs import SeverityNumber

        event_logger().emit(
            event_name=semconv.TRAINING_ANOMALY_EVENT,
            body=f"training anomaly: {kind} at step {step.index} (value {value!r})",
            attributes=attributes,
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            timestamp=timestamp,
            context=trace.set_span_in_context(target),
        )

    # -- end ------------------------------------------------------------------------------------
    def on_end(self, error: BaseException | None) -> None:
        self.drain(policy="final")
        self.finished = True
        _retire(self)
        span = self.span
        if span.is_recording():
            span.set_attribute(semconv.TRAINING_STEPS, self.total_steps)
            if self.total_samples:
                span.set_attribute(semconv.TRAINING_SAMPLES, self.total_samples)
            if self.total_tokens:
                span.set_attribute(semconv.TRAINING_TOKENS, self.total_tokens)
            if self.last_loss is not None:
                span.set_attribute(semconv.TRAINING_LOSS_ATTR, self.last_loss)

    def end(self, error: BaseException | None = None) -> None:
        """End the run (for callbacks that cannot use ``with``)."""
        self.finish(error)


@dataclass(frozen=True)
class _RunOptions:
    step_span_every: int | None
    tokens_per_sample: int | None
    flops_per_sample: float | None
    flops_per_token: float | None
    peak_flops: float | None
    optimizer: Any
    stall_threshold_s: float | None
    spike_threshold: float
    cuda: bool


class _CheckpointOp(Operation):
    hook_name = "training.checkpoint"

    def __init__(self, run: TrainingRun, path: str | None) -> None:
        self._run = run
        self._path = path

    def open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> Scope:
        attributes: dict[str, Any] = {semconv.TRAINING_RUN_NAME: self._run.name}
        if self._path is not None:
            attributes[semconv.TRAINING_CHECKPOINT_PATH] = str(self._path)
        span = tracer().start_span(semconv.TRAINING_CHECKPOINT_SPAN, kind=SpanKind.INTERNAL,
                                   attributes=attributes)
        return _CheckpointScope(span, self._run.metric_attributes)


class _CheckpointScope(Scope):
    hook_name = "training.checkpoint"

    def __init__(self, span: Span, attributes: dict[str, str]) -> None:
        super().__init__(span)
        self._attributes = attributes

    def on_end(self, error: BaseException | None) -> None:
        _instruments.get().checkpoint.record(self.elapsed_s(), self._attributes)


# --- building a run -------------------------------------------------------------------------------


@dataclass
class _ModelFacts:
    name: str | None = None
    parameters: int | None = None
    non_embedding: int | None = None
    device: str | None = None
    device_index: int | None = None
    dtype: str | None = None


def _model_facts(model: Any) -> _ModelFacts:
    facts = _ModelFacts()
    if model is None:
        return facts
    facts.name = type(model).__name__
    torch = _torch()
    if torch is not None and isinstance(model, torch.nn.Module):
        total = embedding = 0
        first = None
        for parameter in model.parameters():
            first = parameter if first is None else first
            total += parameter.numel()
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding):
                embedding += module.weight.numel()
        facts.parameters = total
        facts.non_embedding = total - embedding
        if first is not None:
            facts.device = str(first.device)
            facts.device_index = first.device.index if first.device.type == "cuda" else None
            facts.dtype = str(first.dtype).removeprefix("torch.")
        return facts
    count = getattr(model, "count_params", None)  # Keras
    if callable(count):
        facts.parameters = facts.non_embedding = int(count())
    return facts


def _cuda_device(facts: _ModelFacts) -> int | None:
    """The CUDA device this rank trains on: the model's, else the current one if CUDA is live."""
    if facts.device_index is not None:
        return facts.device_index
    torch = _torch()
    if facts.device is not None or torch is None:
        return None
    try:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            return int(torch.cuda.current_device())
    except Exception:
        return None
    return None


def _precision(facts: _ModelFacts, explicit: str | None) -> str | None:
    if explicit is not None:
        return flops.normalize_precision(explicit)
    dtype = flops.normalize_precision(facts.dtype)
    if dtype == "fp32":
        torch = _torch()
        if torch is not None and torch.get_float32_matmul_precision() != "highest":
            return "tf32"
    return dtype


def _distributed_attributes() -> dict[str, Any]:
    """torch.distributed's view of this process, when a process group is initialised."""
    attributes: dict[str, Any] = {}
    torch = _torch()
    dist = getattr(torch, "distributed", None) if torch is not None else None
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return attributes
    from ..config import distributed_identity

    attributes[semconv.RESOURCE_RANK] = int(dist.get_rank())
    attributes[semconv.RESOURCE_WORLD_SIZE] = int(dist.get_world_size())
    attributes[semconv.TRAINING_DISTRIBUTED_BACKEND] = str(dist.get_backend())
    local = distributed_identity().local_rank
    if local is not None:
        attributes[semconv.RESOURCE_LOCAL_RANK] = local
    return attributes


def _device_attributes(index: int) -> dict[str, Any]:
    torch = _torch()
    attributes: dict[str, Any] = {semconv.TRAINING_DEVICE: f"cuda:{index}"}
    properties = torch.cuda.get_device_properties(index)
    attributes[semconv.TRAINING_DEVICE_NAME] = str(properties.name)
    uuid = getattr(properties, "uuid", None)
    if uuid is not None:
        text = str(uuid)
        if not text.startswith("GPU-"):
            text = f"GPU-{text}"
        attributes[semconv.TRAINING_DEVICE_UUID] = text
    return attributes


class _TrainingRunOp(Operation):
    hook_name = "training.run"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self._name = name
        self._options = options

    def __enter__(self) -> Any:
        handle = super().__enter__()
        return _NOOP_RUN if handle is NOOP_SCOPE else handle

    def open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> Scope:
        return _build_run(self._name, **self._options)


def _build_run(name: str, *, model: Any = None, tokens_per_sample: int | None = None,
               flops_per_sample: float | None = None, parameters: int | None = None,
               optimizer: Any = None, precision: str | None = None,
               peak_flops: float | None = None, step_span_every: int | None = None,
               stall_threshold_s: float | None = None, spike_threshold: float = 6.0,
               framework: str | None = None, attributes: dict[str, Any] | None = None,
               parent: Any = None) -> TrainingRun:
    settings = state.current_settings()
    facts = _model_facts(model)
    if parameters is not None:
        facts.parameters = facts.non_embedding = parameters
    device_index = _cuda_device(facts)
    run_precision = _precision(facts, precision)
    peak = peak_flops or settings.training_peak_flops
    span_attributes: dict[str, Any] = {semconv.TRAINING_RUN_NAME: name}
    if device_index is not None:
        with errors.guard("training.device"):
            span_attributes.update(_device_attributes(device_index))
            if peak is None:
                peak = flops.peak_flops(span_attributes[semconv.TRAINING_DEVICE_NAME],
                                        run_precision)
    elif facts.device is not None:
        span_attributes[semconv.TRAINING_DEVICE] = facts.device
    with errors.guard("training.distributed"):
        span_attributes.update(_distributed_attributes())
    per_token = None
    per_sample = flops_per_sample
    if per_sample is not None:
        per_token = per_sample / tokens_per_sample if tokens_per_sample else None
    elif facts.parameters is not None:
        per_sample = flops.training_flops_per_sample(facts.parameters, None)
        per_token = flops.training_flops_per_sample(facts.non_embedding or facts.parameters, None)
        if tokens_per_sample:
            per_sample = per_token * tokens_per_sample
    for key, value in (
        (semconv.TRAINING_FRAMEWORK, framework or ("torch" if facts.device else None)),
        (semconv.TRAINING_MODEL_NAME, facts.name),
        (semconv.TRAINING_MODEL_PARAMETERS, facts.parameters),
        (semconv.TRAINING_TOKENS_PER_SAMPLE, tokens_per_sample),
        (semconv.TRAINING_FLOPS_PER_SAMPLE, per_sample),
        (semconv.TRAINING_PRECISION, run_precision),
        (semconv.TRAINING_PEAK_FLOPS_ATTR, peak),
        (semconv.TRAINING_TIMING, "cuda_event" if device_index is not None else "host"),
    ):
        if value is not None:
            span_attributes[key] = value
    if attributes:
        span_attributes.update(attributes)
    span = tracer().start_span(f"{semconv.TRAINING_RUN_SPAN} {name}", context=parent,
                               kind=SpanKind.INTERNAL, attributes=span_attributes)
    options = _RunOptions(
        step_span_every=step_span_every or settings.step_span_every,
        tokens_per_sample=tokens_per_sample, flops_per_sample=per_sample,
        flops_per_token=per_token, peak_flops=peak, optimizer=optimizer,
        stall_threshold_s=stall_threshold_s, spike_threshold=spike_threshold,
        cuda=device_index is not None,
    )
    run = TrainingRun(span, name, options)
    _instruments.get()  # the observable instruments exist before the first collection
    _register(run)
    return run


def training_run(name: str, model: Any = None, tokens_per_sample: int | None = None, *,
                 flops_per_sample: float | None = None, parameters: int | None = None,
                 optimizer: Any = None, precision: str | None = None,
                 peak_flops: float | None = None, step_span_every: int | None = None,
                 stall_threshold_s: float | None = None, spike_threshold: float = 6.0,
                 framework: str | None = None,
                 attributes: dict[str, Any] | None = None) -> Any:
    """A training run: the run span, and the run every ``train_step`` inside it belongs to.

    >>> with aiobs.training_run(name="resnet-finetune", model=model) as run:  # doctest: +SKIP
    ...     for batch in run.watch_loader(loader):
    ...         with aiobs.train_step(batch_size=len(batch)) as step: ...

    Also a decorator (each call is one run). ``model`` (a torch module or Keras model) gives the
    parameter count, device and dtype; with ``tokens_per_sample`` (or ``flops_per_sample``, or
    ``parameters``) and a known accelerator (A100/H100/H200, or ``peak_flops=`` /
    ``AIOBS_TRAINING_PEAK_FLOPS``) each step reports MFU. ``optimizer`` supplies the learning
    rate when ``record()`` is not given one. ``step_span_every`` overrides
    ``AIOBS_TRAINING_STEP_SPAN_EVERY``; ``stall_threshold_s`` fixes the data-stall threshold
    (default: the larger of 0.1 s and 4x the median step); ``spike_threshold`` is the robust
    z-score above which a loss is a spike.
    """
    if step_span_every is not None and (isinstance(step_span_every, bool)
                                        or not isinstance(step_span_every, int)
                                        or step_span_every <= 0):
        raise ValueError(f"step_span_every must be a positive integer, got {step_span_every!r}")
    options = {
        "model": model, "tokens_per_sample": tokens_per_sample,
        "flops_per_sample": flops_per_sample, "parameters": parameters,
        "optimizer": optimizer, "precision": precision, "peak_flops": peak_flops,
        "step_span_every": step_span_every, "stall_threshold_s": stall_threshold_s,
        "spike_threshold": spike_threshold, "framework": framework, "attributes": attributes,
    }
    return _TrainingRunOp(name, options)


def start_run(name: str, **options: Any) -> TrainingRun | Any:
    """Open a run without making it current (for framework callbacks); end it with ``.end()``."""
    if state.disabled:
        return _NOOP_RUN
    try:
        return _build_run(name, **options)
    except Exception as exc:
        errors.report("training.run.open", exc)
        return _NOOP_RUN


def _implicit_run() -> TrainingRun:
    """The run of steps taken outside any ``training_run`` (no run span of its own)."""
    if _implicit and not _implicit[0].finished:
        return _implicit[0]
    settings = state.current_settings()
    options = _RunOptions(
        step_span_every=settings.step_span_every, tokens_per_sample=None, flops_per_sample=None,
        flops_per_token=None, peak_flops=settings.training_peak_flops, optimizer=None,
        stall_threshold_s=None, spike_threshold=6.0, cuda=False,
    )
    run = TrainingRun(INVALID_SPAN, "default", options, implicit=True)
    _instruments.get()
    _register(run)
    _implicit[:] = [run]
    return run


def reset_for_tests() -> None:
    """Forget every run (tests only): pending values are dropped, spans left as they are."""
    with _registry_lock:
        _live.clear()
        _finished.clear()
    deferred.discard_pending()
    _implicit.clear()
