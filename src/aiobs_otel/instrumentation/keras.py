"""A Keras 3 (or tf.keras) callback that reports ``model.fit`` as a training run.

>>> from aiobs_otel.instrumentation.keras import TelemetryCallback  # doctest: +SKIP
>>> model.fit(x, y, batch_size=32, callbacks=[TelemetryCallback(name="mnist", batch_size=32)])

Importing this module imports nothing of Keras; the class is built on first access.

Keras stops dispatching batch-end callbacks on its thread pool as soon as one callback
overrides ``on_train_batch_end``, unless that callback says ``async_safe = True``
(``CallbackList._configure_async_dispatch``). This callback does, and its batch-end hook is
thread-safe, so on the torch and JAX backends Keras keeps converting the logs off the training
thread. (The TensorFlow backend never dispatches asynchronously: Keras marks it not thread-safe.)
The step time is the host time from the batch-begin to the batch-end hook. ``logs["loss"]`` in
Keras 3 is the epoch's running mean, so a NaN shows up as a non-finite loss from that batch on.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from .._core import errors

if TYPE_CHECKING:  # pragma: no cover
    TelemetryCallback: Any

__all__ = ["TelemetryCallback"]

_built: list[type] = []


def _callback_base() -> type:
    try:
        import keras

        return keras.callbacks.Callback  # type: ignore[no-any-return]
    except ImportError:
        try:
            from tensorflow import keras as tf_keras  # type: ignore[import-not-found]

            return tf_keras.callbacks.Callback  # type: ignore[no-any-return]
        except ImportError:
            raise ImportError(
                "aiobs_otel.instrumentation.keras needs Keras: pip install keras "
                "(or tensorflow)"
            ) from None


def _build() -> type:
    from .._core.training import start_run

    base: Any = _callback_base()

    class TelemetryCallback(base):  # type: ignore[misc,valid-type]
        """Reports ``model.fit`` as an aiobs training run: run span, steps, loss, anomalies.

        >>> model.fit(x, y, callbacks=[TelemetryCallback(name="mnist", batch_size=32)])
        ... # doctest: +SKIP

        ``run_options`` go to ``training_run`` (``tokens_per_sample``, ``peak_flops``, ...).
        """

        async_safe = True  # on_train_batch_end is thread-safe: keep Keras's async dispatch

        def __init__(self, name: str = "keras", batch_size: int | None = None,
                     **run_options: Any) -> None:
            super().__init__()
            self._name = name
            self._batch_size = batch_size
            self._run_options = run_options
            self._run: Any = None
            self._lock = threading.Lock()
            self._begins: dict[int, tuple[int, int]] = {}
            self._last_begin: tuple[int, int, int] | None = None  # batch, perf ns, wait ns
            self._last_end_ns = 0

        def on_train_begin(self, logs: Any = None) -> None:
            with errors.guard("keras.train_begin"):
                self._run = start_run(self._name, model=self.model, framework="keras",
                                      **self._run_options)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if self._run is not None:
                with errors.guard("keras.epoch_begin"):
                    self._run.set_epoch(int(epoch))

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            now = time.perf_counter_ns()
            last_end = self._last_end_ns
            wait = now - last_end if last_end and self._last_begin is not None \
                and last_end > self._last_begin[1] else 0
            with self._lock:
                self._begins[batch] = (now, wait)
                self._last_begin = (batch, now, wait)

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            now = time.perf_counter_ns()
            wall = time.time_ns()
            run = self._run
            if run is None:
                return
            with errors.guard("keras.train_batch_end"):
                with self._lock:
                    begin = self._begins.pop(batch, None)
                    first_batch = batch
                    if begin is None and self._last_begin is not None:  # steps_per_execution > 1
                        first_batch, begin_ns, wait_ns = self._last_begin
                        begin = (begin_ns, wait_ns)
                        self._begins.pop(first_batch, None)
                    self._last_end_ns = now
                if begin is None:
                    return
                batches = max(1, batch - first_batch + 1)
                size = self._batch_size * batches if self._batch_size else None
                loss = (logs or {}).get("loss")
                run.add_step((now - begin[0]) / 1e9, loss=loss, batch_size=size,
                             data_wait_s=begin[1] / 1e9, end_time_ns=wall,
                             lr=self._learning_rate())

        def _learning_rate(self) -> Any:
            optimizer = getattr(self.model, "optimizer", None)
            if optimizer is None:
                return None
            return getattr(optimizer, "learning_rate", None)

        def on_train_end(self, logs: Any = None) -> None:
            run, self._run = self._run, None
            if run is not None:
                with errors.guard("keras.train_end"):
                    run.end()

    return TelemetryCallback


def __getattr__(name: str) -> Any:
    if name == "TelemetryCallback":
        if not _built:
            _built.append(_build())
        return _built[0]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
