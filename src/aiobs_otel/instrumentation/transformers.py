"""A Hugging Face ``Trainer`` callback that reports training as an aiobs training run.

>>> from aiobs_otel.instrumentation.transformers import TelemetryCallback  # doctest: +SKIP
>>> Trainer(model=model, args=args, train_dataset=ds, callbacks=[TelemetryCallback()])

Importing this module imports nothing of ``transformers``. The Trainer keeps the loss on the
device and only reports it at logging steps (``logging_steps``), together with ``grad_norm``
(the clipping norm, reused) and ``learning_rate``; those values are recorded on the step that
logged them. Checkpoint save time is measured from the end of a saving step to ``on_save``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core import errors

if TYPE_CHECKING:  # pragma: no cover
    TelemetryCallback: Any

__all__ = ["TelemetryCallback"]

_built: list[type] = []


def _build() -> type:
    try:
        from transformers import TrainerCallback
    except ImportError:
        raise ImportError(
            "aiobs_otel.instrumentation.transformers needs transformers: pip install transformers"
        ) from None
    from .._core.training import start_run

    class TelemetryCallback(TrainerCallback):  # type: ignore[misc]
        """Reports ``Trainer.train`` as an aiobs training run.

        >>> Trainer(..., callbacks=[TelemetryCallback(name="bert-ft")])  # doctest: +SKIP
        """

        def __init__(self, name: str = "transformers", **run_options: Any) -> None:
            self._name = name
            self._run_options = run_options
            self._run: Any = None
            self._step: Any = None
            self._checkpoint: Any = None
            self._batch_size: int | None = None

        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                           **kwargs: Any) -> None:
            with errors.guard("transformers.train_begin"):
                self._batch_size = int(args.per_device_train_batch_size
                                       * args.gradient_accumulation_steps)
                self._run = start_run(self._name, model=model, framework="transformers",
                                      **self._run_options)

        def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self._run is not None and state.epoch is not None:
                with errors.guard("transformers.epoch_begin"):
                    self._run.set_epoch(int(state.epoch))

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self._run is None:
                return
            with errors.guard("transformers.step_begin"):
                previous, self._step = self._step, None
                if previous is not None:  # a step that never reached on_step_end/on_log
                    previous.end()
                self._step = self._run.start_step(batch_size=self._batch_size)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            step = self._step
            if step is None:
                return
            with errors.guard("transformers.step_end"):
                step.stop_clock()
                if not control.should_log:  # else on_log brings the loss and ends it
                    self._step = None
                    step.end()
                if control.should_save and self._run is not None:
                    self._checkpoint = self._run.checkpoint(args.output_dir)
                    self._checkpoint.__enter__()

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **kwargs: Any) -> None:
            step, self._step = self._step, None
            if step is None:
                return
            with errors.guard("transformers.log"):
                logs = logs or {}
                step.record(loss=logs.get("loss"), grad_norm=logs.get("grad_norm"),
                            lr=logs.get("learning_rate"))
                step.end()

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            checkpoint, self._checkpoint = self._checkpoint, None
            if checkpoint is not None:
                with errors.guard("transformers.save"):
                    checkpoint.__exit__(None, None, None)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            with errors.guard("transformers.train_end"):
                step, self._step = self._step, None
                if step is not None:
                    step.end()
                run, self._run = self._run, None
                if run is not None:
                    run.end()

    return TelemetryCallback


def __getattr__(name: str) -> Any:
    if name == "TelemetryCallback":
        if not _built:
            _built.append(_build())
        return _built[0]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
