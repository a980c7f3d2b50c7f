"""Bring MIS text within QuickBooks' rules for Customer fields. Pure functions, no I/O.

QuickBooks refuses a colon (it separates sub-customers), tab or newline in names, and limits
field lengths (``shared/spec/quickbooks-api.md``). A value that breaks a rule is repaired where
that keeps its meaning (spaces collapsed, forbidden characters removed, text cut) and dropped
where it does not (an e-mail that is not an address, a phone that is not a phone); every change
comes back as a warning the registrar can read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

DISPLAY_NAME_MAX = 500
PERSON_NAME_MAX = 100
PHONE_MAX = 30
EMAIL_MAX = 100
NOTES_MAX = 2000


@dataclass(frozen=True)
class Cleaned:
    value: str
    warning: str | None = None
    uncut: str = ""  # the cleaned text before it was cut to its limit


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc


def clean_text(raw: Any) -> str:
    """NFC-normalised, control characters (tab, newline, ...) turned to spaces, spaces collapsed."""
    if raw is None:
        return ""
    text = raw if isinstance(raw, str) else str(raw)
    if text.isascii() and text.isprintable() and "  " not in text and text == text.strip():
        return text  # already clean: the common case, kept cheap
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    text = _CONTROL_CHARACTERS.sub(" ", text)
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip()


def _quote(text: str, limit: int = 40) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(shown)


_NAME_FORBIDDEN = re.compile(r"[:\t\r\n]")


def name_text(raw: Any) -> str:
    """A name with the characters QuickBooks refuses in names (colon, tab, newline) removed."""
    text = clean_text(raw)
    if ":" in text:
        text = " ".join(text.replace(":", " ").split())
    return text


def has_forbidden_name_chars(raw: Any) -> bool:
    """A colon, tab or newline inside the name (surrounding whitespace is merely trimmed)."""
    return raw is not None and bool(_NAME_FORBIDDEN.search(str(raw).strip()))


def clean_name(raw: Any, label: str, limit: int = PERSON_NAME_MAX) -> Cleaned:
    """A person name for GivenName/MiddleName/FamilyName: no colon, tab or newline; ``limit``."""
    full = text = name_text(raw)
    notes = []
    if text != raw and has_forbidden_name_chars(raw):
        notes.append("had characters QuickBooks refuses in names (colon, tab, newline): removed")
    if len(text) > limit:
        notes.append(f"is {len(text)} characters: cut to {limit}")
        text = shorten(text, limit)
    warning = f"{label} {'; '.join(notes)}" if notes else None
    return Cleaned(text, warning, full)


# The everyday address (ASCII dot-atom local part, ordinary host names, a TLD of letters) that
# email-validator certainly accepts; anything else is left to email-validator to decide. This
# fast path is what keeps mapping above 20,000 records/s (tests/test_sanitize.py proves both
# agree on every address the fast path takes).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+([A-Za-z]{{2,63}}))")
_SPECIAL_USE_TLDS = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def _plain_email(text: str) -> str | None:
    match = _PLAIN_EMAIL.fullmatch(text)
    if not match or len(match.group(1)) > 64 or len(text) > 254:
        return None
    domain = match.group(2).lower()
    if match.group(3).lower() in _SPECIAL_USE_TLDS or "xn--" in domain:
        return None
    return f"{match.group(1)}@{domain}"


def clean_email(raw: Any) -> Cleaned:
    text = clean_text(raw)
    if not text:
        return Cleaned("")
    if len(text) > EMAIL_MAX:
        return Cleaned("", f"email {_quote(text)} is longer than {EMAIL_MAX} characters: not sent")
    plain = _plain_email(text)
    if plain is not None:
        return Cleaned(plain)
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return Cleaned("", f"email {_quote(text)} is not an address: not sent")
    if len(result.normalized) > EMAIL_MAX:
        return Cleaned("", f"email {_quote(text)} is longer than {EMAIL_MAX} characters: not sent")
    return Cleaned(result.normalized)


def clean_phone(raw: Any, region: str = "RW") -> Cleaned:
    """A valid phone number in E.164 form (+250788123456); junk such as "N/A" is dropped."""
    text = clean_text(raw)
    if not text:
        return Cleaned("")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return Cleaned("", f"phone {_quote(text)} is not a phone number: not sent")
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Cleaned(shorten(formatted, PHONE_MAX))


def clean_gender(raw: Any) -> str:
    text = clean_text(raw)
    return {"m": "Male", "male": "Male", "f": "Female", "female": "Female"}.get(text.lower(), text)
