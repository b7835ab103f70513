"""GenAI content capture helpers: redaction, JSON serialization and byte-bounded truncation.

Content (prompts, completions, tool arguments) is recorded only when the user opts in
(``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``). Before it is recorded every string in
it passes the redaction hook: the default scrubber replaces API keys, bearer tokens, JWTs, cloud
credentials and ``password=...``-style secrets with ``[REDACTED]`` (never echoing what it
matched). :func:`set_redactor` plugs in your own function.

Truncation works on the structure, not on the JSON text, so the result always parses: string
leaves are shortened (longest first) and, if that is not enough, the oldest messages dropped.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["REDACTED", "default_redactor", "redact", "set_redactor", "to_bounded_json"]

REDACTED = "[REDACTED]"
_ELLIPSIS = "…"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: Bearer xyz", "bearer xyz"
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 " + REDACTED),
    # OpenAI / Anthropic / generic "sk-..." keys (sk-proj-..., sk-ant-api03-...)
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), REDACTED),
    # AWS access key ids
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    # Google API keys
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"), REDACTED),
    # GitHub tokens
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), REDACTED),
    # Slack tokens
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), REDACTED),
    # Hugging Face tokens
    (re.compile(r"\bhf_[A-Za-z0-9]{20,}"), REDACTED),
    # JWTs
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), REDACTED),
    # key=value / "key": "value" secrets
    (re.compile(
        r"(?i)\b((?:api[_\-]?key|x-api-key|secret(?:[_\-]?key)?|password|passwd|access[_\-]?token"
        r"|auth[_\-]?token|client[_\-]?secret)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]{4,}"),
     r"\1" + REDACTED),
    # private key blocks
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
     REDACTED),
)

# A cheap pre-filter: skip the regexes for strings that cannot contain any of the patterns.
_HINT = re.compile(
    r"(?i)bearer|basic|sk-|AKIA|ASIA|AIza|gh[pousr]_|github_pat_|xox|hf_|eyJ|key|secret|pass"
    r"|token|PRIVATE KEY")


def default_redactor(value: str) -> str:
    """Replace secrets in ``value`` with ``[REDACTED]``.

    >>> default_redactor("use key sk-proj-abcdefghijklmnopqrstuv please")
    'use key [REDACTED] please'
    """
    if not _HINT.search(value):
        return value
    for pattern, replacement in _PATTERNS:
        value = pattern.sub(replacement, value)
    return value


_lock = threading.Lock()
_user_redactor: Callable[[str], str] | None = None
_keep_default = True


def set_redactor(fn: Callable[[str], str] | None, *, keep_default: bool = True) -> None:
    """Install ``fn(text) -> text``, applied to every captured string before it is recorded.

    By default it runs after the built-in secret scrubber; ``keep_default=False`` replaces the
    scrubber. ``set_redactor(None)`` restores the default.

    >>> import aiobs_otel as aiobs
    >>> aiobs.set_redactor(lambda s: s.replace("ACME-CONFIDENTIAL", "[REDACTED]"))
    >>> aiobs.set_redactor(None)
    """
    global _user_redactor, _keep_default
    if fn is not None and not callable(fn):
        raise TypeError(f"set_redactor expects a callable or None, got {fn!r}")
    with _lock:
        _user_redactor = fn
        _keep_default = True if fn is None else keep_default


def _redact_string(value: str) -> str:
    if _keep_default:
        value = default_redactor(value)
    user = _user_redactor
    if user is not None:
        result = user(value)
        value = result if isinstance(result, str) else str(result)
    return value


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` (JSON-like data) with every string passed through the redactor."""
    if isinstance(value, str):
        return _redact_string(value)
    if depth > 32:
        return None
    if isinstance(value, dict):
        return {str(k): redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _redact_string(str(value))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _cap_strings(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + _ELLIPSIS
    if isinstance(value, dict):
        return {k: _cap_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_cap_strings(v, limit) for v in value]
    return value


def _longest_string(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((_longest_string(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((_longest_string(v) for v in value), default=0)
    return 0


def _fits(text: str, max_bytes: int) -> bool:
    # UTF-8 is at most 4 bytes per character: a cheap accept before the exact count.
    return len(text) * 4 <= max_bytes or len(text.encode("utf-8")) <= max_bytes


def to_bounded_json(value: Any, max_bytes: int) -> tuple[str, bool]:
    """``value`` as compact JSON of at most ``max_bytes`` UTF-8 bytes; (json, truncated).

    The result is always valid JSON: long strings are cut (marked with ``…``) and, for lists,
    the oldest items are dropped when cutting strings alone is not enough.

    >>> to_bounded_json([{"content": "x" * 100}], 40)
    ('[{"content":"xxxxxxxxxxxxxxxxxxxxx…"}]', True)
    """
    text = _dumps(value)
    if _fits(text, max_bytes):
        return text, False
    longest = _longest_string(value)
    low, high = 0, min(longest, max_bytes)  # a longer string can never fit
    if high < longest:
        value = _cap_strings(value, high)  # shrink once, so the search serializes little
    best: str | None = None
    while low <= high:  # the largest per-string cap that fits
        mid = (low + high) // 2
        candidate = _dumps(_cap_strings(value, mid))
        if _fits(candidate, max_bytes):
            best, low = candidate, mid + 1
        else:
            high = mid - 1
    if best is not None:
        return best, True
    if isinstance(value, list) and len(value) > 1:
        return to_bounded_json(value[1:], max_bytes)[0], True
    if isinstance(value, list):
        return "[]", True
    return "null" if max_bytes < 2 else "{}", True
