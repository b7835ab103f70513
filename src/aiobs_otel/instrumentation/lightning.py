"""A PyTorch Lightning callback that reports ``Trainer.fit`` as a training run.

>>> from aiobs_otel.instrumentation.lightning import TelemetryCallback  # doctest: +SKIP
>>> trainer = Trainer(callbacks=[TelemetryCallback(name="lit-mnist")])

Works with ``lightning`` (``lightning.pytorch``) and ``pytorch_lightning``: the class subclasses
the ``Callback`` of whichever is already imported (else ``lightning.pytorch``, else
``pytorch_lightning``). Importing this module imports neither. The loss is the step output's
``"loss"`` (read late, no sync); the learning rate comes from the first optimizer; the data
wait is the host time between one batch's end and the next batch's start.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from .._core import errors

if TYPE_CHECKING:  # pragma: no cover
    TelemetryCallback: Any

__all__ = ["TelemetryCallback"]

_built: dict[str, type] = {}


def _callback_base() -> tuple[str, type]:
    for package in ("lightning.pytorch", "pytorch_lightning"):
        module = sys.modules.get(package)
        if module is not None:
            return package, module.Callback  # type: ignore[no-any-return]
    try:
        import lightning.pytorch as pl  # type: ignore[import-not-found]

        return "lightning.pytorch", pl.Callback  # type: ignore[no-any-return]
    except ImportError:
        try:
            import pytorch_lightning as pl_legacy

            return "pytorch_lightning", pl_legacy.Callback  # type: ignore[no-any-return]
        except ImportError:
            raise ImportError(
                "aiobs_otel.instrumentation.lightning needs PyTorch Lightning: "
                "pip install lightning (or pytorch-lightning)"
            ) from None


def _batch_size(batch: Any) -> int | None:
    from .._core.training import _infer_batch_size

    return _infer_batch_size(batch)


def _build(base: Any) -> type:
    from .._core.training import start_run

    class TelemetryCallback(base):  # type: ignore[misc,valid-type]
        """Reports ``Trainer.fit`` as an aiobs training run (run span, steps, loss, anomalies).

        >>> Trainer(callbacks=[TelemetryCallback(name="lit")])  # doctest: +SKIP
        """

        def __init__(self, name: str = "lightning", **run_options: Any) -> None:
            super().__init__()
            self._name = name
            self._run_options = run_options
            self._run: Any = None
            self._step: Any = None
            self._last_end_ns = 0

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            with errors.guard("lightning.train_start"):
                options = dict(self._run_options)
                optimizers = getattr(trainer, "optimizers", None)
                if optimizers and "optimizer" not in options:
                    options["optimizer"] = optimizers[0]
                self._run = start_run(self._name, model=pl_module, framework="lightning",
                                      **options)

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            if self._run is not None:
                with errors.guard("lightning.epoch_start"):
                    self._run.set_epoch(int(trainer.current_epoch))
            self._last_end_ns = 0

        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any,
                                 batch_idx: int) -> None:
            now = time.perf_counter_ns()
            if self._run is None:
                return
            with errors.guard("lightning.batch_start"):
                if self._last_end_ns:
                    self._run.note_data_wait(now - self._last_end_ns)
                self._step = self._run.start_step(batch_size=_batch_size(batch))

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                               batch_idx: int) -> None:
            step, self._step = self._step, None
            if step is None:
                return
            with errors.guard("lightning.batch_end"):
                loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
                step.record(loss=loss)
                step.end()
            self._last_end_ns = time.perf_counter_ns()

        def _finish(self, error: BaseException | None) -> None:
            step, self._step = self._step, None
            if step is not None:
                step.end(error)
            run, self._run = self._run, None
            if run is not None:
                run.end(error)

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            with errors.guard("lightning.train_end"):
                self._finish(None)

        def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
            with errors.guard("lightning.exception"):
                self._finish(exception)

    return TelemetryCallback


def __getattr__(name: str) -> Any:
    if name == "TelemetryCallback":
        package, base = _callback_base()
        if package not in _built:
            _built[package] = _build(base)
        return _built[package]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
