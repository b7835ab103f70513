"""An opt-in PII scrubber for captured GenAI content: emails, phone numbers, payment cards,
IBANs and US social security numbers.

The built-in redactor (always on when content is captured) removes credentials: API keys,
bearer tokens, JWTs, cloud keys. Personal data is a different trade-off (false positives cost
content), so this scrubber is opt-in::

    import aiobs_otel as aiobs
    from aiobs_otel.redaction import pii_redactor

    aiobs.set_redactor(pii_redactor)  # runs after the built-in credential scrubber

Card numbers are replaced only when their Luhn checksum holds, IBANs only when their ISO 7064
mod-97 check holds, so order numbers and other long digit runs are kept. Regexes cannot promise
to find everything (base64 or otherwise encoded data passes); for regulated data keep content
capture off.

>>> pii_redactor("mail jane.doe@example.com or call +1 (415) 555-0132")
'mail [EMAIL] or call [PHONE]'
"""

from __future__ import annotations

import re

__all__ = ["iban_valid", "luhn_valid", "pii_redactor"]

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
CARD = "[CARD]"
IBAN = "[IBAN]"
SSN = "[SSN]"

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# 13-19 digits, optionally grouped by single spaces or dashes.
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
# Country code, check digits, then 11-30 uppercase alphanumerics, compact or in groups of four.
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)"
    r"(?![A-Za-z0-9])"
)
_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
# International (+CC ...) or North-American/European grouped numbers; 9-15 digits in total.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,8}){1,4}(?![\w-])"
)
_HINT_DIGITS = re.compile(r"\d")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a digit string (payment card numbers)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """The ISO 7064 mod-97 check of an IBAN (spaces allowed)."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return CARD if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


def _iban(match: re.Match[str]) -> str:
    return IBAN if iban_valid(match.group(0)) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    if not 9 <= digits <= 15:
        return text
    if not (text.startswith("+") or "(" in text or re.search(r"[ .-]", text)):
        return text
    return PHONE


def pii_redactor(text: str) -> str:
    """``text`` with emails, phone numbers, Luhn-valid cards, IBANs and SSNs replaced."""
    if "@" in text:
        text = _EMAIL.sub(EMAIL, text)
    if not _HINT_DIGITS.search(text):
        return text
    text = _IBAN.sub(_iban, text)
    text = _CARD.sub(_card, text)
    text = _SSN.sub(SSN, text)
    return _PHONE.sub(_phone, text)
