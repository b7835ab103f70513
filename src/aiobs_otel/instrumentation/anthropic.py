"""Auto-instrumentation of the ``anthropic`` SDK: messages (create, parse, stream), sync and async.

``messages.stream()`` builds its request lazily (the HTTP call happens when its manager is
entered), so the span opens there and covers the stream to its last event.

The SDK emits its own HTTP-level span (``anthropic.messages.create``, scope
``com.anthropic.sdk.python``) whenever a global tracer provider is set; it becomes a *child* of
our ``chat {model}`` span. Our metrics are the only token counts recorded; set
``ANTHROPIC_OPEN_TELEMETRY=false`` to drop the SDK's span if a backend sums span attributes.

>>> import aiobs_otel as aiobs
>>> aiobs.instrument("anthropic")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .._core import errors, state
from ._base import ProviderInstrumentor, ProviderSpec, Target, start, suppressed
from ._streams import ResultKinds, wrap_result

__all__ = ["AnthropicInstrumentor"]

_SYNC_REQUEST_ATTR = "_MessageStreamManager__api_request"
_ASYNC_REQUEST_ATTR = "_AsyncMessageStreamManager__api_request"


class AnthropicInstrumentor(ProviderInstrumentor):
    """``BaseInstrumentor`` for ``anthropic``; entry point ``aiobs_anthropic``.

    >>> AnthropicInstrumentor().instrument()  # doctest: +SKIP
    """

    library = "anthropic"
    requirement = "anthropic >= 0.40"

    def spec(self) -> ProviderSpec:
        import anthropic
        from anthropic._response import APIResponse, AsyncAPIResponse

        # anthropic 2.x has no legacy raw response: with_raw_response gives an APIResponse too
        try:
            from anthropic._legacy_response import (  # type: ignore[import-not-found]
                LegacyAPIResponse,
            )

            legacy: tuple[type, ...] = (LegacyAPIResponse,)
        except ImportError:
            legacy = ()

        return ProviderSpec(
            provider="anthropic",
            default_host="api.anthropic.com",
            kinds=ResultKinds(
                streams=(anthropic.Stream,),
                async_streams=(anthropic.AsyncStream,),
                legacy_responses=legacy,
                lazy_responses=(APIResponse,),
                async_lazy_responses=(AsyncAPIResponse,),
            ),
        )

    def targets(self) -> list[Target]:
        from anthropic.resources import messages

        module = getattr(messages, "messages", messages)
        found: list[Target] = []
        for owner, is_async in ((module.Messages, False), (module.AsyncMessages, True)):
            for name in ("create", "parse"):
                found.append(Target(owner, name, "chat", "anthropic", is_async))
            found.append(Target(owner, "stream", "chat", "anthropic", is_async,
                                implied={"stream": True}, factory=_stream_wrapper))
        return found


def _stream_wrapper(target: Target, spec: ProviderSpec) -> Callable[..., Any]:
    """``messages.stream()``: instrument the manager's deferred request, not the call itself."""
    kinds = spec.kinds
    attr = _ASYNC_REQUEST_ATTR if target.is_async else _SYNC_REQUEST_ATTR
    active = spec.active

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        manager = wrapped(*args, **kwargs)
        if state.disabled or not active[0] or suppressed():
            return manager
        request = getattr(manager, attr, None)
        if request is None:  # an SDK whose manager changed shape: leave it uninstrumented
            return manager
        with errors.guard("instrumentation.anthropic.stream"):
            if target.is_async:
                setattr(manager, attr, _async_request(request, target, spec, instance, kwargs))
            else:
                setattr(manager, attr, _sync_request(request, target, spec, instance, kwargs))
        return manager

    def _sync_request(
        request: Callable[[], Any], target: Target, spec: ProviderSpec, instance: Any,
        kwargs: dict[str, Any],
    ) -> Callable[[], Any]:
        def run() -> Any:
            inv = start(target, spec, instance, kwargs)
            if inv is None:
                return request()
            token = inv.attach()
            try:
                raw = request()
            except BaseException as exc:
                inv.detach(token)
                inv.finish(exc)
                raise
            inv.detach(token)
            return wrap_result(inv, raw, kinds)

        return run

    async def _async_request(
        request: Awaitable[Any], target: Target, spec: ProviderSpec, instance: Any,
        kwargs: dict[str, Any],
    ) -> Any:
        inv = start(target, spec, instance, kwargs)
        if inv is None:
            return await request
        token = inv.attach()
        try:
            raw = await request
        except BaseException as exc:
            inv.detach(token)
            inv.finish(exc)
            raise
        inv.detach(token)
        return wrap_result(inv, raw, kinds)

    return wrapper
