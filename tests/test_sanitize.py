"""Sanitising text to QuickBooks' rules, and the e-mail fast path agreeing with email-validator."""

from __future__ import annotations

import random
import string

import pytest
from email_validator import EmailNotValidError, validate_email

from sync_core.domain import sanitize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("  Jean   Claude ", "Jean Claude"),
        ("Jean\tClaude\nHabimana", "Jean Claude Habimana"),
        ("e\u0301milienne", "émilienne"),  # decomposed accent -> one character (NFC)
        ("a\x00b\x7fc\x85d", "a b c d"),  # control characters
        ("already clean", "already clean"),
        (1234, "1234"),
    ],
)
def test_clean_text(raw, expected):
    assert sanitize.clean_text(raw) == expected


def test_clean_name_removes_what_quickbooks_refuses_and_says_so():
    cleaned = sanitize.clean_name("Marie: Claire\tUwase", "first name")
    assert cleaned.value == "Marie Claire Uwase"
    assert "colon, tab, newline" in cleaned.warning
    assert sanitize.clean_name("  Grace  ", "first name").warning is None  # trimming is silent


def _corpus() -> list[str]:
    rng = random.Random(7)
    words = ["john", "doe", "grace.uwase", "o'brien", "a+b", "x_y", "jean-claude", "UPPER"]
    domains = [
        "gmail.com",
        "Yahoo.FR",
        "ur.ac.rw",
        "mail.example.org",
        "b.co",
        "x.test",
        "host.local",
        "xn--bcher-kva.de",
        "a-.com",
        "-a.com",
        "a..com",
        "c.c0m",
        "sub.domain.technology",
        "B.C",
        "localhost",
    ]
    corpus = [f"{w}@{d}" for w in words for d in domains]
    corpus += [
        "john@",
        "@gmail.com",
        "a..b@c.com",
        ".a@c.com",
        "a.@c.com",
        "a b@c.com",
        "a@b",
        "a@b.",
        "x@y",
        "n/a",
        "none",
        "a@b@c.com",
        "john@gmail.com.",
        '"quoted"@c.com',
        "jürgen@exämple.de",
        "a" * 65 + "@c.com",
    ]
    for _ in range(300):
        local = "".join(
            rng.choice(string.ascii_letters + string.digits + "._+-'")
            for _ in range(rng.randint(1, 12))
        )
        corpus.append(f"{local}@{rng.choice(domains)}")
    return corpus


def test_email_fast_path_agrees_with_email_validator_on_every_address():
    taken_by_fast_path = 0
    for address in _corpus():
        fast = sanitize._plain_email(address)
        try:
            library = validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError:
            library = None
        if fast is not None:
            taken_by_fast_path += 1
            assert fast == library, address
        result = sanitize.clean_email(address)
        if library is None or len(library) > sanitize.EMAIL_MAX:
            assert result.value == "" and result.warning, address
        else:
            assert result.value == library, address
    assert taken_by_fast_path > 100  # the fast path really carries the common case


def test_phone_is_e164_or_dropped():
    assert sanitize.clean_phone("0788 123 456").value == "+250788123456"
    assert sanitize.clean_phone("+254 712 345678").value == "+254712345678"
    for junk in ("N/A", "0", "12345", "0788123456 / 0722654321"):
        dropped = sanitize.clean_phone(junk)
        assert dropped.value == "" and "is not a phone number" in dropped.warning
