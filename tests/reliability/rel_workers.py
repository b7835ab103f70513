"""Module-level decorated callables for the pickling and ``spawn`` pool tests."""

from __future__ import annotations

from rel_support import Demo


@Demo()
def double(x: int) -> int:
    """Double ``x``."""
    return x * 2


@Demo()
def count_up(n: int):  # type: ignore[no-untyped-def]
    yield from range(n)


class Service:
    @Demo()
    def method(self, x: int) -> int:
        return x + 100
