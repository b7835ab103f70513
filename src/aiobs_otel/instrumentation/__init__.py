"""Auto-instrumentation of provider SDKs: ``instrument()`` / ``uninstrument()`` and the registry.

>>> import aiobs_otel as aiobs
>>> aiobs.instrument("openai", "anthropic")  # doctest: +SKIP
('openai', 'anthropic')
>>> aiobs.uninstrument("openai")  # doctest: +SKIP

The same instrumentors are ``opentelemetry_instrumentor`` entry points (``aiobs_openai``,
``aiobs_anthropic``), so ``opentelemetry-instrument python app.py`` switches them on too.
Importing this package imports no provider SDK; each instrumentor imports its SDK when it
instruments.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._base import ProviderInstrumentor

__all__ = ["available", "instrument", "instrumentor", "is_instrumented", "uninstrument"]


@dataclass(frozen=True)
class _Registered:
    module: str  # where the instrumentor class lives
    cls: str
    library: str  # the SDK's import name
    extra: str  # the aiobs-otel extra that installs it


# name (as in AIOBS_INSTRUMENT) -> instrumentor
REGISTRY: dict[str, _Registered] = {
    "openai": _Registered("aiobs_otel.instrumentation.openai", "OpenAIInstrumentor",
                          "openai", "openai"),
    "anthropic": _Registered("aiobs_otel.instrumentation.anthropic", "AnthropicInstrumentor",
                             "anthropic", "anthropic"),
}


def _lookup(name: str) -> _Registered:
    key = name.strip().lower()
    if key.startswith("aiobs_"):  # entry-point names are accepted too
        key = key[len("aiobs_"):]
    entry = REGISTRY.get(key)
    if entry is None:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"aiobs_otel cannot instrument {name!r}; known targets: {known}")
    return entry


def _installed(entry: _Registered) -> bool:
    try:
        return importlib.util.find_spec(entry.library) is not None
    except (ImportError, ValueError):
        return False


def instrumentor(name: str) -> ProviderInstrumentor:
    """The (singleton) instrumentor for ``name``, e.g. ``instrumentor("openai")``."""
    entry = _lookup(name)
    cls = getattr(importlib.import_module(entry.module), entry.cls)
    return cls()  # type: ignore[no-any-return]


def available() -> tuple[str, ...]:
    """The targets whose SDK is installed, in registry order."""
    return tuple(name for name, entry in REGISTRY.items() if _installed(entry))


def is_instrumented(name: str) -> bool:
    """Whether ``name`` is currently instrumented (by us)."""
    return bool(instrumentor(name).is_instrumented_by_opentelemetry)


def instrument(*names: str) -> tuple[str, ...]:
    """Patch the named provider SDKs (all installed ones when no name is given).

    Instrumenting twice is a no-op. A named target whose SDK is missing raises ImportError
    naming the extra to install; an unknown name raises ValueError.

    >>> instrument("openai")  # doctest: +SKIP
    ('openai',)
    """
    if not names:
        names = available()
    done: list[str] = []
    for name in names:
        entry = _lookup(name)
        if not _installed(entry):
            raise ImportError(
                f"aiobs_otel cannot instrument {name!r}: the {entry.library!r} package is not "
                f"installed (pip install 'aiobs-otel[{entry.extra}]')"
            )
        inst = instrumentor(name)
        if not inst.is_instrumented_by_opentelemetry:
            inst.instrument()
        if inst.is_instrumented_by_opentelemetry:
            done.append(_key(entry))
    return tuple(done)


def uninstrument(*names: str) -> tuple[str, ...]:
    """Restore the original SDK methods of the named targets (every instrumented one if none).

    >>> uninstrument("openai")  # doctest: +SKIP
    ('openai',)
    """
    if not names:
        names = tuple(REGISTRY)
    undone: list[str] = []
    for name in names:
        entry = _lookup(name)
        if not _installed(entry):
            continue
        inst = instrumentor(name)
        if inst.is_instrumented_by_opentelemetry:
            inst.uninstrument()
            undone.append(_key(entry))
    return tuple(undone)


def _key(entry: _Registered) -> str:
    return next(k for k, v in REGISTRY.items() if v is entry)
