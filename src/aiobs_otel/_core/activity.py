"""Which span is open right now, for readers on other threads (the GPU sampler).

OpenTelemetry's current context is per thread (and per task), so a sampler on its own thread
cannot see the training step or LLM call the application is running. Every
:class:`~.wrapping.Scope` entered through the wrapping machinery (decorator, ``with``,
generators) publishes itself and its span's context here, and is retracted when it ends; the
sampler asks for the most recently opened scope that has not ended and records its observations
with that context, so the SDK's exemplar filter attaches the span as an exemplar.

Lock-free on purpose: publish and retract are one dict operation each (atomic under the GIL).
A scope whose subclass ends it without retracting is dropped lazily: :func:`latest` skips and
forgets every scope whose ``ended`` is true.

>>> from aiobs_otel._core import activity
>>> activity.latest() is None
True
"""

from __future__ import annotations

from typing import Any

_MAX_OPEN = 4096  # a safety cap: never grow without bound, whatever a subclass does
_open: dict[int, tuple[Any, Any]] = {}
# GPU samplers running now. Scopes publish only while one runs, so without a GPU collector
# the registry costs one integer check per scope.
watchers = 0


def watch() -> None:
    """A sampler started reading :func:`latest`."""
    global watchers
    watchers += 1


def unwatch() -> None:
    """A sampler stopped; with none left, nothing is kept."""
    global watchers
    watchers = max(0, watchers - 1)
    if watchers == 0:
        _open.clear()


def publish(scope: Any, context: Any) -> None:
    """Record that ``scope`` is open, with its span ``context``."""
    if len(_open) >= _MAX_OPEN:
        _open.clear()
    _open[id(scope)] = (scope, context)


def is_open(scope: Any) -> bool:
    return id(scope) in _open


def retract(scope: Any) -> None:
    """``scope`` ended."""
    _open.pop(id(scope), None)


def latest() -> Any:
    """The span context of the most recently opened scope still open (any thread), or None."""
    try:
        entries = list(_open.values())
    except RuntimeError:  # changed under us: no exemplar this time
        return None
    for scope, context in reversed(entries):
        if not getattr(scope, "ended", False):
            return context
        _open.pop(id(scope), None)
    return None


def clear() -> None:
    """Forget every open scope and sampler (tests, and a forked child)."""
    global watchers
    watchers = 0
    _open.clear()
