"""A demo MIS database filled with realistic, reproducible and deliberately messy data.

With no configuration the product runs on an embedded SQLite MIS built here; tests and benchmarks
fill MariaDB with the same generator. The data imitates what a real Rwandan university MIS holds,
including everything that breaks a naive sync: missing and messy names, namesakes (QuickBooks
display names must be unique), people who are both applicant and student, lookup ids that are
'', '0', ' 12' or point nowhere, invalid e-mails, junk phones, students with no or several
registrations.

Reproducibility: the same seed gives the same rows (no clock, no global random state). Every
student row (and its registrations) comes from its own ``random.Random`` derived from the seed
and the row index, so the applicant who is also that student can recompute the student's names and
reg_no without the generator keeping earlier rows in memory. Applicants come from one stream.

Hostile rows: a fixed "showcase" of anomalies sits among the first ``SHOWCASE_ROWS`` applicants and
students (a preview of the first pages shows them at any size); past it they recur at low rates.

The only difference between backends: SQLite does not enforce VARCHAR lengths, so there (and only
there) a few values exceed their declared length (a 600-character name, a too-long e-mail); on
MariaDB the same rows hold values exactly at the column limit.
"""

from __future__ import annotations

import bisect
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync_core.mis import tables as mis_tables
from sync_core.store import tables as app_tables

__all__ = [
    "ANOMALY_CATEGORIES",
    "DemoSummary",
    "create_demo_database",
    "demo_tables",
    "QBO_EMPLOYEE_NAMES",
    "PLANTED_NAMESAKES",
]

CHUNK_ROWS = 5000
SHOWCASE_ROWS = 60
TWIN_SHARE = 0.35  # share of students who also exist as an applicant
NAME_SPRINKLE_RATE = 0.02  # past the showcase: share of rows given a hostile name
FIELD_ANOMALY_RATE = 0.012  # past the showcase: per enriched lookup field
LAST_YEAR = 2025  # the demo's "now": latest cohort, latest registrations

# Markers resolved per backend when a row is built: a name or e-mail exactly at its column limit,
# or (SQLite only, which does not enforce VARCHAR lengths) a 600-character name.
_OVERLONG = "\x00overlong"
_OVER_LIMIT = "\x00over_limit"

# Names the QuickBooks simulator is expected to hold as Employees: a Customer with this
# DisplayName clashes (code 6240) even though no other customer has it.
QBO_EMPLOYEE_NAMES = ("Jean Claude Habimana",)
# (first, family) pairs planted several times in both customer tables.
PLANTED_NAMESAKES = (("John", "Doe"), ("Jean Claude", "Habimana"))

ANOMALY_CATEGORIES: dict[str, str] = {
    # names (applicants and students; a row counts once per category)
    "name_missing_both_null": "first and family name both NULL",
    "name_missing_both_empty": "first and family name both ''",
    "name_only_one_part": "only the first or only the family name present",
    "name_whitespace_only": "a name part made only of whitespace",
    "name_padded_or_double_spaces": "leading, trailing or doubled spaces in a name",
    "name_with_colon": "a colon in a name (QuickBooks forbids it)",
    "name_with_tab_or_newline": "a tab or newline in a name (QuickBooks forbids it)",
    "name_overlong": "a name part of 100+ characters (QuickBooks allows 100)",
    "name_over_column_limit": "a name longer than its VARCHAR (SQLite only)",
    "name_accented": "non-ASCII letters in a name (Théogène, Françoise)",
    "name_apostrophe": "an apostrophe in a name (Jean d'Amour, O'Brien)",
    "namesake_planted": "exactly a planted namesake (John Doe, Jean Claude Habimana)",
    "namesake_case_or_space_variant": "a planted namesake differing only in case or spaces",
    "name_matches_qbo_employee": "the name of a simulated QuickBooks employee",
    "applicant_is_also_student": "applicant carrying a student's names and reg_no",
    # lookup ids (applicant camp/opt_1/intake/level/mode, student cntr_id, registration ids)
    "lookup_id_null": "lookup id NULL",
    "lookup_id_empty": "lookup id ''",
    "lookup_id_zero": "lookup id '0'",
    "lookup_id_spaced": "lookup id with spaces (' 12', '3 ')",
    "lookup_id_dangling": "numeric lookup id with no row ('99')",
    "lookup_id_non_numeric": "non-numeric lookup id ('abc', 'KGL')",
    # contact and identity fields
    "email_invalid": "e-mail that is not an address (john@, n/a, x@y, trailing dot)",
    "email_padded": "valid e-mail with surrounding spaces",
    "email_missing": "e-mail NULL or ''",
    "email_overlong": "e-mail at its column limit (beyond it on SQLite)",
    "phone_rw_formatted": "Rwandan mobile with spaces, dashes or no +",
    "phone_foreign": "Ugandan or Kenyan number",
    "phone_junk": "not a phone number (N/A, 0, 12345, call me)",
    "phone_multiple_numbers": "two numbers in one field (over QuickBooks' 30 characters)",
    "phone_missing": "phone NULL or ''",
    "sex_nonstandard": "sex other than M/F (Male, female, f)",
    "sex_missing": "sex NULL or ''",
    "national_id_spaced": "16-digit Rwandan id written with spaces",
    "national_id_passport": "passport number instead of a national id",
    "national_id_missing": "national id NULL or ''",
    "birth_country_free_text": "country of birth as text (Rwanda, DRC)",
    "birth_country_dangling": "country of birth id with no row",
    "birth_country_missing": "country of birth NULL or ''",
    "dob_missing": "date of birth NULL",
    "dob_placeholder": "date of birth 1900-01-01",
    "tracking_id_missing": "applicant without tracking_id",
    "program_type_empty": "student prg_type ''",
    # registrations
    "student_without_registration": "student with no registration row",
    "student_with_several_registrations": "student with 2 or more registration rows",
    "registration_inactive_newer_than_active": "newest registration inactive, an older one active",
    "registration_same_date_tie": "two registrations with the same reg_date (reg_prg_id decides)",
    "student_only_inactive_registrations": "student whose registrations are all inactive",
}


@dataclass
class DemoSummary:
    """What :func:`create_demo_database` wrote: rows per table and rows per anomaly category.

    Anomaly counts are occurrences: a row counts once in each category it shows, and lookup-id
    categories count each offending column value.
    """

    seed: int
    backend: str
    tables: dict[str, int]
    anomalies: dict[str, int]

    @property
    def applicants(self) -> int:
        return self.tables[mis_tables.applicants.name]

    @property
    def students(self) -> int:
        return self.tables[mis_tables.students.name]

    @property
    def registrations(self) -> int:
        return self.tables[mis_tables.registrations.name]

    def describe(self) -> list[str]:
        """Human-readable lines for a CLI or a log."""
        lines = [f"{name}: {count:,} rows" for name, count in self.tables.items()]
        lines += [
            f"  {key}: {count:,} ({ANOMALY_CATEGORIES[key]})"
            for key, count in self.anomalies.items()
        ]
        return lines


# --------------------------------------------------------------------------------------------
# Lookup tables: a plausible Rwandan university
# --------------------------------------------------------------------------------------------

# camp_id 4 was deleted long ago (ids have gaps, as in real data); 5 has only a short name;
# 12 is a closed campus that old registrations still point at.
CAMPUSES = (
    (1, "Kigali Campus", "KGL", "Kigali", 1),
    (2, "Rwamagana Campus", "RWG", "Rwamagana", 1),
    (3, "Musanze Campus", "MSZ", "Musanze", 1),
    (5, None, "NYG", "Nyagatare", 1),
    (12, "Huye Campus", "HYE", "Huye", 0),
)
CAMPUS_WEIGHTS = (55, 18, 14, 6, 7)

# (intake_id, intake_month, intake_no, intake_start, acad_cycle_id, status)
# The last one has no month: a readable name must then come from intake_start.
INTAKES = (
    (1, "September", 1, datetime(2021, 9, 20), "2021/2022", 0),
    (2, "January", 2, datetime(2022, 1, 17), "2021/2022", 0),
    (3, "September", 1, datetime(2022, 9, 19), "2022/2023", 0),
    (4, "January", 2, datetime(2023, 1, 16), "2022/2023", 0),
    (5, "September", 1, datetime(2023, 9, 18), "2023/2024", 0),
    (6, "January", 2, datetime(2024, 1, 15), "2023/2024", 0),
    (7, "May", 3, datetime(2024, 5, 13), "2023/2024", 0),
    (8, "September", 1, datetime(2024, 9, 16), "2024/2025", 0),
    (9, "January", 2, datetime(2025, 1, 13), "2024/2025", 1),
    (10, "September", 1, datetime(2025, 9, 15), "2025/2026", 1),
    (11, None, 2, datetime(2026, 1, 12), "2025/2026", 1),
)
SEPTEMBER_INTAKE = {row[3].year: row[0] for row in INTAKES if row[1] == "September"}

# (splz_id, full name, short name = reg_no code, prg_id, degree_name, weight)
SPECIALIZATIONS = (
    (1, "Bachelor of Information Technology", "BIT", "1", "Bachelor of Science", 15),
    (2, "Bachelor of Science in Computer Science", "BCS", "1", "Bachelor of Science", 8),
    (3, "Bachelor of Business Administration in Accounting", "ACC", "2", "BBA", 12),
    (4, "Bachelor of Business Administration in Finance", "FIN", "2", "BBA", 6),
    (5, "Bachelor of Business Administration in Marketing", "MKT", "2", "BBA", 4),
    (6, "Bachelor of Business Administration in Management", "BBA", "2", "BBA", 10),
    (7, "Bachelor of Education in Mathematics and Physics", "EMP", "3", "Bachelor of Education", 5),
    (
        8,
        "Bachelor of Education in Languages (English–French)",
        "ELF",
        "3",
        "Bachelor of Education",
        4,
    ),
    (9, "Bachelor of Science in Nursing", "NUR", "4", "Bachelor of Science", 10),
    (10, "Bachelor of Science in Public Health", "BPH", "4", "Bachelor of Science", 8),
    (11, "Bachelor of Science in Civil Engineering", "BCE", "5", "Bachelor of Science", 8),
    (12, "Bachelor of Laws", "LLB", "6", "Bachelor of Laws", 6),
    (13, None, "DEV", "7", "Bachelor of Arts", 4),
)

LEVELS = (
    (1, "Year 1", "Y1", 1),
    (2, "Year 2", "Y2", 2),
    (3, "Year 3", "Y3", 3),
    (4, "Year 4", "Y4", 4),
)

PROGRAM_MODES = ((1, "Day", "DAY"), (2, "Evening", "EVE"), (3, "Weekend", "WKD"))
PROGRAM_TYPES = {1: "UG Day", 2: "UG Evening", 3: "UG Weekend"}
MODE_WEIGHTS = (60, 26, 14)

# (cntr_id, name, nationality, code, weight as country of birth)
COUNTRIES = (
    (1, "Rwanda", "Rwandan", "RW", 800),
    (2, "Uganda", "Ugandan", "UG", 35),
    (3, "Kenya", "Kenyan", "KE", 20),
    (4, "Burundi", "Burundian", "BI", 40),
    (5, "Democratic Republic of the Congo", "Congolese", "CD", 55),
    (6, "Tanzania", "Tanzanian", "TZ", 12),
    (7, "South Sudan", "South Sudanese", "SS", 8),
    (8, "Ethiopia", "Ethiopian", "ET", 3),
    (9, "Nigeria", "Nigerian", "NG", 4),
    (10, "Cameroon", "Cameroonian", "CM", 3),
    (11, "Côte d'Ivoire", "Ivorian", "CI", 3),
    (12, "France", "French", "FR", 4),
    (13, "Belgium", "Belgian", "BE", 4),
    (14, "United Kingdom", "British", "GB", 3),
    (15, "United States of America", "American", "US", 3),
    (16, "India", "Indian", "IN", 2),
    (17, "China", "Chinese", "CN", 1),
)

# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------

RW_FAMILY = (
    "Uwimana", "Mukamana", "Niyonzima", "Habimana", "Nshimiyimana", "Iradukunda", "Ingabire",
    "Tuyishime", "Ishimwe", "Uwase", "Mugisha", "Hakizimana", "Byiringiro", "Nsengiyumva",
    "Mutesi", "Kayitesi", "Uwamahoro", "Niyonsaba", "Mukeshimana", "Nyirahabimana", "Bizimana",
    "Ndayisaba", "Munyaneza", "Nkurunziza", "Uwizeye", "Umutoni", "Kamanzi", "Rukundo", "Gasana",
    "Kalisa", "Mugabo", "Nzeyimana", "Twagirayezu", "Manirakiza", "Dusabimana", "Niyitegeka",
    "Uwitonze", "Mukandayisenga", "Ntwari", "Karangwa", "Murenzi", "Ndahiro", "Sibomana",
    "Uwamariya", "Nyiransabimana", "Mbarushimana", "Habumugisha", "Irakoze", "Ndayambaje",
    "Uwineza", "Mutabazi", "Gatete", "Munyakazi", "Uwera", "Nsabimana", "Mukunzi",
)  # fmt: skip
# Given names by sex: Kinyarwanda and Christian names (most common), French with accents and
# apostrophes, English. Middle names come from the family names and the given names.
GIVEN_FEMALE = (
    (
        "Aline", "Divine", "Claudine", "Alice", "Ange", "Clarisse", "Gloria", "Yvette", "Josiane",
        "Vestine", "Olive", "Sandrine", "Diane", "Marie Rose", "Solange", "Chantal", "Esperance",
        "Vanessa", "Liliane", "Benitha", "Sonia", "Nadine", "Uwase", "Ineza", "Keza", "Isimbi",
        "Teta", "Umuhoza", "Pacifique", "Ishimwe", "Iradukunda",
    ),
    (
        "Françoise", "Émilienne", "Josée", "Marie-Claire", "Hélène", "Cécile", "Médiatrice",
        "Angélique", "Bénigne", "Séraphine", "Béatrice",
    ),
    (
        "Grace", "Peace", "Patience", "Faith", "Joy", "Mercy", "Esther", "Ruth", "Sarah",
        "Precious", "Hope", "Charity", "Rebecca", "Blessing",
    ),
)  # fmt: skip
GIVEN_MALE = (
    (
        "Olivier", "Fabrice", "Innocent", "Aimable", "Christian", "Patrick", "Didier", "Jean Paul",
        "Jean Bosco", "Jean de Dieu", "Jean Pierre", "Alain", "Yves", "Jean Claude", "Janvier",
        "Fiston", "Cedric", "Valens", "Gilbert", "Shema", "Hirwa", "Gisa", "Kwizera", "Manzi",
        "Ganza", "Cyusa", "Pacifique", "Ishimwe", "Mugisha", "Iradukunda",
    ),
    (
        "Théogène", "Dieudonné", "Jean d'Amour", "Jean-Baptiste", "Désiré", "Théoneste", "Jérôme",
        "Gérard", "Célestin", "Félicien", "Honoré", "Moïse", "Révérien", "Arsène", "Eugène",
        "Jean-Marie Vianney",
    ),
    (
        "Emmanuel", "Eric", "Brian", "Prosper", "David", "Daniel", "Joseph", "Moses", "Joshua",
        "Samuel", "Kevin", "Gift",
    ),
)  # fmt: skip
FOREIGN_FAMILY = (
    "O'Brien", "N'Guessan", "Okello", "Mwangi", "Ndayishimiye", "Mukendi", "Otieno", "Nakato",
    "Ouédraogo", "Dubois", "Martin", "Smith", "Kamau", "Achieng", "Ilunga", "Kabongo", "Ciza",
    "Kouassi", "D'Souza", "Lefèvre",
)  # fmt: skip

_LONG_NAME_WORDS = (
    "Nyirahabimana", "Jean de Dieu", "Mukandayisenga", "Uwamahoro", "Marie-Claire",
    "Twagirayezu", "Nshimiyimana", "Théoneste", "Nyiransabimana", "Dusabimana",
)  # fmt: skip

EMAIL_DOMAINS = ("gmail.com",) * 14 + ("yahoo.fr", "yahoo.com", "outlook.com", "icloud.com")
INVALID_EMAILS = (
    "john@",
    "none",
    "n/a",
    "x@y",
    "john doe@gmail.com",
    "aline.uwase@gmail.com.",
    "mugisha@@gmail.com",
    "eric.gmail.com",
    "-",
)
PHONE_JUNK = ("N/A", "0", "12345", "call me", "-", "0000000000")
FREE_TEXT_COUNTRIES = ("Rwanda", "DRC", "Uganda ", "kigali", "Congo-Kinshasa", "Burundi")
DANGLING_COUNTRIES = ("250", "99")
ADDRESSES = (
    "Kicukiro, Kigali", "Gasabo, Kigali", "Nyarugenge, Kigali", "Rwamagana", "Musanze",
    "Huye", "Rubavu", "Nyagatare", "Muhanga", "Kayonza", "Bugesera", None,
)  # fmt: skip
STATUS_COMMENTS_ACTIVE = ("Registered", "Promoted", None)


def _long_name(length: int) -> str:
    """A deterministic name-like string of exactly ``length`` characters."""
    text = " ".join(_LONG_NAME_WORDS)
    while len(text) < length:
        text = f"{text} {text}"
    text = text[:length]
    return text if text[-1] != " " else text[:-1] + "e"


def _long_email(length: int) -> str:
    domain = "@students.example.ac.rw"
    local = ".".join(w.lower().replace(" ", ".") for w in _LONG_NAME_WORDS * 4)
    local = _ascii(local)[: length - len(domain)].rstrip(".-")
    local += "x" * (length - len(domain) - len(local))
    return local + domain


@lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


@lru_cache(maxsize=8192)
def _email_word(text: str | None) -> str:
    if not text:
        return ""
    word = text.split()[0] if text.split() else ""
    return "".join(ch for ch in _ascii(word).lower() if ch.isalnum())


def _norm(text: str | None) -> str:
    return " ".join(text.split()).casefold() if text else ""


_PLANTED = frozenset(PLANTED_NAMESAKES)
_PLANTED_NORM = frozenset((_norm(f), _norm(g)) for f, g in PLANTED_NAMESAKES)
_EMPLOYEE_NORM = frozenset(_norm(name) for name in QBO_EMPLOYEE_NAMES)

# Hostile names for sprinkling past the showcase: (first, middle, family); weighted by repetition.
NAME_SPRINKLES: tuple[tuple[str | None, str | None, str | None], ...] = (
    ("John", None, "Doe"),
    ("John", None, "Doe"),
    ("John", None, "Doe"),
    ("Jean Claude", None, "Habimana"),
    ("Jean Claude", None, "Habimana"),
    ("JOHN", None, "DOE"),
    ("john", None, "doe"),
    (" John", None, "Doe  "),
    ("Jean  Claude", None, "Habimana"),
    ("JEAN CLAUDE", None, "HABIMANA"),
    (None, None, None),
    ("", None, ""),
    ("Eric", None, None),
    (None, None, "Tuyishime"),
    ("Aline", None, ""),
    ("", None, "Mugisha"),
    ("   ", None, "  "),
    ("  Grace ", None, "Ingabire "),
    ("Jean  Paul", None, "Habimana"),
    ("Marie: Claire", None, "Mukamana"),
    ("Claudine", None, "Uwera:"),
    ("Aline\t", None, "Uwase"),
    ("Jean\nBosco", None, "Ntwari"),
    ("Patience", None, "Mutesi\n"),
    ("Eric", "  ", "Mugisha"),
    (_OVERLONG, None, "Uwamahoro"),
)


def _email_tag(value: str | None) -> tuple[str | None, str | None]:
    return value, ("email_missing" if not value else "email_invalid")


def _lookup_tag(value: str | None, valid: frozenset[str]) -> str | None:
    """The lookup-id anomaly a raw MIS value shows, or None for a clean valid id."""
    if value is None:
        return "lookup_id_null"
    if value == "":
        return "lookup_id_empty"
    if value.strip() != value:
        return "lookup_id_spaced"
    if value == "0":
        return "lookup_id_zero"
    if not value.isdigit():
        return "lookup_id_non_numeric"
    return None if value in valid else "lookup_id_dangling"


def _hostile_ids(
    valid: frozenset[str], nullable: bool
) -> tuple[tuple[str | None, str | None], ...]:
    spaced_target = "12" if "12" in valid else "3"
    values: list[str | None] = ["", "0", f" {spaced_target}", "3 ", "99", "abc"]
    if nullable:
        values.insert(0, None)
    return tuple((v, _lookup_tag(v, valid)) for v in values)


_VALID_CAMPUS = frozenset(str(c[0]) for c in CAMPUSES)
_VALID_INTAKE = frozenset(str(i[0]) for i in INTAKES)
_VALID_SPLZ = frozenset(str(s[0]) for s in SPECIALIZATIONS)
_VALID_LEVEL = frozenset(str(lv[0]) for lv in LEVELS)
_VALID_MODE = frozenset(str(m[0]) for m in PROGRAM_MODES)
_VALID_COUNTRY = frozenset(str(c[0]) for c in COUNTRIES)
_VALID_BY_COLUMN = {
    "camp_id": _VALID_CAMPUS,
    "intake_id": _VALID_INTAKE,
    "opt_1": _VALID_SPLZ,
    "splz_id": _VALID_SPLZ,
    "level_id": _VALID_LEVEL,
    "prg_mode_id": _VALID_MODE,
    "cntr_id": _VALID_COUNTRY,
}
# extra hostile values that read like data: a deleted campus, a short name stored as an id
_EXTRA_HOSTILE = {"camp_id": ("4", "KGL")}


def _hostile_for(column: str, nullable: bool) -> tuple[tuple[str | None, str | None], ...]:
    valid = _VALID_BY_COLUMN[column]
    base = _hostile_ids(valid, nullable)
    extra = tuple((v, _lookup_tag(v, valid)) for v in _EXTRA_HOSTILE.get(column, ()))
    return base + extra


def _expand(items: tuple, weights: tuple[int, ...]) -> tuple:
    """A tuple where each item repeats ``weight`` times, so ``rng.choice`` is a weighted pick."""
    return tuple(item for item, w in zip(items, weights, strict=True) for _ in range(w))


_CAMPUS_PICK = _expand(tuple(str(c[0]) for c in CAMPUSES), CAMPUS_WEIGHTS)
_SPLZ_PICK = _expand(SPECIALIZATIONS, tuple(s[5] for s in SPECIALIZATIONS))
_MODE_PICK = _expand((1, 2, 3), MODE_WEIGHTS)
_COUNTRY_PICK = _expand(tuple(str(c[0]) for c in COUNTRIES), tuple(c[4] for c in COUNTRIES))
_INTAKE_STARTS = [row[3] for row in INTAKES]


# --------------------------------------------------------------------------------------------
# The showcase: anomalies among the first SHOWCASE_ROWS rows of each customer table
# --------------------------------------------------------------------------------------------
# Each entry maps a column (or "name" / "regs") to its forced value and anomaly tag. Names are
# (first, middle, family); their tags come from classifying the value, so none are given here.

APPLICANT_SHOWCASE: tuple[dict, ...] = (
    {"name": ("John", None, "Doe")},
    {"name": (None, None, None)},
    {"name": ("Jean Claude", None, "Habimana")},
    {"email1": _email_tag("john@")},
    {"name": ("Théogène", None, "Niyonzima")},
    {"name": ("Jean d'Amour", None, "Uwimana")},
    {"name": ("", None, "")},
    {"camp_id": (" 12", "lookup_id_spaced")},
    {"name": ("John", None, "Doe"), "phone1": ("+250 788 123 456", "phone_rw_formatted")},
    {"name": ("Marie: Claire", None, "Mukamana")},
    {"camp_id": ("99", "lookup_id_dangling"), "opt_1": ("99", "lookup_id_dangling")},
    {"name": ("  Grace ", None, "Ingabire ")},
    {"name": ("Eric", None, None)},
    {"phone1": ("N/A", "phone_junk"), "sex": ("Male", "sex_nonstandard")},
    {"name": (None, None, "Tuyishime")},
    {"name": ("   ", None, "  ")},
    {"name": ("John", None, "Doe"), "email1": _email_tag("john doe@gmail.com")},
    {"name": ("Dieudonné", "Jean-Baptiste", "Hakizimana")},
    {"intake_id": ("abc", "lookup_id_non_numeric"), "level_id": ("0", "lookup_id_zero")},
    {"name": ("Aline\t", None, "Uwase")},
    {"name": ("Patience", None, "Mutesi\n")},
    {"name": ("JOHN", None, "DOE"), "opt_1": ("3 ", "lookup_id_spaced")},
    {"email1": (_OVERLONG, "email_overlong")},
    {"name": (_OVERLONG, None, "Mukandayisenga")},
    {"name": ("Jean Claude", None, "Habimana"), "camp_id": (None, "lookup_id_null")},
    {"nation_Id_passPort_no": ("spaced", "national_id_spaced"), "sex": ("", "sex_missing")},
    {"name": ("john", None, "doe"), "prg_mode_id": ("", "lookup_id_empty")},
    {"name": ("Brian", None, "O'Brien"), "email1": _email_tag("x@y")},
    {"name": ("Françoise", "Marie-Claire", "N'Guessan"), "country_of_birth": ("11", None)},
    {"country_of_birth": ("DRC", "birth_country_free_text"), "sex": ("female", "sex_nonstandard")},
    {"country_of_birth": ("250", "birth_country_dangling"), "phone1": (None, "phone_missing")},
    {"name": (" John", None, "Doe  "), "email1": _email_tag("n/a")},
    {"phone1": ("078-812-3456", "phone_rw_formatted"), "email1": _email_tag("none")},
    {
        "phone1": ("+256 772 123456", "phone_foreign"),
        "nation_Id_passPort_no": ("B1234567", "national_id_passport"),
        "country_of_birth": ("2", None),
    },
    {"email1": ("", "email_missing"), "dob": (None, "dob_missing")},
    {"name": (_OVER_LIMIT, None, "Uwamahoro"), "tracking_id": (None, "tracking_id_missing")},
    {"email1": _email_tag("aline.uwase@gmail.com."), "sex": (None, "sex_missing")},
    {"phone1": ("0788123456 / 0722654321", "phone_multiple_numbers")},
    {"name": ("Émilienne", None, "Kayitesi"), "country_of_birth": (None, "birth_country_missing")},
    {"name": ("Josée", None, "Byiringiro"), "phone1": ("250788123456", "phone_rw_formatted")},
    {
        "nation_Id_passPort_no": (None, "national_id_missing"),
        "camp_id": ("4", "lookup_id_dangling"),
    },
    {
        "email1": (" grace.peace@gmail.com ", "email_padded"),
        "dob": (datetime(1900, 1, 1), "dob_placeholder"),
    },
    {"phone1": ("+254 712 345678", "phone_foreign"), "intake_id": ("42", "lookup_id_dangling")},
    {"email1": (None, "email_missing"), "phone1": ("call me", "phone_junk")},
)

STUDENT_SHOWCASE: tuple[dict, ...] = (
    {"name": ("John", None, "Doe")},
    {"name": (None, None, None), "regs": "none"},
    {"name": ("Jean Claude", None, "Habimana"), "regs": "several"},
    {"email1": _email_tag("john@")},
    {"name": ("Françoise", None, "Uwase"), "regs": "inactive_newer"},
    {"name": ("John", None, "Doe"), "regs": "same_date_tie"},
    {"name": ("", None, "")},
    {"regs": "spaced_ids", "cntr_id": (" 1", "lookup_id_spaced")},
    {"name": ("Jean-Baptiste", "Théogène", "Nsengiyumva"), "regs": "dangling_ids"},
    {"name": ("Peace", None, "O'Brien"), "regs": "all_inactive"},
    {"name": ("John", None, "Doe"), "email1": _email_tag("none")},
    {"name": ("Marie: Claire", None, "Uwimana")},
    {"cntr_id": ("99", "lookup_id_dangling"), "regs": "none"},
    {"name": ("  ", None, " ")},
    {"name": ("Brian", None, None), "sex": ("Male", "sex_nonstandard")},
    {"name": (None, None, "Iradukunda"), "cntr_id": ("0", "lookup_id_zero")},
    {"name": ("Aline", None, "Mugisha\t")},
    {"name": ("Jean\nBosco", None, "Ntwari"), "regs": "several"},
    {"name": ("Jean Claude", None, "Habimana"), "regs": "inactive_newer"},
    {"name": ("jean claude", None, "habimana "), "cntr_id": ("", "lookup_id_empty")},
    {"name": (_OVERLONG, None, _OVERLONG)},
    {"name": ("Gloria", None, _OVER_LIMIT), "regs": "same_date_tie"},
    {"phone1": ("+250 788 123 456", "phone_rw_formatted"), "sex": ("", "sex_missing")},
    {"phone1": ("N/A", "phone_junk"), "sex": (None, "sex_missing")},
    {"national_id": ("spaced", "national_id_spaced"), "sex": ("female", "sex_nonstandard")},
    {
        "national_id": ("PC123456", "national_id_passport"),
        "cntr_id": ("abc", "lookup_id_non_numeric"),
    },
    {"email1": (_OVERLONG, "email_overlong"), "phone1": ("078-812-3456", "phone_rw_formatted")},
    {"email1": _email_tag("x@y"), "phone1": ("+254 712 345678", "phone_foreign")},
    {"email1": _email_tag("john doe@gmail.com"), "prg_type": ("", "program_type_empty")},
    {"email1": _email_tag("aline.uwase@gmail.com."), "phone1": (None, "phone_missing")},
    {"name": ("Émilienne", None, "Kayitesi"), "email1": (None, "email_missing")},
    {"name": ("Josée", "Dieudonné", "Mutesi"), "email1": ("", "email_missing")},
    {"name": ("Jean d'Amour", None, "N'Guessan"), "national_id": (None, "national_id_missing")},
    {"name": ("Jean Claude", None, "Habimana"), "regs": "several"},
    {"name": ("John", None, "Doe"), "regs": "none"},
    {"name": ("JOHN", None, "DOE"), "dob": (None, "dob_missing")},
    {"phone1": ("0788123456 / 0722654321", "phone_multiple_numbers"), "regs": "all_inactive"},
    {"email1": (" grace.peace@gmail.com ", "email_padded"), "regs": "spaced_ids"},
    {"name": ("Patience", None, "Habimana"), "dob": (datetime(1900, 1, 1), "dob_placeholder")},
    {"name": ("Théoneste", None, "Habimana"), "email1": _email_tag("n/a")},
    {"phone1": ("0", "phone_junk"), "regs": "dangling_ids"},
)


def _place(entries: tuple[dict, ...]) -> dict[int, dict]:
    """Spread showcase entries over the first rows, leaving every fourth row ordinary."""
    placed = {i + i // 3: entry for i, entry in enumerate(entries)}
    assert max(placed) < SHOWCASE_ROWS
    return placed


_APPLICANT_SHOWCASE = _place(APPLICANT_SHOWCASE)
_STUDENT_SHOWCASE = _place(STUDENT_SHOWCASE)
_EMPTY: dict = {}


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Identity:
    """The part of a student an applicant twin copies."""

    first: str | None
    middle: str | None
    family: str | None
    sex: tuple[str | None, str | None]
    dob: tuple[datetime | None, str | None]
    reg_no: str
    cohort: int
    splz: tuple


class _Generator:
    """Builds the rows chunk by chunk and counts the anomalies it puts in them."""

    def __init__(self, seed: int, n_applicants: int, n_students: int, sqlite: bool) -> None:
        master = random.Random(seed)
        self.applicant_seed = master.getrandbits(64)
        self.student_seed = master.getrandbits(64)
        self.n_applicants = n_applicants
        self.n_students = n_students
        self.sqlite = sqlite
        self.counts = dict.fromkeys(ANOMALY_CATEGORIES, 0)
        self.registrations = 0
        self.twins = min(round(TWIN_SHARE * n_students), n_applicants)
        app, stu = mis_tables.applicants.c, mis_tables.students.c
        self.limits = {
            "first_name": app.first_name.type.length,
            "middlename": app.middlename.type.length,
            "family_name": app.family_name.type.length,
            "fname": stu.fname.type.length,
            "s_middlename": stu.middlename.type.length,
            "lname": stu.lname.type.length,
            "app_email": app.email1.type.length,
            "stu_email": stu.email1.type.length,
        }
        self.hostile = {
            "camp_id": _hostile_for("camp_id", True),
            "intake_id": _hostile_for("intake_id", True),
            "opt_1": _hostile_for("opt_1", True),
            "level_id": _hostile_for("level_id", True),
            "prg_mode_id": _hostile_for("prg_mode_id", True),
            "cntr_id": _hostile_for("cntr_id", False),
            "reg_camp_id": _hostile_for("camp_id", False),
            "reg_intake_id": _hostile_for("intake_id", False),
            "reg_splz_id": _hostile_for("splz_id", False),
            "reg_level_id": _hostile_for("level_id", False),
            "reg_prg_mode_id": _hostile_for("prg_mode_id", False),
        }

    # ---- shared pieces ------------------------------------------------------------------

    @staticmethod
    def _normal_names(
        rng: random.Random, sex: str | None
    ) -> tuple[str | None, str | None, str | None]:
        """Ordinary names matching ``sex`` (a raw MIS value: M, female, '', None...)."""
        initial = sex[:1].upper() if sex else ""
        female = initial == "F" if initial in ("F", "M") else rng.random() < 0.5
        pools = GIVEN_FEMALE if female else GIVEN_MALE
        r = rng.random()
        first = rng.choice(pools[0] if r < 0.62 else pools[1] if r < 0.80 else pools[2])
        family = rng.choice(FOREIGN_FAMILY) if rng.random() < 0.05 else rng.choice(RW_FAMILY)
        if rng.random() < 0.03:
            family = family.upper()  # some offices type surnames in capitals
        middle = None
        if rng.random() < 0.25:
            middle = rng.choice(RW_FAMILY) if rng.random() < 0.5 else rng.choice(pools[0])
        return first, middle, family

    def _resolve_name(self, value: str | None, column: str) -> str | None:
        limit = self.limits[column]
        if value == _OVERLONG:
            return _long_name(limit)
        if value == _OVER_LIMIT:
            # SQLite keeps what it is given; MariaDB would refuse, so stay at the limit there.
            return _long_name(600) if self.sqlite else _long_name(limit)
        return value

    def _classify_names(
        self, first: str | None, middle: str | None, family: str | None, limits: tuple[int, ...]
    ) -> None:
        counts = self.counts
        first_blank = first is None or first.strip() == ""
        family_blank = family is None or family.strip() == ""
        if first is None and family is None:
            counts["name_missing_both_null"] += 1
        elif first == "" and family == "":
            counts["name_missing_both_empty"] += 1
        elif first_blank != family_blank:
            counts["name_only_one_part"] += 1
        seen: set[str] = set()
        for part, limit in zip((first, middle, family), limits, strict=True):
            if not part:
                continue
            stripped = part.strip()
            if not stripped:
                seen.add("name_whitespace_only")
                continue
            if "\t" in part or "\n" in part:
                seen.add("name_with_tab_or_newline")
            elif stripped != part or "  " in part:
                seen.add("name_padded_or_double_spaces")
            if ":" in part:
                seen.add("name_with_colon")
            if len(part) >= 100:
                seen.add("name_overlong")
            if len(part) > limit:
                seen.add("name_over_column_limit")
            if not part.isascii():
                seen.add("name_accented")
            if "'" in part:
                seen.add("name_apostrophe")
        pair = (first, family)
        if pair in _PLANTED:
            seen.add("namesake_planted")
        else:
            norm = (_norm(first), _norm(family))
            if norm in _PLANTED_NORM:
                seen.add("namesake_case_or_space_variant")
        if first and family and _norm(f"{first} {family}") in _EMPLOYEE_NORM:
            seen.add("name_matches_qbo_employee")
        for tag in seen:
            counts[tag] += 1

    @staticmethod
    def _sex(rng: random.Random) -> tuple[str | None, str | None]:
        r = rng.random()
        if r < 0.95:
            return ("M" if r < 0.475 else "F"), None
        if r < 0.98:
            return rng.choice(("Male", "Female", "female", "male", "f", "m")), "sex_nonstandard"
        return (None if r < 0.99 else ""), "sex_missing"

    @staticmethod
    def _dob(rng: random.Random, cohort: int) -> tuple[datetime | None, str | None]:
        r = rng.random()
        if r < 0.015:
            return None, "dob_missing"
        if r < 0.018:
            return datetime(1900, 1, 1), "dob_placeholder"
        age = 18 + int(rng.expovariate(0.25)) if rng.random() < 0.9 else rng.randint(25, 45)
        return datetime(cohort - min(age, 48), rng.randint(1, 12), rng.randint(1, 28)), None

    @staticmethod
    def _rw_mobile(rng: random.Random) -> str:
        return f"07{rng.choice('8823')}{rng.randrange(10_000_000):07d}"

    def _phone(self, rng: random.Random) -> tuple[str | None, str | None]:
        r = rng.random()
        if r < 0.82:
            return self._rw_mobile(rng), None
        if r < 0.89:
            return "+250" + self._rw_mobile(rng)[1:], None
        if r < 0.925:
            m = self._rw_mobile(rng)
            styles = (f"+250 {m[1:4]} {m[4:7]} {m[7:]}", "250" + m[1:], f"{m[:3]}-{m[3:6]}-{m[6:]}")
            return rng.choice(styles), "phone_rw_formatted"
        if r < 0.94:
            if rng.random() < 0.5:
                return (
                    f"+256 7{rng.randrange(100):02d} {rng.randrange(1_000_000):06d}",
                    "phone_foreign",
                )
            return f"+254 7{rng.randrange(100):02d} {rng.randrange(1_000_000):06d}", "phone_foreign"
        if r < 0.955:
            return rng.choice(PHONE_JUNK), "phone_junk"
        if r < 0.96:
            return f"{self._rw_mobile(rng)} / {self._rw_mobile(rng)}", "phone_multiple_numbers"
        return (None if r < 0.985 else ""), "phone_missing"

    def _email(
        self,
        rng: random.Random,
        first: str | None,
        family: str | None,
        column: str,
        fallback: str,
    ) -> tuple[str | None, str | None]:
        limit = self.limits[column]
        r = rng.random()
        if r < 0.025:
            return None, "email_missing"
        if r < 0.04:
            return "", "email_missing"
        if r < 0.07:
            return rng.choice(INVALID_EMAILS), "email_invalid"
        given, surname = _email_word(first), _email_word(family)
        domain = rng.choice(EMAIL_DOMAINS)
        if given and surname:
            local = f"{given}.{surname}" if rng.random() < 0.6 else f"{given[0]}{surname}"
        else:
            local = given or surname or fallback
        if rng.random() < 0.5:
            local += str(rng.randrange(1, 100))
        address = f"{local}@{domain}"
        if len(address) > limit:
            address = f"{(given or 'x')[0]}{surname[:12]}{rng.randrange(100)}@gmail.com"
        if r > 0.997:
            if r > 0.9995:
                return self._email_override(_OVERLONG, column), "email_overlong"
            return f" {address} ", "email_padded"
        return address, None

    def _email_override(self, value: str | None, column: str) -> str | None:
        if value != _OVERLONG:
            return value
        limit = self.limits[column]
        return _long_email(limit + 20 if self.sqlite else limit)

    def _national_id(
        self,
        rng: random.Random,
        born: str | None,
        dob: datetime | None,
        sex: str | None,
        narrow: bool,
    ) -> tuple[str | None, str | None]:
        r = rng.random()
        if r < 0.03:
            return (None if r < 0.02 else ""), "national_id_missing"
        if born not in (None, "", "1") and rng.random() < 0.6:
            prefix = rng.choice(("PC", "A", "B", "AK", "OP"))
            return f"{prefix}{rng.randrange(10**7):07d}", "national_id_passport"
        nid = self._rw_national_id(rng, dob, sex)
        if r > 0.985:
            return self._spaced_nid(nid, narrow), "national_id_spaced"
        return nid, None

    @staticmethod
    def _rw_national_id(rng: random.Random, dob: datetime | None, sex: str | None) -> str:
        year = dob.year if dob and dob.year > 1900 else rng.randint(1985, 2006)
        gender = "7" if sex and sex[:1].upper() == "F" else "8"
        return f"1{year}{gender}{rng.randrange(10**7):07d}0{rng.randrange(100):02d}"

    @staticmethod
    def _spaced_nid(nid: str, narrow: bool) -> str:
        if narrow:  # students' national_id is VARCHAR(20)
            return " ".join(nid[i : i + 4] for i in range(0, 16, 4))
        return f"{nid[0]} {nid[1:5]} {nid[5]} {nid[6:13]} {nid[13]} {nid[14:]}"

    def _lookup(
        self, rng: random.Random, key: str, clean: str, rate: float = FIELD_ANOMALY_RATE
    ) -> tuple[str | None, str | None]:
        if rng.random() < rate:
            return rng.choice(self.hostile[key])
        return clean, None

    # ---- students ---------------------------------------------------------------------------

    def _cohort(self, k: int) -> tuple[int, int]:
        """Cohort year and sequence within it: students are numbered cohort by cohort."""
        offset = (5 * k) // self.n_students
        start = -(-(offset * self.n_students) // 5)
        return LAST_YEAR - 4 + offset, k - start + 1

    def student_identity(self, k: int) -> tuple[_Identity, random.Random]:
        rng = random.Random(self.student_seed + k)
        year, seq = self._cohort(k)
        splz = rng.choice(_SPLZ_PICK)
        showcase = _STUDENT_SHOWCASE.get(k, _EMPTY)
        sex = showcase.get("sex") or self._sex(rng)
        if "name" in showcase:
            first, middle, family = showcase["name"]
            first = self._resolve_name(first, "fname")
            middle = self._resolve_name(middle, "s_middlename")
            family = self._resolve_name(family, "lname")
        elif rng.random() < NAME_SPRINKLE_RATE:
            first, middle, family = rng.choice(NAME_SPRINKLES)
            first = self._resolve_name(first, "fname")
        else:
            first, middle, family = self._normal_names(rng, sex[0])
        dob = showcase.get("dob") or self._dob(rng, year)
        identity = _Identity(
            first, middle, family, sex, dob, f"{year}/{splz[2]}/{seq:04d}", year, splz
        )
        return identity, rng

    def student_chunks(self) -> Iterator[tuple[list[dict], list[dict]]]:
        students: list[dict] = []
        registrations: list[dict] = []
        for k in range(self.n_students):
            identity, rng = self.student_identity(k)
            row, mode, campus = self._student_row(k, identity, rng)
            students.append(row)
            pattern = _STUDENT_SHOWCASE.get(k, _EMPTY).get("regs")
            registrations.extend(self._registrations(rng, identity, mode, campus, pattern))
            if len(students) >= CHUNK_ROWS:
                yield students, registrations
                students, registrations = [], []
        if students:
            yield students, registrations

    def _student_row(self, k: int, ident: _Identity, rng: random.Random) -> tuple[dict, int, str]:
        showcase = _STUDENT_SHOWCASE.get(k, _EMPTY)
        limits = (self.limits["fname"], self.limits["s_middlename"], self.limits["lname"])
        self._classify_names(ident.first, ident.middle, ident.family, limits)
        mode = rng.choice(_MODE_PICK)
        campus = rng.choice(_CAMPUS_PICK)
        prg_type, prg_tag = showcase.get("prg_type") or (
            (PROGRAM_TYPES[mode], None) if rng.random() > 0.004 else ("", "program_type_empty")
        )
        born = rng.choice(_COUNTRY_PICK)
        cntr_id, cntr_tag = showcase.get("cntr_id") or self._lookup(rng, "cntr_id", born)
        sex, sex_tag = ident.sex
        dob, dob_tag = ident.dob
        if "national_id" in showcase:
            nid, nid_tag = showcase["national_id"]
            if nid == "spaced":
                nid = self._spaced_nid(self._rw_national_id(rng, dob, sex), narrow=True)
        else:
            nid, nid_tag = self._national_id(rng, born, dob, sex, narrow=True)
        phone1, phone_tag = showcase.get("phone1") or self._phone(rng)
        if "email1" in showcase:
            email1, email_tag = showcase["email1"]
            email1 = self._email_override(email1, "stu_email")
        else:
            email1, email_tag = self._email(rng, ident.first, ident.family, "stu_email", "student")
        for tag in (prg_tag, cntr_tag, sex_tag, dob_tag, nid_tag, phone_tag, email_tag):
            if tag:
                self.counts[tag] += 1
        country = COUNTRIES[int(born) - 1]
        nationality = country[2] if rng.random() < 0.7 else born
        row = {
            "per_id_ug": k + 1,
            "reg_no": ident.reg_no,
            "prg_type": prg_type,
            "sex": sex,
            "fname": ident.first,
            "middlename": ident.middle,
            "lname": ident.family,
            "dob": dob,
            "national_id": nid,
            "cntr_id": cntr_id,
            "nationality": nationality,
            "phone1": phone1,
            "phone2": self._rw_mobile(rng) if rng.random() < 0.2 else None,
            "email1": email1,
            "email2": None,
            "address": rng.choice(ADDRESSES),
            "reg_date": datetime(ident.cohort, 9, 1, 9) + timedelta(minutes=rng.randrange(40_000)),
            "qk_id": None,
        }
        return row, mode, campus

    def _registrations(
        self, rng: random.Random, ident: _Identity, mode: int, campus: str, pattern: str | None
    ) -> list[dict]:
        counts = self.counts
        years_possible = min(3, LAST_YEAR - ident.cohort + 1)
        r = rng.random()
        if pattern is None:
            if r < 0.03:
                pattern = "none"
            elif r < 0.045:
                pattern = "inactive_newer"
            elif r < 0.055:
                pattern = "same_date_tie"
            elif r < 0.065:
                pattern = "all_inactive"
            elif r < 0.065 + FIELD_ANOMALY_RATE:
                pattern = "odd_ids"
        if pattern == "none":
            counts["student_without_registration"] += 1
            return []
        if pattern in ("several", "inactive_newer"):
            n = max(2, years_possible)
        else:
            roll = rng.random()
            wanted = 1 if roll < 0.47 else 2 if roll < 0.80 else 3
            n = min(wanted, years_possible)
        splz_id, _full, _code, prg_id = ident.splz[:4]
        intake = SEPTEMBER_INTAKE.get(ident.cohort, SEPTEMBER_INTAKE[LAST_YEAR])
        rows: list[dict] = []
        for i in range(n):
            # a recent cohort cannot have a row per year: extra rows fall a month apart
            year = min(ident.cohort + i, LAST_YEAR)
            later = timedelta(days=30 * (ident.cohort + i - year))
            rows.append(
                {
                    "reg_prg_id": 0,
                    "reg_no": ident.reg_no,
                    "intake_id": str(intake),
                    "prg_id": prg_id,
                    "splz_id": str(splz_id),
                    "level_id": str(min(year - ident.cohort + 1, 4)),
                    "prg_mode_id": str(mode),
                    "prg_type": PROGRAM_TYPES[mode],
                    "camp_id": campus,
                    "year_id": str(year),
                    "reg_date": datetime(year, 9, 2, 8)
                    + later
                    + timedelta(minutes=rng.randrange(40_000)),
                    "reg_active": 0,
                    "status_comment": rng.choice(STATUS_COMMENTS_ACTIVE) if i else "Registered",
                    "Availability": "Available",
                }
            )
        latest = rows[-1]
        latest["reg_active"] = 1
        if pattern == "inactive_newer" and n >= 2:
            # a deferral recorded after the active registration: sync must prefer the active one
            latest["reg_active"] = 0
            latest["status_comment"] = "Deferred"
            rows[-2]["reg_active"] = 1
            counts["registration_inactive_newer_than_active"] += 1
        elif pattern == "same_date_tie":
            # the same day registered twice (a campus correction): the higher reg_prg_id wins
            twin = dict(latest)
            twin["camp_id"] = "2" if latest["camp_id"] != "2" else "3"
            twin["status_comment"] = "Corrected campus"
            rows.append(twin)
            counts["registration_same_date_tie"] += 1
        elif pattern == "all_inactive":
            latest["reg_active"] = 0
            latest["status_comment"] = "Withdrawn"
            counts["student_only_inactive_registrations"] += 1
        elif pattern == "dangling_ids":
            latest["camp_id"] = "99"
            latest["splz_id"] = "99"
            counts["lookup_id_dangling"] += 2
        elif pattern == "spaced_ids":
            latest["camp_id"] = " 12"
            latest["level_id"] = f"{latest['level_id']} "
            counts["lookup_id_spaced"] += 2
        elif pattern == "odd_ids":
            column = rng.choice(("camp_id", "intake_id", "splz_id", "level_id", "prg_mode_id"))
            value, tag = rng.choice(self.hostile[f"reg_{column}"])
            latest[column] = value
            counts[tag] += 1
        if len(rows) >= 2:
            counts["student_with_several_registrations"] += 1
        for row in rows:
            self.registrations += 1
            row["reg_prg_id"] = self.registrations
        return rows

    # ---- applicants -------------------------------------------------------------------------

    def _twin_student(self, j: int) -> int | None:
        """The student applicant ``j`` also is, spreading the twins evenly over both tables."""
        if not self.twins:
            return None
        t_next = (j + 1) * self.twins // self.n_applicants
        if t_next == j * self.twins // self.n_applicants:
            return None
        return (t_next - 1) * self.n_students // self.twins

    def applicant_chunks(self) -> Iterator[list[dict]]:
        rng = random.Random(self.applicant_seed)
        chunk: list[dict] = []
        span = (datetime(LAST_YEAR, 8, 31) - datetime(LAST_YEAR - 4, 3, 1)).total_seconds()
        for j in range(self.n_applicants):
            chunk.append(self._applicant_row(rng, j, span))
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _applicant_row(self, rng: random.Random, j: int, span: float) -> dict:
        counts = self.counts
        showcase = _APPLICANT_SHOWCASE.get(j, _EMPTY)
        twin = None if "name" in showcase else self._twin_student(j)
        jitter = rng.uniform(-10, 10) * 86_400
        position = span * (j + 0.5) / max(self.n_applicants, 1)
        if twin is not None:
            ident, _ = self.student_identity(twin)
            first, middle, family = ident.first, ident.middle, ident.family
            if not self.sqlite:  # a student's fname may be longer than first_name allows
                first = first[: self.limits["first_name"]] if first else first
            sex, sex_tag = ident.sex
            dob, dob_tag = ident.dob
            reg_no: str | None = ident.reg_no
            appl_date = datetime(ident.cohort, 9, 1) - timedelta(days=rng.uniform(20, 160))
            intake = SEPTEMBER_INTAKE[ident.cohort]
            opt_1 = str(ident.splz[0])
            status = 3
            counts["applicant_is_also_student"] += 1
        else:
            sex, sex_tag = showcase.get("sex") or self._sex(rng)
            if "name" in showcase:
                first, middle, family = showcase["name"]
                first = self._resolve_name(first, "first_name")
                family = self._resolve_name(family, "family_name")
            elif rng.random() < NAME_SPRINKLE_RATE:
                first, middle, family = rng.choice(NAME_SPRINKLES)
                first = self._resolve_name(first, "first_name")
            else:
                first, middle, family = self._normal_names(rng, sex)
            appl_date = datetime(LAST_YEAR - 4, 3, 1) + timedelta(seconds=position + jitter)
            at = bisect.bisect_left(_INTAKE_STARTS, appl_date + timedelta(days=21))
            intake = INTAKES[min(at, len(INTAKES) - 1)][0]
            dob, dob_tag = showcase.get("dob") or self._dob(rng, appl_date.year)
            reg_no = "" if rng.random() < 0.02 else None
            opt_1 = str(rng.choice(_SPLZ_PICK)[0])
            status = rng.choice((0, 1, 1, 1, 2, 4)) if appl_date.year < LAST_YEAR else 0
        if "sex" in showcase:
            sex, sex_tag = showcase["sex"]
        if "dob" in showcase:
            dob, dob_tag = showcase["dob"]
        limits = (
            self.limits["first_name"],
            self.limits["middlename"],
            self.limits["family_name"],
        )
        self._classify_names(first, middle, family, limits)

        tags: list[str | None] = [sex_tag, dob_tag]
        get = showcase.get
        born, born_tag = get("country_of_birth") or self._birth_country(rng)
        tags.append(born_tag)
        if "nation_Id_passPort_no" in showcase:
            nid, nid_tag = showcase["nation_Id_passPort_no"]
            if nid == "spaced":
                nid = self._spaced_nid(self._rw_national_id(rng, dob, sex), narrow=False)
        else:
            nid, nid_tag = self._national_id(rng, born, dob, sex, narrow=False)
        tags.append(nid_tag)
        phone1, phone_tag = get("phone1") or self._phone(rng)
        tags.append(phone_tag)
        if "email1" in showcase:
            email1, email_tag = showcase["email1"]
            email1 = self._email_override(email1, "app_email")
        else:
            email1, email_tag = self._email(rng, first, family, "app_email", "applicant")
        tags.append(email_tag)
        camp_id, t1 = get("camp_id") or self._lookup(rng, "camp_id", rng.choice(_CAMPUS_PICK))
        opt_1, t2 = get("opt_1") or self._lookup(rng, "opt_1", opt_1)
        intake_id, t3 = get("intake_id") or self._lookup(rng, "intake_id", str(intake))
        level = "1" if rng.random() < 0.93 else rng.choice("234")
        level_id, t4 = get("level_id") or self._lookup(rng, "level_id", level)
        mode = str(rng.choice(_MODE_PICK))
        mode_id, t5 = get("prg_mode_id") or self._lookup(rng, "prg_mode_id", mode)
        tags += (t1, t2, t3, t4, t5)
        tracking, tracking_tag = get("tracking_id") or (
            (f"TRK-{appl_date.year}-{j + 1:06d}", None)
            if rng.random() > 0.002
            else (None, "tracking_id_missing")
        )
        tags.append(tracking_tag)
        for tag in tags:
            if tag:
                counts[tag] += 1
        opt_2 = str(rng.choice(_SPLZ_PICK)[0]) if rng.random() < 0.6 else None
        opt_3 = str(rng.choice(_SPLZ_PICK)[0]) if opt_2 and rng.random() < 0.5 else None
        return {
            "appl_Id": j + 1,
            "tracking_id": tracking,
            "reg_no": reg_no,
            "first_name": first,
            "middlename": middle,
            "family_name": family,
            "dob": dob,
            "sex": sex,
            "phone1": phone1,
            "email1": email1,
            "country_of_birth": born,
            "nation_Id_passPort_no": nid,
            "present_nationality": born if born and born.isdigit() else "1",
            "camp_id": camp_id,
            "opt_1": opt_1,
            "opt_2": opt_2,
            "opt_3": opt_3,
            "intake_id": intake_id,
            "level_id": level_id,
            "prg_mode_id": mode_id,
            "spon_id": rng.choice(("1", "1", "1", "2", "3", None)),
            "appl_date": appl_date.replace(microsecond=0),
            "status": status,
        }

    @staticmethod
    def _birth_country(rng: random.Random) -> tuple[str | None, str | None]:
        r = rng.random()
        if r < 0.97:
            return rng.choice(_COUNTRY_PICK), None
        if r < 0.985:
            return rng.choice(FREE_TEXT_COUNTRIES), "birth_country_free_text"
        if r < 0.99:
            return rng.choice(DANGLING_COUNTRIES), "birth_country_dangling"
        return (None if r < 0.996 else ""), "birth_country_missing"


# --------------------------------------------------------------------------------------------
# Lookups as rows
# --------------------------------------------------------------------------------------------


def _lookup_rows() -> dict[str, list[dict]]:
    return {
        mis_tables.campuses.name: [
            {
                "camp_id": cid,
                "camp_full_name": full,
                "camp_short_name": short,
                "camp_city": city,
                "camp_active": active,
            }
            for cid, full, short, city, active in CAMPUSES
        ],
        mis_tables.intakes.name: [
            {
                "intake_id": iid,
                "intake_month": month,
                "intake_no": no,
                "intake_start": start,
                "acad_cycle_id": cycle,
                "prg_type": "UG",
                "status": status,
            }
            for iid, month, no, start, cycle, status in INTAKES
        ],
        mis_tables.specializations.name: [
            {
                "splz_id": sid,
                "splz_full_name": full,
                "splz_short_name": short,
                "prg_id": prg,
                "degree_name": degree,
            }
            for sid, full, short, prg, degree, _w in SPECIALIZATIONS
        ],
        mis_tables.levels.name: [
            {"level_id": lid, "level_full_name": full, "level_short_name": short, "level_no": no}
            for lid, full, short, no in LEVELS
        ],
        mis_tables.program_modes.name: [
            {"prg_mode_id": mid, "prg_mode_full_name": full, "prg_mode_short_name": short}
            for mid, full, short in PROGRAM_MODES
        ],
        mis_tables.countries.name: [
            {"cntr_id": cid, "cntr_name": name, "cntr_nationality": nat, "cntr_code": code}
            for cid, name, nat, code, _w in COUNTRIES
        ],
    }


# --------------------------------------------------------------------------------------------
# Schema and the public entry point
# --------------------------------------------------------------------------------------------


def demo_tables() -> dict[str, sa.Table]:
    """The MIS tables as a university has them (no tracking columns but students' qk_id)."""
    target = sa.MetaData()
    return {
        t.name: mis_tables.mis_table_as_found(t, target) for t in mis_tables.metadata.sorted_tables
    }


def _drop_tables(engine: Engine, names: list[str]) -> None:
    # Our qbsync_ tables may reference each other: drop children first, and on MySQL switch
    # foreign key checks off for this connection so that tables unknown to us drop too.
    known_order = [t.name for t in reversed(app_tables.metadata.sorted_tables)]
    ordered = sorted(names, key=lambda n: known_order.index(n) if n in known_order else -1)
    with engine.begin() as conn:
        mysql = engine.dialect.name in ("mysql", "mariadb")
        if mysql:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        try:
            for name in ordered:
                conn.execute(sa.schema.DropTable(sa.Table(name, sa.MetaData()), if_exists=True))
        finally:
            if mysql:
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


def _tables_with_rows(conn: Connection, tables: list[sa.Table]) -> list[str]:
    return [
        t.name
        for t in tables
        if conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first() is not None
    ]


def _prepare_schema(engine: Engine, tables: dict[str, sa.Table], replace: bool) -> None:
    existing = set(sa.inspect(engine).get_table_names())
    if replace:
        doomed = [n for n in existing if n in tables or n.startswith("qbsync_")]
        if doomed:
            _drop_tables(engine, doomed)
        existing = set()
    present = [tables[n] for n in tables if n in existing]
    if present:
        with engine.connect() as conn:
            filled = _tables_with_rows(conn, present)
        if filled:
            raise ValueError(
                f"{', '.join(filled)} already hold rows; the demo data is only written into "
                "empty tables (pass replace=True to drop and recreate the MIS tables)"
            )
    missing = [t for name, t in tables.items() if name not in existing]
    if missing:
        next(iter(tables.values())).metadata.create_all(engine, tables=missing, checkfirst=True)


def create_demo_database(
    engine: Engine,
    applicants: int = 850,
    students: int = 1200,
    seed: int = 2025,
    replace: bool = False,
) -> DemoSummary:
    """Create the MIS tables as found and fill them with reproducible demo data.

    Raises ValueError when MIS tables already hold rows and ``replace`` is False; with
    ``replace=True`` the MIS tables and every ``qbsync_`` table are dropped first (their sync
    state belongs to the old data). Rows are generated and inserted in chunks, so memory stays
    flat at any size; each chunk is committed on its own.
    """
    for name, value in (("applicants", applicants), ("students", students)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    tables = demo_tables()
    _prepare_schema(engine, tables, replace)
    generator = _Generator(seed, applicants, students, sqlite=engine.dialect.name == "sqlite")
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for name, rows in _lookup_rows().items():
            conn.execute(tables[name].insert(), rows)
            counts[name] = len(rows)
        conn.commit()
        student_table = tables[mis_tables.students.name]
        registration_table = tables[mis_tables.registrations.name]
        for student_rows, registration_rows in generator.student_chunks():
            conn.execute(student_table.insert(), student_rows)
            if registration_rows:
                conn.execute(registration_table.insert(), registration_rows)
            conn.commit()
        applicant_table = tables[mis_tables.applicants.name]
        for applicant_rows in generator.applicant_chunks():
            conn.execute(applicant_table.insert(), applicant_rows)
            conn.commit()
    counts[mis_tables.applicants.name] = applicants
    counts[mis_tables.students.name] = students
    counts[mis_tables.registrations.name] = generator.registrations
    ordered = {t.name: counts[t.name] for t in mis_tables.metadata.sorted_tables}
    return DemoSummary(
        seed=seed, backend=engine.dialect.name, tables=ordered, anomalies=generator.counts
    )
