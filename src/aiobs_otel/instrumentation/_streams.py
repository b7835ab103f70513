"""Result wrappers for instrumented SDK calls: streams and raw responses that finalize once.

An instrumented call returns one of: a parsed object (ends the invocation at once), an SSE
stream (``Stream``/``AsyncStream``), a raw response (``with_raw_response``, body read) or a lazy
raw response (``with_streaming_response``, body not read). Streams and lazy responses come back
wrapped in :class:`wrapt.ObjectProxy` subclasses, so ``isinstance`` checks and every attribute of
the SDK object keep working, and the invocation ends exactly once whichever way the consumer
stops: the stream is drained, raises (provider or network error), is closed (``close()``,
``with`` exit, the SDK's stream helpers closing the HTTP response), or is garbage-collected. A
stream that stops before its end is *abandoned*: its span ends marked as an error.

The span's context is never left attached while a stream is outstanding, so whatever the
consumer does next is not parented under the stream's span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import wrapt

from .._core import errors

if TYPE_CHECKING:
    from .._core.genai import LLMInvocation


@dataclass(frozen=True)
class ResultKinds:
    """The SDK classes an instrumented call may return, per provider (resolved at instrument time).

    Empty tuples are allowed: a class the installed SDK version lacks is simply never matched.
    """

    streams: tuple[type, ...]
    async_streams: tuple[type, ...]
    legacy_responses: tuple[type, ...]  # with_raw_response: body read, .parse() is sync
    lazy_responses: tuple[type, ...]  # with_streaming_response, sync client
    async_lazy_responses: tuple[type, ...]  # with_streaming_response, async client


def wrap_result(inv: LLMInvocation, result: Any, kinds: ResultKinds) -> Any:
    """Hand ``result`` to the invocation: returned as is, or as a proxy that finishes it later."""
    try:
        if isinstance(result, kinds.streams):
            return SyncStreamProxy(result, inv)
        if isinstance(result, kinds.async_streams):
            return AsyncStreamProxy(result, inv)
        if isinstance(result, kinds.legacy_responses):
            return _wrap_legacy_response(inv, result, kinds)
        if isinstance(result, kinds.lazy_responses + kinds.async_lazy_responses):
            if not getattr(result, "_is_sse_stream", False):
                body = _already_read_body(result)
                if body is not None:  # a raw response whose body came with it: done now
                    inv.set_response(body)
                    inv.finish()
                    return result
            if isinstance(result, kinds.lazy_responses):
                return LazyResponseProxy(result, inv, kinds)
            return AsyncLazyResponseProxy(result, inv, kinds)
        inv.set_response(result)
        inv.finish()
    except Exception as exc:  # never let a wrapping failure cost the caller the result
        errors.report("instrumentation.wrap_result", exc)
        inv.finish()
    return result


def _wrap_legacy_response(inv: LLMInvocation, raw: Any, kinds: ResultKinds) -> Any:
    if not getattr(raw, "_stream", False):
        # The body is already read; parse() caches its result, so the caller's parse() is free.
        inv.set_response(raw.parse())
        inv.finish()
        return raw
    return LegacyStreamResponseProxy(raw, inv, kinds)


# --- streams ---------------------------------------------------------------------------------


class _Ending:
    """Ends one invocation exactly once; shared by a stream proxy and its response hook (so the
    two never reference each other and the proxy is freed, and finalized, as soon as it is
    dropped)."""

    __slots__ = ("done", "inv")

    def __init__(self, inv: LLMInvocation) -> None:
        self.inv = inv
        self.done = False

    def stop(self, error: BaseException | None, *, completed: bool = False) -> None:
        """Drained (``completed``), failed (``error``) or, otherwise, abandoned."""
        if self.done:
            return
        self.done = True
        if completed or error is not None:
            self.inv.finish(error)
        else:
            self.inv.abandon("closed")

    def collected(self) -> None:
        """The stream object was garbage-collected (runs in ``__del__``: never raises)."""
        if not self.done:
            self.done = True
            try:
                self.inv.abandon("gc")
            except Exception:  # a finalizer must never raise
                pass


class _ResponseCloseHook(wrapt.ObjectProxy):  # type: ignore[misc]
    """The stream's HTTP response; closing it (as the SDKs' stream helpers do) ends the stream."""

    def __init__(self, response: Any, ending: _Ending) -> None:
        super().__init__(response)
        self._self_ending = ending

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_ending.stop(None)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_ending.stop(None)


class _StreamProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, stream: Any, inv: LLMInvocation) -> None:
        super().__init__(stream)
        self._self_inv = inv
        self._self_ending = _Ending(inv)
        self._self_response: Any = None

    def _aiobs_stop(self, error: BaseException | None, *, completed: bool = False) -> None:
        self._self_ending.stop(error, completed=completed)

    @property
    def response(self) -> Any:
        hook = self._self_response
        if hook is None:
            hook = self._self_response = _ResponseCloseHook(self.__wrapped__.response,
                                                            self._self_ending)
        return hook

    def __del__(self) -> None:
        ending = getattr(self, "_self_ending", None)
        if ending is not None:
            ending.collected()


class SyncStreamProxy(_StreamProxyBase):
    """A sync SSE stream whose chunks feed the invocation."""

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self.__wrapped__.__next__()
        except StopIteration:
            self._aiobs_stop(None, completed=True)
            raise
        except BaseException as exc:
            self._aiobs_stop(exc)
            raise
        self._self_inv.on_chunk(chunk)
        return chunk

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._aiobs_stop(exc)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._aiobs_stop(None)


class AsyncStreamProxy(_StreamProxyBase):
    """An async SSE stream whose chunks feed the invocation."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._aiobs_stop(None, completed=True)
            raise
        except BaseException as exc:
            self._aiobs_stop(exc)
            raise
        self._self_inv.on_chunk(chunk)
        return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._aiobs_stop(exc)

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._aiobs_stop(None)


# --- raw responses ---------------------------------------------------------------------------


class _ResponseProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, raw: Any, inv: LLMInvocation, kinds: ResultKinds) -> None:
        super().__init__(raw)
        self._self_inv = inv
        self._self_kinds = kinds
        self._self_done = False
        self._self_stream: Any = None

    def _aiobs_parsed(self, parsed: Any) -> Any:
        """The caller parsed the body: a stream gets wrapped (once), an object ends the call."""
        stream = self._self_stream
        if stream is not None and stream.__wrapped__ is parsed:
            return stream  # parse() caches: the same stream, the same proxy
        if self._self_done:
            return parsed
        kinds = self._self_kinds
        if isinstance(parsed, kinds.streams + kinds.async_streams):
            self._self_done = True  # the stream proxy owns the invocation from now on
            proxy_cls = SyncStreamProxy if isinstance(parsed, kinds.streams) else AsyncStreamProxy
            self._self_stream = proxy_cls(parsed, self._self_inv)
            return self._self_stream
        self._self_done = True
        self._self_inv.set_response(parsed)
        self._self_inv.finish()
        return parsed

    def _aiobs_closed(self, reason: str = "closed") -> None:
        """The response was closed (or collected): ends its stream, or the call itself."""
        if self._self_stream is not None:
            self._self_stream._aiobs_stop(None)
            return
        if self._self_done:
            return
        self._self_done = True
        inv = self._self_inv
        raw = self.__wrapped__
        if not getattr(raw, "_is_sse_stream", getattr(raw, "_stream", False)):
            parsed = _already_read_body(raw)
            if parsed is not None:
                inv.set_response(parsed)
                inv.finish()
                return
            inv.finish()  # read as bytes/lines or never read: the call itself succeeded
            return
        inv.abandon(reason)

    def __del__(self) -> None:
        try:
            if not self._self_done:
                self._aiobs_closed("gc")
        except Exception:  # a finalizer must never raise
            pass


def _already_read_body(raw: Any) -> Any:
    """The parsed body when the caller read it some other way (``.json()``, ``.read()``)."""
    http_response = getattr(raw, "http_response", None)
    try:
        content = http_response.content if http_response is not None else None
    except Exception:  # not read: nothing to parse
        return None
    if not content:
        return None
    import json

    try:
        return json.loads(content)
    except ValueError:
        return None


class LegacyStreamResponseProxy(_ResponseProxyBase):
    """``with_raw_response.create(stream=True)``: ``.parse()`` gives the (wrapped) stream."""

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._aiobs_parsed(self.__wrapped__.parse(*args, **kwargs))


class LazyResponseProxy(_ResponseProxyBase):
    """``with_streaming_response`` (sync): ends on parse, close, context exit or collection."""

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._aiobs_parsed(self.__wrapped__.parse(*args, **kwargs))

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._aiobs_closed()


class AsyncLazyResponseProxy(_ResponseProxyBase):
    """``with_streaming_response`` (async client)."""

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._aiobs_parsed(await self.__wrapped__.parse(*args, **kwargs))

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._aiobs_closed()
