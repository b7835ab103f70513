"""All global state of the library, in one place, with a reset for tests.

Nothing here imports the OpenTelemetry SDK: providers are created by :mod:`aiobs_otel.setup`
the first time telemetry is needed (or when :func:`aiobs_otel.configure` is called).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings


@dataclass
class _State:
    settings: Settings | None = None
    configured: bool = False
    # Providers in use: ours (set up by configure), the application's, or a test capture's.
    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    owns_providers: bool = False
    # Bumped whenever the providers change so cached tracers/instruments are rebuilt.
    generation: int = 0
    shutdown_callbacks: list[Callable[[], None]] = field(default_factory=list)
    # True after shutdown() until the next explicit configure(): telemetry calls made after
    # shutdown are no-ops instead of silently configuring a new pipeline (e.g. during exit).
    shut_down: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)


STATE = _State()
# Read on every wrapped call: a module-level bool is the cheapest possible check.
disabled = False


def _reinit_lock_in_child() -> None:
    # A lock held by another thread at fork() stays held forever in the child (that thread does
    # not exist there): give the child a fresh one.
    STATE.lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_lock_in_child)


def current_settings() -> Settings:
    """The active settings, loading them from the environment on first use."""
    settings = STATE.settings
    if settings is None:
        from ..config import load_settings

        with STATE.lock:
            if STATE.settings is None:
                _apply_settings(load_settings())
            settings = STATE.settings
    assert settings is not None
    return settings


def _apply_settings(settings: Settings) -> None:
    global disabled
    STATE.settings = settings
    disabled = settings.disabled


def set_providers(tracer_provider: Any, meter_provider: Any, logger_provider: Any) -> None:
    """Point every recorder at these providers (used by setup and by test captures)."""
    with STATE.lock:
        STATE.tracer_provider = tracer_provider
        STATE.meter_provider = meter_provider
        STATE.logger_provider = logger_provider
        STATE.generation += 1


def on_shutdown(callback: Callable[[], None]) -> None:
    """Run ``callback`` (first registered, last run) when the library shuts down."""
    with STATE.lock:
        STATE.shutdown_callbacks.append(callback)


def reset() -> None:
    """Forget settings and providers (tests only); does not shut anything down."""
    global disabled
    with STATE.lock:
        STATE.settings = None
        STATE.configured = False
        STATE.tracer_provider = STATE.meter_provider = STATE.logger_provider = None
        STATE.owns_providers = False
        STATE.generation += 1
        STATE.shutdown_callbacks.clear()
        STATE.shut_down = False
        disabled = False
