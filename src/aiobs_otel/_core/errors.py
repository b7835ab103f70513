"""The internal-error discipline: instrumentation never raises into the application.

Every hook that runs inside a user's call is guarded. A failure is logged through the
``aiobs_otel`` logger at most once per hook per minute, counted in ``aiobs.sdk.internal_errors``,
and swallowed, unless strict mode is on (``AIOBS_STRICT=true`` or ``configure(strict=True)``),
in which case it is re-raised so tests see it. Only :class:`Exception` is caught:
``KeyboardInterrupt``, ``SystemExit``, ``GeneratorExit`` and cancellation always propagate.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from . import state

_log = logging.getLogger("aiobs_otel")
P = ParamSpec("P")
R = TypeVar("R")

_REPORT_INTERVAL_S = 60.0
_last_report: dict[str, float] = {}
_counts: dict[str, int] = {}
_lock = threading.Lock()
_in_report = threading.local()


def _reinit_lock_in_child() -> None:  # a lock held by another thread at fork() stays held
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_lock_in_child)


class InternalError(RuntimeError):
    """Raised in strict mode when an internal hook fails (wraps the original error)."""


def is_strict() -> bool:
    settings = state.STATE.settings
    return bool(settings is not None and settings.strict)


def error_counts() -> dict[str, int]:
    """How many internal errors each hook has had (self-diagnostics and tests)."""
    with _lock:
        return dict(_counts)


def report(hook: str, exc: BaseException) -> None:
    """Record an internal failure of ``hook``; re-raise it in strict mode."""
    if getattr(_in_report, "active", False):  # a failure while reporting: never recurse
        return
    _in_report.active = True
    try:
        now = time.monotonic()
        with _lock:
            _counts[hook] = _counts.get(hook, 0) + 1
            last = _last_report.get(hook)
            should_log = last is None or now - last >= _REPORT_INTERVAL_S
            if should_log:
                _last_report[hook] = now
        if should_log:
            _log.warning(
                "aiobs_otel: internal error in %s (telemetry for this call may be incomplete; "
                "the application is unaffected): %r", hook, exc, exc_info=exc,
            )
        _count_in_telemetry(hook)
    finally:
        _in_report.active = False
    if is_strict():
        raise InternalError(f"internal error in {hook}: {exc!r}") from exc


def _count_in_telemetry(hook: str) -> None:
    try:
        from .otel import self_instruments

        self_instruments().internal_errors.add(1, {"aiobs.sdk.hook": hook})
    except Exception:
        pass


@contextmanager
def guard(hook: str) -> Iterator[None]:
    """Run a block of instrumentation code; its failure is reported, never propagated.

    >>> with guard("genai.parse_response"):
    ...     pass
    """
    try:
        yield
    except Exception as exc:
        report(hook, exc)


def guarded(hook: str, default: Any = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator form of :func:`guard`: on failure the function returns ``default``."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                report(hook, exc)
                return default  # type: ignore[no-any-return]

        return run

    return decorate


def reset_for_tests() -> None:
    with _lock:
        _last_report.clear()
        _counts.clear()
