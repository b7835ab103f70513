"""Pure numpy parts of the model-quality monitor (no OpenTelemetry imports).

* :mod:`.scoring`: classification, ranking, calibration, regression and fairness metrics
  computed from arrays (checked against scikit-learn in the tests).
* :mod:`.store`: the bounded, time-limited store of predictions waiting for their labels,
  keyed by id through a vectorised hash table.
* :mod:`.encoding`: class-label and segment-value encoders (segment values capped, the rest
  folded into ``_OTHER``).
* :mod:`.window`: the ring of the last ``window_size`` labelled predictions.
* :mod:`.alerts`: baseline, minimum-count and hysteresis rules for degradation alerts.

The OpenTelemetry side (instruments, events) lives in :mod:`aiobs_otel._core.quality_monitor`.
"""
