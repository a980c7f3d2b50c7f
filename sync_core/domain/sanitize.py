"""Bring MIS text within QuickBooks' rules for Customer fields. Pure functions, no I/O.

QuickBooks refuses a colon (it separates sub-customers), tab or newline in names, and limits
field lengths (``shared/spec/quickbooks-api.md``). A value that breaks a rule is repaired where
that keeps its meaning (spaces collapsed, forbidden characters removed, text cut) and dropped
where it does not (an e-mail that is not an address, a phone that is not a phone); every change
comes back as a warning the registrar can read.

Invisible characters: every Unicode format character (category Cf) is removed from all text,
names included. That covers the direction controls (U+202A..U+202E, U+2066..U+2069, U+200E,
U+200F, U+061C) that can make a name display differently from what it holds, the zero-width
characters (U+200B, U+200C, U+200D, U+2060, U+FEFF), the soft hyphen (U+00AD) and the invisible
tag characters (U+E0000 block) that can smuggle hidden text. The zero-width joiner and non-joiner
(ZWJ, ZWNJ) do carry meaning in some scripts (the ZWNJ in Persian words, half-forms in Indic
scripts), but only for how letters are drawn: the letters stay the same, and two names that look
alike must not differ by an invisible character in QuickBooks (DisplayName is unique there). They
are removed too (as UTS #46 does for domain names), and a name that lost any says so.

Binary values: a MIS column may come back as ``bytes`` (BLOB, VARBINARY, BINARY(n) padded with
NULs). UTF-8 text is decoded; anything else is refused, never guessed at (see
:func:`decode_binary`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import phonenumbers

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

# Unicode category Cf (format characters), as of Unicode 16; the Egyptian hieroglyph controls
# U+13439..U+1343F joined Cf in Unicode 15 (Python 3.12). tests/test_sanitize.py checks that this
# holds every Cf character of the running Python and nothing that is assigned and not Cf.
_FORMAT_CHARACTERS = re.compile(
    "["
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "]"
)

_BINARY_TYPES = (bytes, bytearray, memoryview)
# Control characters text does not hold (tab, newline, carriage return, form feed are text).
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def is_binary(raw: Any) -> bool:
    """Did the MIS column come back as bytes (BLOB, VARBINARY, BINARY(n))?"""
    return isinstance(raw, _BINARY_TYPES)


def decode_binary(raw: Any, label: str = "value") -> tuple[str, str | None]:
    """The text a binary MIS value holds, and a warning when it holds none.

    UTF-8 bytes are decoded, the NUL padding of a BINARY(n) column removed. Bytes that are not
    UTF-8, or that decode to control characters text does not contain (a photo, a hash, a UUID),
    give ``("", "<label> is binary data, not text: not sent")``: they are never guessed at (a
    Latin-1 reading of arbitrary bytes is garbage that looks like text), and the warning never
    shows the bytes. A value that is not binary comes back as text, not cleaned (see
    :func:`clean_text`), with no warning.
    """
    if not isinstance(raw, _BINARY_TYPES):
        if raw is None:
            return "", None
        return (raw if isinstance(raw, str) else str(raw)), None
    data = bytes(raw).rstrip(b"\x00")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "", f"{label} is binary data, not text: not sent"
    if _BINARY_CONTROLS.search(text):
        return "", f"{label} is binary data, not text: not sent"
    return text, None


def clean_text(raw: Any) -> str:
    """NFC-normalised, control characters (tab, newline, ...) turned to spaces, spaces collapsed.

    Format characters (Unicode Cf: direction controls, zero-width characters including ZWJ and
    ZWNJ, soft hyphen, tag characters) are removed, see the module's docstring. Binary values are
    decoded as UTF-8; bytes that are not text give "" (:func:`decode_binary` says why).
    """
    if raw is None:
        return ""
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, _BINARY_TYPES):
        text = decode_binary(raw)[0]
    else:
        text = str(raw)
    if text.isascii() and text.isprintable() and "  " not in text and text == text.strip():
        return text  # already clean: the common case, kept cheap
    if not text.isascii():
        # removed before NFC, so that "e" + ZWSP + combining acute still becomes one "é"
        text = unicodedata.normalize("NFC", _FORMAT_CHARACTERS.sub("", text))
    text = _CONTROL_CHARACTERS.sub(" ", text)
    return " ".join(text.split())


def has_invisible_chars(raw: Any) -> bool:
    """Does the text hold format characters (direction controls, zero-width, ...) to remove?"""
    if isinstance(raw, _BINARY_TYPES):
        raw = decode_binary(raw)[0]
    return isinstance(raw, str) and not raw.isascii() and bool(_FORMAT_CHARACTERS.search(raw))


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
    if raw is None:
        return False
    text = decode_binary(raw)[0]
    return bool(_NAME_FORBIDDEN.search(text.strip()))


def clean_name(raw: Any, label: str, limit: int = PERSON_NAME_MAX) -> Cleaned:
    """A person name for GivenName/MiddleName/FamilyName: no colon, tab or newline; ``limit``.

    Invisible and direction-changing characters (all Unicode Cf, ZWJ and ZWNJ included) are
    removed with a warning; a binary value that is not UTF-8 text is not sent.
    """
    if isinstance(raw, _BINARY_TYPES):
        raw, refused = decode_binary(raw, label)
        if refused:
            return Cleaned("", refused)
    full = text = name_text(raw)
    notes = []
    if text != raw:  # removing an invisible or a forbidden character changes the text
        if has_invisible_chars(raw):
            notes.append("had invisible or direction-changing characters: removed")
        if has_forbidden_name_chars(raw):
            notes.append(
                "had characters QuickBooks refuses in names (colon, tab, newline): removed"
            )
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


@functools.cache
def _special_use_tlds() -> frozenset[str]:
    # email-validator is imported on first use (its import compiles many patterns: ~20 ms of
    # every cold CLI start that maps no address)
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    return frozenset(SPECIAL_USE_DOMAIN_NAMES)


def _plain_email(text: str) -> str | None:
    match = _PLAIN_EMAIL.fullmatch(text)
    if not match or len(match.group(1)) > 64 or len(text) > 254:
        return None
    domain = match.group(2).lower()
    if match.group(3).lower() in _special_use_tlds() or "xn--" in domain:
        return None
    return f"{match.group(1)}@{domain}"


def clean_email(raw: Any) -> Cleaned:
    if isinstance(raw, _BINARY_TYPES):
        raw, refused = decode_binary(raw, "email")
        if refused:
            return Cleaned("", refused)
    text = clean_text(raw)
    if not text:
        return Cleaned("")
    if len(text) > EMAIL_MAX:
        return Cleaned("", f"email {_quote(text)} is longer than {EMAIL_MAX} characters: not sent")
    plain = _plain_email(text)
    if plain is not None:
        return Cleaned(plain)
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return Cleaned("", f"email {_quote(text)} is not an address: not sent")
    if len(result.normalized) > EMAIL_MAX:
        return Cleaned("", f"email {_quote(text)} is longer than {EMAIL_MAX} characters: not sent")
    return Cleaned(result.normalized)


# The phone fast path. Parsing with phonenumbers costs ~30 us a number, most of mapping's time,
# while nearly every MIS phone is a plain Rwandan mobile. For the default region RW, a phone made
# of ASCII digits in single groups separated by one space, "-" or "." (and an optional leading
# "+") whose digits are
#     "0" + N,  N,  "250" + N  (no "+"),  or  "+250" + N
# where N is 9 digits starting with a prefix of _rw_mobile_prefixes(), is "+250" + N: exactly
# what phonenumbers gives (tests/test_sanitize.py compares both over a large corpus). Anything
# else, or any other region, goes to phonenumbers.
_PHONE_SHAPE = re.compile(r"\+?[0-9]+(?:[ .-][0-9]+)*")
_RW_SHAPES = ("0{}", "{}", "250{}", "+250{}")
_PROBE_TAILS = ("000000", "999999", "123456", "654321", "505050", "090909")


def _rw_phone_slow_e164(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "RW")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.cache
def _rw_mobile_prefixes() -> frozenset[str]:
    """The 3-digit national prefixes (e.g. "788") that phonenumbers' own metadata holds as valid
    Rwandan mobiles, found by asking phonenumbers (once, on first use: a few ms), not written down.

    A prefix is taken when every probe number of 9 digits beginning with it is a valid mobile,
    and when phonenumbers parses one in each accepted shape to "+250" + the national number.
    (With today's metadata, mobile ``7[237-9]\\d{7}``, that is 720-739 and 770-799; a metadata
    test in tests/test_sanitize.py pins the patterns this was proven against.)
    """
    accepted = set()
    for first in range(100, 1000):
        prefix = str(first)
        numbers = [prefix + tail for tail in _PROBE_TAILS]
        if not _may_be_rw_mobile(numbers[0]):
            continue  # what _is_rw_mobile would say, for a fraction of its cost
        if not all(_is_rw_mobile(national) for national in numbers):
            continue
        sample = numbers[2]
        if all(
            _rw_phone_slow_e164(shape.format(sample)) == "+250" + sample for shape in _RW_SHAPES
        ):
            accepted.add(prefix)
    return frozenset(accepted)


@functools.cache
def _rw_mobile_pattern() -> re.Pattern[str] | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("RW")
    desc = metadata.mobile if metadata is not None else None
    pattern = desc.national_number_pattern if desc is not None else None
    return re.compile(pattern) if pattern else None


def _may_be_rw_mobile(national: str) -> bool:
    """False only where :func:`_is_rw_mobile` is False: phonenumbers calls a number a mobile
    only when its national number fully matches the metadata's mobile pattern (a regular
    expression: microseconds, where asking phonenumbers takes tens). Lets the prefixes be found
    in a few milliseconds in every cold process."""
    pattern = _rw_mobile_pattern()
    return pattern is None or pattern.fullmatch(national) is not None


def _is_rw_mobile(national: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=250, national_number=int(national))
    return (
        phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        and phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        == "+250" + national
    )


def _fast_rw_phone(text: str) -> str | None:
    """E.164 of a plain Rwandan mobile (see above), or None: ask phonenumbers."""
    if not _PHONE_SHAPE.fullmatch(text):
        return None
    digits = text.replace(" ", "").replace("-", "").replace(".", "")
    size = len(digits)
    if size == 9:
        national = digits
    elif size == 10 and digits[0] == "0":
        national = digits[1:]
    elif size == 12 and digits.startswith("250"):
        national = digits[3:]
    elif size == 13 and digits.startswith("+250"):
        national = digits[4:]
    else:
        return None
    return "+250" + national if national[:3] in _rw_mobile_prefixes() else None


def clean_phone(raw: Any, region: str = "RW") -> Cleaned:
    """A valid phone number in E.164 form (+250788123456); junk such as "N/A" is dropped."""
    if isinstance(raw, _BINARY_TYPES):
        raw, refused = decode_binary(raw, "phone")
        if refused:
            return Cleaned("", refused)
    text = clean_text(raw)
    if not text:
        return Cleaned("")
    if region == "RW":
        fast = _fast_rw_phone(text)
        if fast is not None:
            return Cleaned(fast)
    return _parsed_phone(text, region)


def _clean_phone_slow(raw: Any, region: str = "RW") -> Cleaned:
    """:func:`clean_phone` without its fast path: every number parsed by phonenumbers."""
    if isinstance(raw, _BINARY_TYPES):
        raw, refused = decode_binary(raw, "phone")
        if refused:
            return Cleaned("", refused)
    text = clean_text(raw)
    if not text:
        return Cleaned("")
    return _parsed_phone(text, region)


def _parsed_phone(text: str, region: str) -> Cleaned:
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
