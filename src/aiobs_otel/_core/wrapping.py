"""One mechanism behind every decorator and context manager of the public API.

An :class:`Operation` (``llm_call(...)``, ``train_step(...)``, ``pipeline_stage(...)``, ...) is
usable three ways: as a decorator, as ``with`` and as ``async with``. Each run opens a
:class:`Scope`, which owns the span and is the handle the user gets from ``with ... as handle``.

The decorator decides at decoration time whether the target is a function, a coroutine
function, a generator function or an async generator function, and returns a plain
``functools.wraps`` closure of the same kind: same signature and metadata, picklable by
reference, generators keep ``send``/``throw``/``close``. Generator spans cover the whole
iteration (to the last item) and the span's context is active only while the generator body
runs, so nothing leaks into the consumer between items.

Instrumentation failures never reach the caller (see :mod:`.errors`): if a scope cannot be
opened the call runs bare; if a hook fails the call's result and exceptions are untouched.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from .. import semconv
from . import activity, errors, state

F = TypeVar("F", bound=Callable[..., Any])
# ``with``-entered scopes of the current thread/task: (id(operation), scope, context token).
_OPEN_SCOPES: contextvars.ContextVar[tuple[tuple[int, Scope | None, object], ...]] = (
    contextvars.ContextVar("aiobs_otel_open_scopes", default=())
)


def error_type(exc: BaseException) -> str:
    """The ``error.type`` value for an exception: its fully qualified class name."""
    cls = type(exc)
    module = cls.__module__
    if module in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


class Scope:
    """One run of an operation: owns its span, is the user's handle, ends exactly once.

    Subclasses add the user-facing methods (``set_response``, ``record``...) and override the
    ``on_*`` hooks; every hook is called guarded, so a failing hook never affects the call.
    """

    hook_name = "scope"
    # Open scopes are published to :mod:`.activity` so the GPU sampler (another thread) can attach
    # the latest open span to its observations as an exemplar. A subclass may opt out.
    publishes_activity = True

    def __init__(self, span: Span) -> None:
        self.span = span
        self.ended = False
        self.start_ns = time.perf_counter_ns()

    # -- context --------------------------------------------------------------------------------
    def attach(self) -> object:
        return otel_context.attach(trace.set_span_in_context(self.span))

    def detach(self, token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    # -- hooks for subclasses -------------------------------------------------------------------
    def on_result(self, result: Any) -> None:
        """The wrapped function returned ``result`` (not called for generators)."""

    def on_item(self, item: Any) -> None:
        """A generator / async generator produced ``item``."""

    def on_end(self, error: BaseException | None) -> None:
        """Called once before the span ends: record metrics and final attributes here."""

    # -- ending ---------------------------------------------------------------------------------
    def elapsed_s(self) -> float:
        return (time.perf_counter_ns() - self.start_ns) / 1e9

    def finish(self, error: BaseException | None = None) -> None:
        """End the run (idempotent): hooks, error status, span end."""
        if self.ended:
            return
        self.ended = True
        try:
            self.on_end(error)
        except Exception as exc:
            errors.report(f"{self.hook_name}.on_end", exc)
        finally:
            if self.publishes_activity:
                activity.retract(self)
            span = self.span
            if error is not None and span.is_recording():
                span.set_attribute(semconv.ERROR_TYPE, error_type(error))
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()


class NoopScope:
    """What a ``with`` gets when the library is disabled or a scope could not be opened.

    Every method the real handles offer exists and does nothing.
    """

    ended = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _noop

    def __bool__(self) -> bool:
        return False


def _noop(*_args: Any, **_kwargs: Any) -> None:
    return None


NOOP_SCOPE = NoopScope()


class Operation(ABC):
    """Base for decorator-or-context-manager factories. Subclasses implement :meth:`open`."""

    hook_name = "operation"

    @abstractmethod
    def open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> Scope:
        """Start one run; ``args``/``kwargs`` are the wrapped call's, or None for ``with``."""

    # -- decorator ------------------------------------------------------------------------------
    def __call__(self, fn: F) -> F:
        if isinstance(fn, (classmethod, staticmethod)):  # decorator written above @classmethod
            return cast(F, type(fn)(wrap(fn.__func__, self)))
        if not callable(fn):
            raise TypeError(f"{type(self).__name__} decorates callables, got {fn!r}")
        return wrap(fn, self)

    # -- context manager ------------------------------------------------------------------------
    def _open_safely(
        self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None
    ) -> Scope | None:
        if state.disabled:
            return None
        try:
            return self.open(args, kwargs)
        except Exception as exc:
            errors.report(f"{self.hook_name}.open", exc)
            return None

    def __enter__(self) -> Any:
        scope = self._open_safely(None, None)
        token = _attach(scope) if scope is not None else None
        # The open scopes live in a context variable, not on the instance: one operation object
        # may be entered from many threads and asyncio tasks at once.
        _OPEN_SCOPES.set((*_OPEN_SCOPES.get(), (id(self), scope, token)))
        return scope if scope is not None else NOOP_SCOPE

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        stack = _OPEN_SCOPES.get()
        key = id(self)
        for index in range(len(stack) - 1, -1, -1):
            if stack[index][0] == key:
                _, scope, token = stack[index]
                _OPEN_SCOPES.set(stack[:index] + stack[index + 1:])
                break
        else:  # entered in another context (or never): nothing of ours to end here
            return
        if scope is not None:
            _detach(scope, token)
            _finish(scope, exc)

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)


# --- guarded steps -------------------------------------------------------------------------------


def _attach(scope: Scope) -> object:
    try:
        token = scope.attach()
    except Exception as exc:
        errors.report(f"{scope.hook_name}.attach", exc)
        return None
    if scope.publishes_activity:
        publish_activity(scope)
    return token


def publish_activity(scope: Scope) -> None:
    """Make the scope's span visible to the GPU sampler thread (once per scope; see activity)."""
    if not activity.watchers:
        return
    try:
        if not scope.ended and not activity.is_open(scope) and scope.span.is_recording():
            activity.publish(scope, trace.set_span_in_context(scope.span))
    except Exception as exc:
        errors.report(f"{scope.hook_name}.publish", exc)


def _detach(scope: Scope, token: object) -> None:
    if token is None:
        return
    try:
        scope.detach(token)
    except Exception as exc:
        errors.report(f"{scope.hook_name}.detach", exc)


def _finish(scope: Scope, error: BaseException | None) -> None:
    try:
        scope.finish(error)
    except Exception as exc:
        errors.report(f"{scope.hook_name}.finish", exc)
    if scope.publishes_activity:  # also when a subclass's finish() does not call ours
        activity.retract(scope)


def _on_result(scope: Scope, result: Any) -> None:
    try:
        scope.on_result(result)
    except Exception as exc:
        errors.report(f"{scope.hook_name}.on_result", exc)


def _on_item(scope: Scope, item: Any) -> None:
    try:
        scope.on_item(item)
    except Exception as exc:
        errors.report(f"{scope.hook_name}.on_item", exc)


# --- the four wrapper kinds ----------------------------------------------------------------


def wrap(fn: F, op: Operation) -> F:
    """Wrap ``fn`` so each call runs inside ``op``; the wrapper is of the same kind as ``fn``."""
    target = fn.func if isinstance(fn, functools.partial) else fn
    if not inspect.isroutine(target) and not inspect.isclass(target):
        target = cast(Any, target).__call__  # a callable object: its __call__ decides the kind
    if inspect.isasyncgenfunction(target):
        return cast(F, _wrap_async_generator(fn, op))
    if inspect.isgeneratorfunction(target):
        return cast(F, _wrap_generator(fn, op))
    if inspect.iscoroutinefunction(target):
        return cast(F, _wrap_coroutine(fn, op))
    return cast(F, _wrap_function(fn, op))


def _wraps(fn: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    if isinstance(fn, functools.partial):
        return functools.wraps(fn.func)
    return functools.wraps(fn)


def _wrap_function(fn: Callable[..., Any], op: Operation) -> Callable[..., Any]:
    open_safely = op._open_safely

    @_wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        scope = open_safely(args, kwargs)
        if scope is None:
            return fn(*args, **kwargs)
        token = _attach(scope)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _detach(scope, token)
            _finish(scope, exc)
            raise
        _detach(scope, token)
        _on_result(scope, result)
        _finish(scope, None)
        return result

    return run


def _wrap_coroutine(fn: Callable[..., Any], op: Operation) -> Callable[..., Any]:
    open_safely = op._open_safely

    @_wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        scope = open_safely(args, kwargs)
        if scope is None:
            return await fn(*args, **kwargs)
        token = _attach(scope)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _detach(scope, token)
            _finish(scope, exc)
            raise
        _detach(scope, token)
        _on_result(scope, result)
        _finish(scope, None)
        return result

    return run


def _wrap_generator(fn: Callable[..., Any], op: Operation) -> Callable[..., Any]:
    open_safely = op._open_safely

    @_wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        gen = fn(*args, **kwargs)
        scope = open_safely(args, kwargs)
        if scope is None:
            return (yield from gen)
        return (yield from _drive_generator(gen, scope))

    return run


def _drive_generator(gen: Generator[Any, Any, Any], scope: Scope) -> Generator[Any, Any, Any]:
    """Re-yield ``gen``'s items with the scope's context active only while ``gen`` runs."""
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        token = _attach(scope)
        try:
            item = gen.send(sent) if thrown is None else gen.throw(thrown)
        except StopIteration as stop:
            _detach(scope, token)
            _finish(scope, None)
            return stop.value
        except BaseException as exc:
            _detach(scope, token)
            _finish(scope, exc)
            raise
        _detach(scope, token)
        _on_item(scope, item)
        try:
            sent = yield item
            thrown = None
        except GeneratorExit as exit_:
            try:
                gen.close()
            finally:
                _finish(scope, exit_)
            raise
        except BaseException as exc:
            thrown, sent = exc, None


def _wrap_async_generator(fn: Callable[..., Any], op: Operation) -> Callable[..., Any]:
    open_safely = op._open_safely

    @_wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        agen = fn(*args, **kwargs)
        scope = open_safely(args, kwargs)
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            token = _attach(scope) if scope is not None else None
            try:
                if thrown is None:
                    item = await agen.asend(sent)
                else:
                    item = await agen.athrow(thrown)
            except StopAsyncIteration:
                if scope is not None:
                    _detach(scope, token)
                    _finish(scope, None)
                return
            except BaseException as exc:
                if scope is not None:
                    _detach(scope, token)
                    _finish(scope, exc)
                raise
            if scope is not None:
                _detach(scope, token)
                _on_item(scope, item)
            try:
                sent = yield item
                thrown = None
            except GeneratorExit as exit_:
                try:
                    await agen.aclose()
                finally:
                    if scope is not None:
                        _finish(scope, exit_)
                raise
            except BaseException as exc:
                thrown, sent = exc, None

    return run


_tracer: Callable[[], trace.Tracer] | None = None  # .otel.tracer, imported on first use


def start_span(name: str, kind: trace.SpanKind, attributes: dict[str, Any] | None) -> Span:
    """Start a span on the library's tracer, as a child of the current context."""
    global _tracer
    if _tracer is None:  # an import statement per call costs about a microsecond
        from .otel import tracer

        _tracer = tracer
    return _tracer().start_span(name, kind=kind, attributes=attributes)
