"""Sanitising text to QuickBooks' rules, and the e-mail fast path agreeing with email-validator."""

from __future__ import annotations

import random
import re
import string
import sys
import unicodedata

import phonenumbers
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


# --- invisible and direction-changing characters ---------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\u202eJohn\u202c", "John"),  # right-to-left override ... pop
        ("\u2067Uwase\u2069", "Uwase"),  # right-to-left isolate ... pop
        ("\u200eGrace\u200f \u061cMukamana", "Grace Mukamana"),  # LRM, RLM, Arabic letter mark
        ("Jean\u200bClaude", "JeanClaude"),  # zero-width space: shown as nothing, removed
        ("\ufeffGrace", "Grace"),  # byte order mark / zero-width no-break space
        ("Ma\u00adrie", "Marie"),  # soft hyphen
        ("Jo\u2060hn\u200d\u200c", "John"),  # word joiner, ZWJ, ZWNJ
        ("John\U000e0041\U000e0042\U000e007f", "John"),  # invisible tag characters
        ("e\u200b\u0301milienne", "émilienne"),  # removed before NFC: one "é"
        ("\u200b \u200b", ""),
        ("Ngoga\u00a0\u2003Eric", "Ngoga Eric"),  # Unicode spaces are spaces, collapsed
    ],
)
def test_clean_text_removes_format_characters(raw, expected):
    assert sanitize.clean_text(raw) == expected


def test_zwnj_is_removed_from_persian_names_too_by_choice():
    # The documented choice: a Persian name written with a ZWNJ keeps its letters (only how they
    # join changes), and cannot differ from its look-alike by an invisible character.
    assert sanitize.clean_text("\u0639\u0628\u062f\u200c\u0627\u0644\u0644\u0647") == (
        "\u0639\u0628\u062f\u0627\u0644\u0644\u0647"
    )
    cleaned = sanitize.clean_name("\u0645\u06cc\u200c\u0631\u0627", "family name")
    assert cleaned.value == "\u0645\u06cc\u0631\u0627" and "invisible" in cleaned.warning


def test_format_character_class_is_every_cf_character_and_nothing_else_assigned():
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    removed = set(sanitize._FORMAT_CHARACTERS.findall(everything))
    format_characters = {c for c in everything if unicodedata.category(c) == "Cf"}
    assert format_characters <= removed
    # beyond this Python's Cf: only what later Unicode made Cf (U+13439..U+1343F, Unicode 15)
    assert {unicodedata.category(c) for c in removed - format_characters} <= {"Cn"}


def test_clean_name_says_when_it_removed_invisible_characters():
    cleaned = sanitize.clean_name("\u202eJohn\u200b", "first name")
    assert cleaned == sanitize.Cleaned(
        "John", "first name had invisible or direction-changing characters: removed", "John"
    )
    both = sanitize.clean_name("Marie:\u200dClaire", "middle name")
    assert both.value == "Marie Claire"
    assert both.warning == (
        "middle name had invisible or direction-changing characters: removed; "
        "had characters QuickBooks refuses in names (colon, tab, newline): removed"
    )
    for name in ("Grace", "Émilienne", "Jean Claude", "  Grace  ", "Nkurunziza-Habimana", None):
        assert sanitize.clean_name(name, "first name").warning is None, name


# --- binary values -----------------------------------------------------------------------------

NOT_TEXT = "value is binary data, not text: not sent"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"Jean Claude", ("Jean Claude", None)),
        (b"Uwase" + b"\x00" * 11, ("Uwase", None)),  # BINARY(16) padding
        (bytearray("Émilienne".encode()), ("Émilienne", None)),
        (memoryview(b"0788123456"), ("0788123456", None)),
        (b"", ("", None)),
        (b"\x00" * 8, ("", None)),
        (b"Line one\r\nline two\t", ("Line one\r\nline two\t", None)),
        (b"Ren\xe9", ("", NOT_TEXT)),  # Latin-1, not UTF-8: refused, not guessed
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", ("", NOT_TEXT)),  # a JPEG
        (bytes(range(16)), ("", NOT_TEXT)),  # a UUID in BINARY(16): UTF-8, but controls
        (b"ab\x00cd", ("", NOT_TEXT)),  # a NUL inside, not padding
        ("Grace", ("Grace", None)),  # not binary: as it is
        (None, ("", None)),
        (12, ("12", None)),
    ],
)
def test_decode_binary(raw, expected):
    assert sanitize.decode_binary(raw) == expected


def test_clean_text_decodes_utf8_bytes_and_gives_nothing_for_other_bytes():
    assert sanitize.clean_text(b"  Jean\tClaude \x00\x00") == "Jean Claude"
    assert sanitize.clean_text(b"\xe2\x80\xaeJohn") == "John"  # RLO, UTF-8 encoded
    assert sanitize.clean_text(b"\xef\xbb\xbfGrace") == "Grace"  # UTF-8 byte order mark
    assert sanitize.clean_text(b"Ren\xe9") == ""
    assert sanitize.clean_text(bytearray(b"\x89PNG\r\n\x1a\n")) == ""


def test_binary_that_is_not_text_is_not_sent_and_the_warning_says_so_without_the_bytes():
    blob = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"
    results = {
        "first name": sanitize.clean_name(blob, "first name"),
        "email": sanitize.clean_email(blob),
        "phone": sanitize.clean_phone(blob),
        "phone (slow)": sanitize._clean_phone_slow(memoryview(blob)),
    }
    for label, cleaned in results.items():
        assert cleaned.value == "", label
        assert cleaned.warning.endswith("is binary data, not text: not sent"), label
        assert "PNG" not in cleaned.warning and "\\x" not in cleaned.warning, label
    assert results["first name"].warning == "first name is binary data, not text: not sent"
    assert results["email"].warning == "email is binary data, not text: not sent"
    assert results["phone"].warning == "phone is binary data, not text: not sent"


def test_binary_text_is_cleaned_like_text():
    assert sanitize.clean_name(b"Marie: Claire\x00\x00", "first name") == sanitize.Cleaned(
        "Marie Claire",
        "first name had characters QuickBooks refuses in names (colon, tab, newline): removed",
        "Marie Claire",
    )
    assert sanitize.clean_name(bytearray(b"Grace"), "first name") == sanitize.Cleaned(
        "Grace", None, "Grace"
    )
    assert sanitize.has_forbidden_name_chars(b"Marie: Claire")
    assert not sanitize.has_forbidden_name_chars(b"Grace")
    assert sanitize.clean_email(b"John@Example.ORG").value == "John@example.org"
    assert sanitize.clean_phone(b"0788123456\x00\x00") == sanitize.Cleaned("+250788123456")
    assert sanitize.clean_gender(b"f") == "Female"


# --- the phone fast path agrees with phonenumbers ----------------------------------------------

# Read from phonenumbers' metadata for RW: with these patterns every 9-digit number 7[237-9]xxxxxxx
# matches the general pattern (7\d\d\d{6}) and the mobile one, and no type checked before mobile
# (premium 900, toll-free 800) starts with 7, so phonenumbers.is_valid_number holds for all ten
# million numbers behind each 3-digit prefix the fast path takes: the proof the probing in
# sanitize._rw_mobile_prefixes cannot give by itself. If a phonenumbers upgrade changes them,
# re-read the new patterns before changing this test.
RW_GENERAL = r"(?:06|[27]\d\d|[89]00)\d{6}"
RW_MOBILE = r"7[237-9]\d{7}"


def test_rw_metadata_is_the_one_the_fast_path_was_proven_against():
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("RW")
    assert metadata.country_code == 250
    assert metadata.general_desc.national_number_pattern == RW_GENERAL
    assert metadata.mobile.national_number_pattern == RW_MOBILE
    assert tuple(metadata.mobile.possible_length) == (9,)
    for other in ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number"):
        desc = getattr(metadata, other)
        assert desc is None or not (desc.national_number_pattern or "").startswith("7"), other
    prefixes = sanitize._rw_mobile_prefixes()
    assert prefixes == {str(p) for p in range(100, 1000) if re.fullmatch(RW_MOBILE, f"{p}000000")}
    assert prefixes == {str(p) for p in (*range(720, 740), *range(770, 800))}  # 72 73 77 78 79


def test_every_accepted_prefix_is_valid_down_to_five_digits():
    rng = random.Random(250)
    for prefix in sanitize._rw_mobile_prefixes():
        for middle in range(100):
            national = f"{prefix}{middle:02d}{rng.randrange(10_000):04d}"
            assert sanitize._is_rw_mobile(national), national


def _national_numbers(rng: random.Random) -> list[str]:
    """9-digit national numbers: every 3-digit prefix (valid or not), the valid ones often."""
    numbers = [f"{p:03d}{rng.randrange(1_000_000):06d}" for p in range(1000)]
    mobiles = sorted(sanitize._rw_mobile_prefixes())
    numbers += [f"{rng.choice(mobiles)}{rng.randrange(1_000_000):06d}" for _ in range(1500)]
    return numbers


def _grouped(rng: random.Random, digits: str, separators: tuple[str, ...]) -> str:
    out, i = [], 0
    while i < len(digits):
        step = rng.randint(1, 4)
        out.append(digits[i : i + step])
        i += step
    return "".join(
        part + (rng.choice(separators) if k < len(out) - 1 else "") for k, part in enumerate(out)
    )


def _phone_corpus() -> list[object]:
    rng = random.Random(2500)
    nationals = _national_numbers(rng)
    main_prefixes = ("0", "", "250", "+250")  # the fast path's shapes
    odd_prefixes = ("00250", "+2500", "+250 0", "2500", "+25", "+2", "+", "00", "0250", "+0")
    plain_separators = (" ", "-", ".")
    odd_separators = ("  ", "/", "(", ")", "--", " - ", "\t", ",", "x", "#", "\u00a0", "\u2011")
    corpus: list[object] = []
    for national in nationals:
        renderings = []
        for prefix in main_prefixes + tuple(rng.sample(odd_prefixes, 2)):
            digits = prefix + national
            renderings.append(
                rng.choice(
                    (
                        digits,
                        _grouped(rng, digits, plain_separators),
                        _grouped(rng, digits, plain_separators + odd_separators),
                    )
                )
            )
        other = nationals[rng.randrange(len(nationals))]
        variants = [
            f"0{national[:3]} {national[3:6]} {national[6:]}",
            f"+250 {national[:3]} {national[3:6]} {national[6:]}",
            f"(+250) {national}",
            f" 0{national} ",
            f"0{national[:-1]}",  # too short
            f"0{national}{rng.randrange(10)}",  # too long
            f"+250{national[:-1]}",
            f"+250{national}{rng.randrange(10)}",
            national[:-1],
            f"{national}{rng.randrange(10)}",
            f"0{national} / 0{other}",
            f"0{national} ext 12",
            f"0{national}-",
            f"-0{national}",
            f"+-250{national}",
            f"\u202a+250{national}\u202c",  # as copied from a right-to-left UI
            f"\u200e0{national}",
            int(national),
            int(f"250{national}"),
            float(national),
        ]
        corpus += renderings + rng.sample(variants, 4)
    unicode_digits = ("\u0660", "\u06f0", "\uff10", "\u0966", "\u09e6", "\U0001d7ce")
    for zero in unicode_digits:
        table = {ord(str(d)): chr(ord(zero) + d) for d in range(10)}
        for national in rng.sample(nationals, 200):
            corpus.append(f"0{national}".translate(table))
            corpus.append(f"+250{national}".translate(table))
            mixed = "".join(c.translate(table) if rng.random() < 0.3 else c for c in national)
            corpus.append(f"0{mixed}")
    corpus += [
        "0252123456",  # landlines
        "+250 252 123 456",
        "+250 222 123 456",
        "06123456",
        "0800123456",
        "+256 772 123456",  # foreign
        "+256772123456",
        "256772123456",
        "+1 202 555 0123",
        "+12025550123",
        "+254712345678",
        "+33 6 12 34 56 78",
        "+44 7700 900123",
        "+243 81 234 5678",
        "+257 79 123 456",
        "N/A",
        "n/a",
        "0",
        "",
        " ",
        None,
        "000000000",
        "0000000000",
        "999999999",
        "abc",
        "07xx",
        "call me",
        "+250 7",
        "+250",
        "250",
        "+",
        "++250788123456",
        "+250788123456+",
        "0788123456 / 0722654321",
        "0788123456;ext=5",
        "tel:+250788123456",
        "0788 123 456 (home)",
        "0788-123-456.",
        "078.812.3456",
        "078..8123456",
        "0788\u200b123456",
        "0788\u00ad123456",
        "07881234560788123456",
        "7" * 30,
        "+250" + "7" * 40,
        "0788123456" * 30,
        "O788123456",  # a letter O
        "0788l23456",  # a letter l
        "\u0660\u0667\u0668\u0668\u0661\u0662\u0663\u0664\u0665\u0666",
        "\uff10\uff17\uff18\uff18\uff11\uff12\uff13\uff14\uff15\uff16",
        "+\u0662\u0665\u0660\u0667\u0668\u0668\u0661\u0662\u0663\u0664\u0665\u0666",
    ]
    alphabet = "0123456789" * 4 + "  +-.()/x#*,;abcO\u00a0"
    for _ in range(3000):
        corpus.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 18))))
    for _ in range(2000):
        corpus.append(
            rng.choice(("+", "", "0", "00")) + str(rng.randrange(10 ** rng.randint(1, 15)))
        )
    return corpus


def test_phone_fast_path_gives_exactly_what_phonenumbers_gives():
    corpus = _phone_corpus()
    assert len(corpus) > 30_000
    fast_taken = 0
    for raw in corpus:
        fast = sanitize.clean_phone(raw)
        slow = sanitize._clean_phone_slow(raw)
        assert fast == slow, raw
        text = sanitize.clean_text(raw)
        if text and sanitize._fast_rw_phone(text) is not None:
            fast_taken += 1
            assert fast.value.startswith("+2507") and fast.warning is None, raw
    assert fast_taken > 5_000  # the fast path really carries the common shapes


@pytest.mark.parametrize(
    "phone",
    [
        "0788123456",
        "078 812 3456",
        "+250788123456",
        "250788123456",
        "+250 788 123 456",
        "078-812-3456",
        "0722.654.321",
        "788123456",
        "0738123456",
        "0778123456",
        "0798123456",
    ],
)
def test_plain_rwandan_mobiles_take_the_fast_path(phone, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("phonenumbers.parse called")

    expected = sanitize._clean_phone_slow(phone)
    sanitize._rw_mobile_prefixes()  # found once, with phonenumbers, before parse is refused
    monkeypatch.setattr(sanitize.phonenumbers, "parse", refuse)
    assert sanitize.clean_phone(phone) == expected
    assert expected.value.startswith("+2507") and expected.warning is None


@pytest.mark.parametrize("region", ["KE", "UG", "US", "rw", "ZZ"])
def test_other_regions_go_to_phonenumbers(region):
    for phone in ("0788123456", "+250788123456", "0712345678", "772123456", "N/A"):
        assert sanitize.clean_phone(phone, region) == sanitize._clean_phone_slow(phone, region)
