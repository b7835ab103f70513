"""``aiobs-otel report`` section: LLM calls by model (count, errors, latency, tokens, cost)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ... import semconv as sc
from ..report import percentile, table
from ..sinkdata import SinkData, SpanRecord

TITLE = "LLM calls"
ORDER = 30

_INFERENCE_OPERATIONS = frozenset({
    sc.GEN_AI_OP_CHAT, sc.GEN_AI_OP_TEXT_COMPLETION, sc.GEN_AI_OP_GENERATE_CONTENT,
    sc.GEN_AI_OP_EMBEDDINGS,
})


def _is_llm_call(span: SpanRecord) -> bool:
    return (span.attributes.get(sc.GEN_AI_OPERATION_NAME) in _INFERENCE_OPERATIONS
            and sc.GEN_AI_PROVIDER_NAME in span.attributes)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def render(data: SinkData) -> list[str]:
    """One row per (provider, model): calls, errors, p50/p95 latency, tokens in/out, cost."""
    groups: dict[tuple[str, str], list[SpanRecord]] = defaultdict(list)
    for span in data.spans:
        if _is_llm_call(span):
            attrs = span.attributes
            model = (attrs.get(sc.GEN_AI_RESPONSE_MODEL) or attrs.get(sc.GEN_AI_REQUEST_MODEL)
                     or "(unknown)")
            groups[(str(attrs.get(sc.GEN_AI_PROVIDER_NAME)), str(model))].append(span)
    if not groups:
        return []
    rows = []
    currencies: set[str] = set()
    for (provider, model), spans in sorted(groups.items()):
        durations = [s.duration_s * 1000 for s in spans]
        costs = [s.attributes.get(sc.AIOBS_GENAI_COST) for s in spans]
        priced = [c for c in costs if isinstance(c, (int, float))]
        currencies.update(str(s.attributes.get(sc.AIOBS_GENAI_COST_CURRENCY))
                          for s in spans if sc.AIOBS_GENAI_COST_CURRENCY in s.attributes)
        rows.append([
            model, provider, len(spans), sum(1 for s in spans if s.is_error),
            round(percentile(durations, 50), 1), round(percentile(durations, 95), 1),
            sum(_int(s.attributes.get(sc.GEN_AI_USAGE_INPUT_TOKENS)) for s in spans),
            sum(_int(s.attributes.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS)) for s in spans),
            f"{sum(priced):.6f}" if priced else "-",
        ])
    currency = "/".join(sorted(currencies)) or "USD"
    lines = table(["model", "provider", "calls", "errors", "p50 ms", "p95 ms", "tokens in",
                   "tokens out", f"cost {currency}"], rows)
    unpriced = sum(1 for spans in groups.values() for s in spans
                   if sc.AIOBS_GENAI_COST not in s.attributes)
    if unpriced:
        lines.append(f"  ({unpriced} call(s) without a known price or usage: no cost recorded)")
    return lines
