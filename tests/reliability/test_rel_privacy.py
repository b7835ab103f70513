"""R24: privacy defaults and PII redaction measured on a fixture.

Credentials (JWT, ``sk-`` keys, AKIA keys, bearer tokens) are removed by the built-in scrubber
whenever content is captured; personal data (emails, phones, Luhn-valid cards, IBANs, SSNs) by
the opt-in :func:`aiobs_otel.redaction.pii_redactor`. Recall and precision are measured over
the fixture below: recall >= 99 %, precision >= 95 %.
"""

from __future__ import annotations

import logging

import pytest

from aiobs_otel._core import content
from aiobs_otel.config import ContentCapture, load_settings
from aiobs_otel.redaction import iban_valid, luhn_valid, pii_redactor

SECRETS = [
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "sk-proj-AbCdEf1234567890GhIjKl",
    "sk-ant-api03-abcdefghijklmnop0123",
    "AKIAIOSFODNN7EXAMPLE",
]
PII = [
    "jane.doe@example.com", "j+tag@mail.example.co.uk", "first_last@sub.domain.org",
    "+1 415 555 0132", "(415) 555-0132", "+44 20 7946 0958", "415-555-0132", "+49 30 1234567",
    "4111 1111 1111 1111", "5500-0000-0000-0004", "340000000000009", "6011000000000004",
    "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606",
    "123-45-6789",
]
TEMPLATES = [
    "Please contact {} about the refund.",
    "my details: {} (do not share)",
    "{}",
    "Row 17: value={}; status=ok",
    "Der Kunde schrieb: «{}» gestern.",
]
NEGATIVES = [
    "Order 1234567890123 shipped on 2024-01-15 at 10:30.",
    "Version v1.2.3 released; build 20240115.",
    "Total: $1,234.56 for 3 items (SKU 998877).",
    "Timestamp 2026-12-01T19:00:00Z, port 8080, pid 4242.",
    "The year 1999 had 365 days and 12 months.",
    "Invoice no. 4111111111111112 is not a card (checksum fails).",
    "Reference GB00 WEST 1234 5698 7654 32 fails the IBAN check.",
    "Coordinates 48.8566, 2.3522 and room 101.",
    "Use ratio 16:9 and a 1920x1080 display.",
    "Call me at extension 42 or see page 314.",
    "He scored 98 out of 100 in 2023.",
    "Email support at example dot com, no at-sign here.",
    "The key insight is a token-efficient password policy.",
    "ISBN 978-3-16-148410-0 is a book number.",
]


@pytest.fixture
def pii_on():
    content.set_redactor(pii_redactor)
    yield
    content.set_redactor(None)


def test_rel_r24_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB00WEST12345698765432")


def test_rel_r24_recall_and_precision_on_the_fixture(pii_on):
    found = total = 0
    for item in SECRETS + PII:
        for template in TEMPLATES:
            text = template.format(item)
            scrubbed = content.redact(text)
            total += 1
            found += item not in scrubbed and _no_fragment(item, scrubbed)
    recall = found / total
    changed = sum(content.redact(text) != text for text in NEGATIVES)
    replacements = total  # every true item was replaced once per template
    precision = found / (found + changed) if found + changed else 1.0
    print(f"PII fixture: recall {recall:.3f} over {total}, precision {precision:.3f} "
          f"({changed} of {len(NEGATIVES)} clean texts altered), {replacements} true items")
    assert recall >= 0.99, recall
    assert precision >= 0.95, precision
    assert changed <= 1, [t for t in NEGATIVES if content.redact(t) != t]


def _no_fragment(item: str, scrubbed: str) -> bool:
    """No 8-character run of the secret's alphanumerics survives."""
    compact = "".join(c for c in item if c.isalnum())
    flat = "".join(c for c in scrubbed if c.isalnum())
    return not any(compact[i:i + 8] in flat for i in range(0, max(1, len(compact) - 7)))


def test_rel_r24_credentials_are_removed_without_opting_in():
    for item in SECRETS:
        assert item not in content.redact(f"token: {item}")


def test_rel_r24_privacy_default_is_no_content(monkeypatch):
    for name in ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "AIOBS_CAPTURE_CONTENT"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings().capture_content is ContentCapture.NO_CONTENT


def test_rel_r24_invalid_capture_value_means_no_content_and_one_warning(caplog):
    caplog.set_level(logging.WARNING, logger="aiobs_otel")
    settings = load_settings(environ={
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVERYTHING_PLEASE"})
    assert settings.capture_content is ContentCapture.NO_CONTENT
    assert len([r for r in caplog.records if "CAPTURE" in r.getMessage()]) == 1


def test_rel_r24_default_capture_records_no_content(monkeypatch):
    pytest.importorskip("openai")
    import aiobs_otel as aiobs
    from aiobs_otel.testing import capture

    with capture() as telemetry:
        with aiobs.llm_call(provider="openai", model="gpt-4o-mini") as call:
            call.set_response({"model": "gpt-4o-mini", "choices": [
                {"message": {"role": "assistant", "content": "secret answer"},
                 "finish_reason": "stop"}], "usage": {"prompt_tokens": 1,
                                                      "completion_tokens": 1}})
        [span] = telemetry.spans()
        assert not [k for k in span.attributes if k.endswith("messages")
                    or k.endswith("instructions")]
        assert "secret answer" not in repr(dict(span.attributes))
        assert not [r for r in telemetry.logs()
                    if "secret answer" in repr(r.log_record.body) + repr(r.log_record.attributes)]
