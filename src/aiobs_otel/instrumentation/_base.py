"""What every provider instrumentor shares: patch targets, wrappers built once, exact restore.

A provider module lists :class:`Target` s (owner class, method name, what the method does); the
:class:`ProviderInstrumentor` builds one wrapper per target when it instruments (never per call),
replaces the class attribute with a :class:`wrapt.FunctionWrapper` around the original, and on
uninstrument puts back the very object it found (``cls.__dict__[name] is original``).
Instrumenting twice is a no-op: the instrumentor is a singleton (``BaseInstrumentor``) and a
method already wrapped by us is never wrapped again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import (  # type: ignore[attr-defined]
    _SUPPRESS_INSTRUMENTATION_KEY,
)

from .._core import state
from ._streams import ResultKinds, wrap_result

_lock = threading.RLock()
_log = logging.getLogger("aiobs_otel")


class AiobsWrapper(wrapt.FunctionWrapper):  # type: ignore[misc]
    """Our wrapper type: tells our patches apart from the original and from other libraries'."""


@dataclass(frozen=True)
class Target:
    """One SDK method to wrap and what it does (the semantic-conventions operation)."""

    owner: type
    name: str
    operation: str  # "chat" | "embeddings" | ...
    adapter: str  # the genai adapter that reads its kwargs / results
    is_async: bool
    # Extra kwargs the call implies (e.g. ``stream=True`` for ``messages.stream``).
    implied: dict[str, Any] = field(default_factory=dict)
    # A custom wrapper factory (spec, kinds) -> wrapper; None means "request/response call".
    factory: Callable[[Target, ProviderSpec], Callable[..., Any]] | None = None


@dataclass(frozen=True)
class ProviderSpec:
    provider: str  # gen_ai.provider.name
    kinds: ResultKinds
    default_host: str
    # Cleared on uninstrument: a wrapper another library wrapped over (so it could not be
    # removed) then passes calls straight through.
    active: list[bool] = field(default_factory=lambda: [True])


def server_of(instance: Any, default_host: str) -> tuple[str | None, int | None]:
    """``server.address`` / ``server.port`` from the resource's client ``base_url``."""
    try:
        url = instance._client.base_url
        host = url.host or default_host
        port = url.port
        if port is None:
            port = 443 if url.scheme == "https" else 80
        return host, port
    except Exception:  # an odd client: leave the attributes out
        return None, None


def suppressed() -> bool:
    return bool(otel_context.get_value(_SUPPRESS_INSTRUMENTATION_KEY))


def start(target: Target, spec: ProviderSpec, instance: Any, kwargs: dict[str, Any]) -> Any:
    """Open the invocation for one call (None when telemetry is off or opening failed)."""
    from .._core.genai import start_inference

    if target.implied:
        kwargs = {**kwargs, **target.implied}
    host, port = server_of(instance, spec.default_host)
    return start_inference(
        provider=spec.provider,
        operation=target.operation,
        request_model=kwargs.get("model"),
        request_kwargs=kwargs,
        adapter=target.adapter,
        stream=bool(kwargs.get("stream")),
        server_address=host,
        server_port=port,
    )


def call_wrapper(target: Target, spec: ProviderSpec) -> Callable[..., Any]:
    """The wrapper for a request/response method (sync or async), built once per target."""
    kinds = spec.kinds
    active = spec.active

    if target.is_async:

        async def async_wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if state.disabled or not active[0] or suppressed():
                return await wrapped(*args, **kwargs)
            inv = start(target, spec, instance, kwargs)
            if inv is None:
                return await wrapped(*args, **kwargs)
            token = inv.attach()
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                inv.detach(token)
                inv.finish(exc)
                raise
            inv.detach(token)
            return wrap_result(inv, result, kinds)

        return async_wrapper

    def sync_wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if state.disabled or not active[0] or suppressed():
            return wrapped(*args, **kwargs)
        inv = start(target, spec, instance, kwargs)
        if inv is None:
            return wrapped(*args, **kwargs)
        token = inv.attach()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            inv.detach(token)
            inv.finish(exc)
            raise
        inv.detach(token)
        return wrap_result(inv, result, kinds)

    return sync_wrapper


class ProviderInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Base of the provider instrumentors; subclasses say what to patch.

    >>> from aiobs_otel.instrumentation.openai import OpenAIInstrumentor
    >>> OpenAIInstrumentor().instrument()  # doctest: +SKIP
    """

    library = ""  # the import name of the target SDK
    requirement = ""  # its version range, as the loader checks it

    _patched: list[tuple[type, str, Any]] | None = None
    _spec: ProviderSpec | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return (self.requirement,)

    def spec(self) -> ProviderSpec:  # pragma: no cover - each provider overrides
        raise NotImplementedError

    def targets(self) -> list[Target]:  # pragma: no cover - each provider overrides
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        # The SDK's import (ModuleNotFoundError when it is missing) happens in spec()/targets():
        # the opentelemetry-instrument loader skips an instrumentor whose library is absent.
        with _lock:
            if self._patched is not None:
                return
            spec = self.spec()
            type(self)._spec = spec
            patched: list[tuple[type, str, Any]] = []
            for target in self.targets():
                original = target.owner.__dict__.get(target.name)
                if original is None or isinstance(original, AiobsWrapper):
                    continue
                factory = target.factory or call_wrapper
                setattr(target.owner, target.name, AiobsWrapper(original, factory(target, spec)))
                patched.append((target.owner, target.name, original))
            type(self)._patched = patched

    def _uninstrument(self, **kwargs: Any) -> None:
        with _lock:
            if self._spec is not None:
                self._spec.active[0] = False
            patched = self._patched or []
            for owner, name, original in reversed(patched):
                if isinstance(owner.__dict__.get(name), AiobsWrapper):
                    setattr(owner, name, original)
                else:  # another library wrapped on top of ours: do not tear its patch off
                    _log.warning(
                        "aiobs_otel: %s.%s was re-wrapped by another library after us; "
                        "left as it is", owner.__qualname__, name,
                    )
            type(self)._patched = None
            type(self)._spec = None
