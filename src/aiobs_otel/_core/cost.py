"""LLM call cost from token usage and a pricing table, offline and never guessed.

Prices come from the table shipped in ``aiobs_otel/data/pricing.json`` (its ``source`` and
``as_of`` date are recorded in the file), merged with a user file (``AIOBS_PRICING_FILE``) and
with runtime overrides (:func:`set_pricing`). Prices are in the table's currency per one million
tokens: ``input``, ``output``, ``cached_input`` (cache reads), ``cache_write`` and ``reasoning``.
A missing ``cached_input``/``cache_write`` price means those tokens bill at ``input``; a missing
``reasoning`` price means reasoning tokens bill at ``output``.

A model is looked up exactly, then without a provider prefix (``openai/gpt-4o``) and without a
date suffix (``gpt-4o-2024-08-06``, ``claude-sonnet-4-5-20250929``). An unknown model gets no
cost (not zero) and one warning per model.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from . import state

__all__ = ["Cost", "Price", "compute_cost", "pricing_table", "set_pricing"]

_log = logging.getLogger("aiobs_otel")
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")
_PRICE_FIELDS = ("input", "output", "cached_input", "cache_write", "reasoning")


@dataclass(frozen=True)
class Price:
    """Prices per one million tokens."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None


class Cost(NamedTuple):  # a tuple: built on every priced call, cheaply
    amount: float
    currency: str
    source: str


@dataclass
class _Table:
    prices: dict[str, Price]
    currency: str
    source: str
    settings: Any  # the Settings object the table was loaded for


_lock = threading.Lock()
_table: _Table | None = None
_runtime: dict[str, Price] = {}
_runtime_replace = False
_warned: set[str] = set()
_MAX_WARNED = 20  # distinct unpriced models warned about, then silence


def _parse_price(model: str, raw: Any) -> Price:
    if not isinstance(raw, Mapping):
        raise ValueError(f"pricing for {model!r} must be an object, got {raw!r}")
    values: dict[str, float | None] = {}
    for name in _PRICE_FIELDS:
        value = raw.get(name)
        if value is None:
            values[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"pricing for {model!r}: {name} must be a non-negative number")
        values[name] = float(value)
    if values["input"] is None or values["output"] is None:
        raise ValueError(f"pricing for {model!r} needs both 'input' and 'output'")
    return Price(input=values["input"], output=values["output"],  # type: ignore[arg-type]
                 cached_input=values["cached_input"], cache_write=values["cache_write"],
                 reasoning=values["reasoning"])


def _parse_table(data: Any, origin: str) -> tuple[dict[str, Price], str | None, dict[str, Any]]:
    """(prices, currency, meta) from a pricing document: ``{"models": {name: prices}}``
    (optionally with ``currency``, ``source``, ``as_of`` and ``aliases``) or a bare mapping."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{origin}: expected a JSON object")
    models = data.get("models", data)
    if not isinstance(models, Mapping):
        raise ValueError(f"{origin}: 'models' must be an object")
    prices = {str(name): _parse_price(str(name), raw) for name, raw in models.items()
              if not str(name).startswith("_") and name not in ("currency", "source", "as_of",
                                                                   "aliases", "models")}
    aliases = data.get("aliases", {})
    if isinstance(aliases, Mapping):
        for alias, target in aliases.items():
            if target in prices:
                prices[str(alias)] = prices[str(target)]
    currency = data.get("currency")
    return prices, currency if isinstance(currency, str) else None, dict(data)


def _builtin() -> tuple[dict[str, Price], str, str]:
    from importlib.resources import files

    raw = files("aiobs_otel").joinpath("data/pricing.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    prices, currency, meta = _parse_table(data, "aiobs_otel/data/pricing.json")
    return prices, currency or "USD", f"builtin:{meta.get('as_of', 'unknown')}"


def _load() -> _Table:
    settings = state.current_settings()
    prices, currency, source = _builtin()
    if settings.pricing_file is not None:
        try:
            data = json.loads(Path(settings.pricing_file).read_text(encoding="utf-8"))
            user, user_currency, _ = _parse_table(data, str(settings.pricing_file))
            prices.update(user)
            currency = user_currency or currency
            source = f"file:{Path(settings.pricing_file).name}"
        except (OSError, ValueError) as exc:
            _log.warning("aiobs_otel: ignoring AIOBS_PRICING_FILE=%s (%s); using built-in prices",
                         settings.pricing_file, exc)
    return _Table(prices, currency, source, settings)


def pricing_table() -> _Table:
    """The active table (built-in + file), reloaded when the settings change."""
    global _table
    table = _table
    settings = state.STATE.settings
    if table is None or settings is None or table.settings is not settings:
        with _lock:
            table = _table = _load()
    return table


def set_pricing(prices: Mapping[str, Mapping[str, float]] | str | Path | None,
                *, replace: bool = False) -> None:
    """Override model prices at runtime (per one million tokens), from a mapping or a JSON file.

    ``replace=True`` uses only these prices; ``set_pricing(None)`` drops all runtime overrides.

    >>> import aiobs_otel as aiobs
    >>> aiobs.set_pricing({"acme-1": {"input": 0.5, "output": 1.5, "cached_input": 0.05}})
    >>> aiobs.set_pricing(None)
    """
    global _runtime_replace, _runtime_version
    if prices is None:
        with _lock:
            _runtime.clear()
            _runtime_replace = False
            _runtime_version += 1
        return
    if isinstance(prices, (str, Path)):
        data = json.loads(Path(prices).read_text(encoding="utf-8"))
        parsed, _, _ = _parse_table(data, str(prices))
    else:
        parsed, _, _ = _parse_table({"models": prices}, "set_pricing()")
    with _lock:
        if replace:
            _runtime.clear()
        _runtime.update(parsed)
        _runtime_replace = replace
        _runtime_version += 1


_lookup_cache: dict[tuple[str, int, int], tuple[Price | None, str]] = {}
_runtime_version = 0


def _lookup(model: str) -> tuple[Price | None, str]:
    table = pricing_table()
    key = (model, id(table), _runtime_version)
    hit = _lookup_cache.get(key)
    if hit is not None:
        return hit
    if len(_lookup_cache) > 4096:
        _lookup_cache.clear()
    result = _lookup_uncached(model, table)
    _lookup_cache[key] = result
    return result


def _lookup_uncached(model: str, table: _Table) -> tuple[Price | None, str]:
    runtime = _runtime
    candidates = [model]
    if "/" in model:
        candidates.append(model.rsplit("/", 1)[1])
    for name in list(candidates):
        stripped = _DATE_SUFFIX.sub("", name)
        if stripped != name:
            candidates.append(stripped)
    for name in candidates:
        price = runtime.get(name)
        if price is not None:
            return price, "runtime"
    if not _runtime_replace:
        for name in candidates:
            price = table.prices.get(name)
            if price is not None:
                return price, table.source
    return None, table.source


def compute_cost(models: tuple[str | None, ...], input_tokens: int | None,
                 output_tokens: int | None, cache_read_input_tokens: int | None = None,
                 cache_creation_input_tokens: int | None = None,
                 reasoning_tokens: int | None = None) -> Cost | None:
    """The cost of one call, or None when usage is unknown or no model has a price.

    ``models`` are tried in order (response model first, then the request model).
    """
    if input_tokens is None and output_tokens is None:
        return None
    price: Price | None = None
    source = ""
    first: str | None = None
    for model in models:
        if not model:
            continue
        if first is None:
            first = model
        price, source = _lookup(model)
        if price is not None:
            break
    if first is None:
        return None
    if price is None:
        key = first
        # Bounded: random model names (a cardinality attack) must not grow memory or the log.
        if key not in _warned and len(_warned) < _MAX_WARNED:
            _warned.add(key)
            _log.warning("aiobs_otel: no price known for model %r; no cost recorded "
                         "(add it with AIOBS_PRICING_FILE or aiobs.set_pricing())%s", key,
                         "; further unpriced models are not reported"
                         if len(_warned) == _MAX_WARNED else "")
        return None
    cache_read = cache_read_input_tokens or 0
    cache_write = cache_creation_input_tokens or 0
    total = 0.0
    if input_tokens is not None:
        uncached = max(0, input_tokens - cache_read - cache_write)
        total += uncached * price.input
        total += cache_read * (price.cached_input if price.cached_input is not None
                               else price.input)
        total += cache_write * (price.cache_write if price.cache_write is not None
                                else price.input)
    if output_tokens is not None:
        reasoning = min(reasoning_tokens or 0, output_tokens)
        total += (output_tokens - reasoning) * price.output
        total += reasoning * (price.reasoning if price.reasoning is not None else price.output)
    return Cost(amount=total / 1_000_000, currency=pricing_table().currency, source=source)


def reset_for_tests() -> None:
    global _table, _runtime_replace
    with _lock:
        _lookup_cache.clear()
        _table = None
        _runtime.clear()
        _runtime_replace = False
        _warned.clear()
