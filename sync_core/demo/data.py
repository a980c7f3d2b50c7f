"""A demo MIS database filled with realistic, reproducible and deliberately messy data.

With no configuration the product runs on an embedded SQLite MIS built here; tests and benchmarks
fill MariaDB with the same generator. The tables have the shape universities actually have
(:mod:`sync_core.demo.schema`, after ``shared/spec/legacy/mis.sql``): ``QuickBk_status`` spelled
with a lower-case s, the QuickBooks Id columns already there (``quickbooks_id`` on applicants,
``qk_id`` on students), INT and VARCHAR foreign ids side by side, ``prg_type`` an INT pointing at
``tbl_program_type``, columns the product never reads. The data imitates a Rwandan university and
holds everything that breaks a naive sync (:data:`ANOMALY_CATEGORIES`): missing and messy names,
namesakes (QuickBooks display names must be unique), people who are both applicant and student,
lookup ids that are '', '0', ' 12' or point nowhere (only where the column's type can hold them:
an INT id can only be NULL, 0 or an id with no row), invalid e-mails, junk phones, students with
no or several registrations, and records a registrar must fix before they can be synced
(:data:`PLANTED_FAILURES`).

Applicants applied from 2019 to 2025 (``appl_date``; about three quarters before 2024-09-01, so a
scope cut-off matters); ``status`` is the application's status (:data:`APPLICATION_STATUSES`).

History (``with_history=True``): part of the rows were synced by an earlier integration, which
left them synced, stuck, reset or failed, and created QuickBooks customers that the summary lists
for preloading into the simulator (see :mod:`sync_core.demo.history`). Without history (the
default, what scripts and benchmarks rely on) every row is at status 0 with no Id: a clean start
on the same shape.

Reproducibility: the same seed gives the same rows (no clock but the marker's creation time, no
global random state). Every student row (and its registrations) comes from its own random stream
derived from the seed and the row index, so the applicant who is also that student can recompute
the student's names and reg_no without the generator keeping earlier rows in memory. Applicants
come from one stream; the earlier system's decisions from streams of their own, so history changes
no person.

Hostile rows: a fixed "showcase" of anomalies sits among the first ``SHOWCASE_ROWS`` applicants and
students (a preview of the first pages shows them at any size); past it they recur at low rates.

The only difference between backends: SQLite does not enforce VARCHAR lengths, so there (and only
there) a few values exceed their declared length (a 600-character name, a too-long e-mail); on
MariaDB the same rows hold values exactly at the column limit. With history, such a row may thus
have failed with the earlier system on SQLite and been synced on MariaDB.

Safety: every demo database carries a marker table (``qbsync_demo_marker``). The generator fills
only a database without MIS tables or one it created itself; ``replace=True`` drops the demo's
MIS tables and marker and nothing else (never the product's ``qbsync_`` tables), and refuses
(:class:`DemoDatabaseRefused`) MIS tables it did not create.
"""

from __future__ import annotations

import bisect
import copy
import operator
import queue
import random
import re
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync_core.database import is_mysql
from sync_core.demo import schema
from sync_core.demo.history import (
    CUSTOM_FIELDS,
    EARLIER_SYSTEM_SINCE,
    HAND_TYPED_CUSTOMERS,
    HISTORY_OUTCOMES,
    EarlierSystem,
)
from sync_core.domain.errors import ConfigurationError, InvalidRequest

__all__ = [
    "ANOMALY_CATEGORIES",
    "APPLICATION_STATUSES",
    "CUSTOM_FIELDS",
    "DemoDatabaseRefused",
    "DemoMarker",
    "DemoSummary",
    "EARLIER_SYSTEM_SINCE",
    "HAND_TYPED_CUSTOMERS",
    "HISTORY_OUTCOMES",
    "PLANTED_FAILURES",
    "PLANTED_NAMESAKES",
    "PlantedFailure",
    "QBO_EMPLOYEE_NAMES",
    "SHOWCASE_ROWS",
    "create_demo_database",
    "demo_tables",
    "legacy_customers",
    "read_demo_marker",
    "reset_demo_database",
]

GENERATOR_VERSION = 2  # bumped when the same seed starts giving different rows
CHUNK_ROWS = 5000
SHOWCASE_ROWS = 60
TWIN_SHARE = 0.35  # share of students who also exist as an applicant
NAME_SPRINKLE_RATE = 0.02  # past the showcase: share of rows given a hostile name
FIELD_ANOMALY_RATE = 0.012  # past the showcase: per enriched lookup field
LAST_YEAR = 2025  # the demo's "now": latest cohort, latest registrations
FIRST_APPLICATION = datetime(2019, 3, 1)
LAST_APPLICATION = datetime(2025, 11, 28)
# Applications grow over the years: the j-th of n applied at FIRST + span * ((j + 0.5) / n) ** k.
_APPLICATION_CURVE = 0.75

# tbl_online_application.status, the application's own status (not the sync status).
APPLICATION_STATUSES: dict[int, str] = {
    0: "draft (started, not submitted)",
    1: "submitted",
    2: "admitted (the enrolled ones carry their student reg_no)",
    3: "rejected",
}

# Markers resolved per backend when a row is built: a name or e-mail exactly at its column limit,
# or (SQLite only, which does not enforce VARCHAR lengths) a 600-character name.
_OVERLONG = "\x00overlong"
_OVER_LIMIT = "\x00over_limit"

# Names the QuickBooks simulator is expected to hold as Employees: a Customer with this
# DisplayName clashes (code 6240) even though no other customer has it.
QBO_EMPLOYEE_NAMES = ("Jean Claude Habimana",)
# (first, family) pairs planted several times in both customer tables.
PLANTED_NAMESAKES = (("John", "Doe"), ("Jean Claude", "Habimana"))
# The most recent applicant (past the showcase): a hand-typed QuickBooks customer shares this
# name (see HAND_TYPED_CUSTOMERS).
LAST_APPLICANT_NAME = ("Alice", None, "Uwase")

ANOMALY_CATEGORIES: dict[str, str] = {
    # names (applicants and students; a row counts once per category)
    "name_missing_both_null": "first and family name both NULL",
    "name_missing_both_empty": "first and family name both ''",
    "name_only_one_part": "only the first or only the family name present",
    "name_whitespace_only": "a name part made only of whitespace",
    "name_padded_or_double_spaces": "leading, trailing or doubled spaces in a name",
    "name_with_colon": "a colon in a name (QuickBooks forbids it)",
    "name_with_tab_or_newline": "a tab or newline in a name (QuickBooks forbids it)",
    "name_only_refused_characters": "a name made only of characters QuickBooks refuses (: tab)",
    "name_overlong": "a name part of 100+ characters (QuickBooks allows 100)",
    "name_over_column_limit": "a name longer than its VARCHAR (SQLite only)",
    "name_accented": "non-ASCII letters in a name (Théogène, Françoise)",
    "name_apostrophe": "an apostrophe in a name (Jean d'Amour, O'Brien)",
    "namesake_planted": "exactly a planted namesake (John Doe, Jean Claude Habimana)",
    "namesake_case_or_space_variant": "a planted namesake differing only in case or spaces",
    "name_matches_qbo_employee": "the name of a simulated QuickBooks employee",
    "applicant_is_also_student": "applicant carrying a student's names and reg_no",
    # lookup ids: VARCHAR columns (applicant camp_id/opt_1/country_of_birth, registration
    # prg_type) can hold all of these; INT columns (applicant intake/level/mode, student cntr_id,
    # registration ids) only NULL, 0 or an id with no row
    "lookup_id_null": "lookup id NULL",
    "lookup_id_empty": "lookup id '' (string columns)",
    "lookup_id_zero": "lookup id '0' or 0",
    "lookup_id_spaced": "lookup id with spaces (' 12', '3 '; string columns)",
    "lookup_id_dangling": "lookup id with no row ('99', 4, 999)",
    "lookup_id_non_numeric": "non-numeric lookup id ('abc', 'KGL'; string columns)",
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
    "program_type_missing": "student prg_type NULL or 0",
    "program_type_dangling": "student prg_type with no tbl_program_type row",
    "reg_no_blank": "student RegNo ' ' or '' (a data-entry error: cannot be synced)",
    # registrations
    "student_without_registration": "student with no registration row",
    "student_with_several_registrations": "student with 2 or more registration rows",
    "registration_inactive_newer_than_active": "newest registration inactive, an older one active",
    "registration_same_date_tie": "two registrations with the same reg_date (reg_prg_id decides)",
    "student_only_inactive_registrations": "student whose registrations are all inactive",
}


class DemoDatabaseRefused(ConfigurationError):
    """The database holds MIS tables the demo generator did not create: it never fills, drops or
    replaces them (it only ever replaces a database carrying its own marker table)."""


@dataclass(frozen=True)
class PlantedFailure:
    """A record planted so that the first sync shows a failure a registrar fixes in the MIS."""

    kind: str  # "applicant" / "student"
    table: str
    row_id: int  # appl_Id / per_id_ug (present when the table has at least this many rows)
    column: str  # what the registrar must correct
    value: str | None  # the value planted there
    reason: str


@dataclass(frozen=True)
class DemoMarker:
    """What the marker table says about the demo in a database."""

    created_at: datetime
    generator_version: int
    seed: int
    applicants: int
    students: int
    with_history: bool


@dataclass
class DemoSummary:
    """What :func:`create_demo_database` wrote: rows per table and rows per anomaly category.

    Anomaly counts are occurrences: a row counts once in each category it shows, and lookup-id
    categories count each offending column value. With history, ``history`` counts the rows per
    earlier-system outcome (:data:`HISTORY_OUTCOMES`) for ``applicants`` and ``students``, and
    ``customers`` lists the QuickBooks customers already in the company (QBO JSON): those the
    earlier system created, then :data:`HAND_TYPED_CUSTOMERS`. Without history both are empty.
    """

    seed: int
    backend: str
    tables: dict[str, int]
    anomalies: dict[str, int]
    with_history: bool = False
    history: dict[str, dict[str, int]] = field(default_factory=dict)
    customers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def applicants(self) -> int:
        return self.tables[schema.applicants.name]

    @property
    def students(self) -> int:
        return self.tables[schema.students.name]

    @property
    def registrations(self) -> int:
        return self.tables[schema.registrations.name]

    def describe(self) -> list[str]:
        """Human-readable lines for a CLI or a log."""
        lines = [f"{name}: {count:,} rows" for name, count in self.tables.items()]
        lines += [
            f"  {key}: {count:,} ({ANOMALY_CATEGORIES[key]})"
            for key, count in self.anomalies.items()
        ]
        if self.with_history:
            lines.append(
                f"earlier integration: {len(self.customers):,} QuickBooks customers already "
                f"exist ({len(HAND_TYPED_CUSTOMERS)} of them typed by hand)"
            )
            for table, counts in self.history.items():
                for outcome, count in counts.items():
                    lines.append(f"  {table} {outcome}: {count:,} ({HISTORY_OUTCOMES[outcome]})")
        else:
            lines.append("no sync history: every record at QuickBk_status 0 with no QuickBooks Id")
        return lines


# --------------------------------------------------------------------------------------------
# Lookup tables: a plausible Rwandan university
# --------------------------------------------------------------------------------------------

# (prg_type_id, full name, short name, weight): tbl_personal_ug.prg_type points here. The
# distance programme has only a short name (the readable name falls back to it).
PROGRAM_TYPES = (
    (1, "Day", "DAY", 62),
    (2, "Evening", "EVE", 24),
    (3, "Weekend", "WKD", 12),
    (4, "", "DIST", 2),
)

# camp_id 4 was deleted long ago (ids have gaps, as in real data); 5 has only a short name;
# 12 is a closed campus that old registrations still point at.
# (camp_id, full name, short name, city, year opened, active)
CAMPUSES = (
    (1, "Kigali Campus", "KGL", "Kigali", 2008, 1),
    (2, "Rwamagana Campus", "RWG", "Rwamagana", 2012, 1),
    (3, "Musanze Campus", "MSZ", "Musanze", 2014, 1),
    (5, "", "NYG", "Nyagatare", 2017, 1),
    (12, "Huye Campus", "HYE", "Huye", 2010, 0),
)
CAMPUS_WEIGHTS = (55, 18, 14, 6, 7)

# (intake_id, intake_month, intake_no, intake_start, acad_cycle_id, status)
# The last one has no month (''): a readable name must then come from intake_start.
INTAKES = (
    (1, "September", 1, datetime(2019, 9, 16), 1, 0),
    (2, "January", 2, datetime(2020, 1, 13), 1, 0),
    (3, "September", 1, datetime(2020, 10, 19), 2, 0),
    (4, "January", 2, datetime(2021, 1, 18), 2, 0),
    (5, "September", 1, datetime(2021, 9, 20), 3, 0),
    (6, "January", 2, datetime(2022, 1, 17), 3, 0),
    (7, "September", 1, datetime(2022, 9, 19), 4, 0),
    (8, "January", 2, datetime(2023, 1, 16), 4, 0),
    (9, "September", 1, datetime(2023, 9, 18), 5, 0),
    (10, "January", 2, datetime(2024, 1, 15), 5, 0),
    (11, "May", 3, datetime(2024, 5, 13), 5, 0),
    (12, "September", 1, datetime(2024, 9, 16), 6, 0),
    (13, "January", 2, datetime(2025, 1, 13), 6, 1),
    (14, "September", 1, datetime(2025, 9, 15), 7, 1),
    (15, "", 2, datetime(2026, 1, 12), 7, 1),
)
SEPTEMBER_INTAKE = {row[3].year: row[0] for row in INTAKES if row[1] == "September"}

# (splz_id, full name, short name = reg_no code, prg_id, degree_name, weight)
SPECIALIZATIONS = (
    (1, "Bachelor of Information Technology", "BIT", 1, "Bachelor of Science", 15),
    (2, "Bachelor of Science in Computer Science", "BCS", 1, "Bachelor of Science", 8),
    (3, "Bachelor of Business Administration in Accounting", "ACC", 2, "BBA", 12),
    (4, "Bachelor of Business Administration in Finance", "FIN", 2, "BBA", 6),
    (5, "Bachelor of Business Administration in Marketing", "MKT", 2, "BBA", 4),
    (6, "Bachelor of Business Administration in Management", "BBA", 2, "BBA", 10),
    (7, "Bachelor of Education in Mathematics and Physics", "EMP", 3, "Bachelor of Education", 5),
    (
        8,
        "Bachelor of Education in Languages (English–French)",
        "ELF",
        3,
        "Bachelor of Education",
        4,
    ),
    (9, "Bachelor of Science in Nursing", "NUR", 4, "Bachelor of Science", 10),
    (10, "Bachelor of Science in Public Health", "BPH", 4, "Bachelor of Science", 8),
    (11, "Bachelor of Science in Civil Engineering", "BCE", 5, "Bachelor of Science", 8),
    (12, "Bachelor of Laws", "LLB", 6, "Bachelor of Laws", 6),
    (13, "", "DEV", 7, "Bachelor of Arts", 4),
)

# (level_id, full name, short name, level_no, fee amount as the MIS keeps it: text)
LEVELS = (
    (1, "Year 1", "Y1", "1", "450000"),
    (2, "Year 2", "Y2", "2", "450000"),
    (3, "Year 3", "Y3", "3", "480000"),
    (4, "Year 4", "Y4", "4", "480000"),
)

PROGRAM_MODES = ((1, "Full time", "FT"), (2, "Part time", "PT"), (3, "Distance learning", "DL"))
# the study mode that goes with a programme type
MODE_OF_TYPE = {1: 1, 2: 2, 3: 2, 4: 3}

# (cntr_id, name, nationality, code, phone code, weight as country of birth). Ids as in the
# MIS's country list: gaps everywhere.
COUNTRIES = (
    (178, "Rwanda", "Rwandan", "RW", "250", 800),
    (221, "Uganda", "Ugandan", "UG", "256", 35),
    (110, "Kenya", "Kenyan", "KE", "254", 20),
    (35, "Burundi", "Burundian", "BI", "257", 40),
    (49, "Democratic Republic of the Congo", "Congolese", "CD", "243", 55),
    (208, "Tanzania", "Tanzanian", "TZ", "255", 12),
    (197, "South Sudan", "South Sudanese", "SS", "211", 8),
    (68, "Ethiopia", "Ethiopian", "ET", "251", 3),
    (156, "Nigeria", "Nigerian", "NG", "234", 4),
    (37, "Cameroon", "Cameroonian", "CM", "237", 3),
    (52, "Côte d'Ivoire", "Ivorian", "CI", "225", 3),
    (73, "France", "French", "FR", "33", 4),
    (21, "Belgium", "Belgian", "BE", "32", 4),
    (222, "United Kingdom", "British", "GB", "44", 3),
    (223, "United States of America", "American", "US", "1", 3),
    (99, "India", "Indian", "IN", "91", 2),
    (44, "China", "Chinese", "CN", "86", 1),
)
RWANDA = 178
_COUNTRY_BY_ID = {c[0]: c for c in COUNTRIES}

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
DANGLING_COUNTRIES = ("250", "999")
STATUS_COMMENTS_ACTIVE = ("Registered", "Promoted", "")
AVAILABILITY = ("", "", "Available")
MARITAL_STATUSES = ("Single",) * 8 + ("Married", None)


class _Random(random.Random):
    """``random.Random`` with cheaper ``choice``/``randrange``/``randint`` (``int(random() * n)``,
    as CPython itself does without getrandbits): the generator draws millions of them."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randrange(self, start: int, stop: int | None = None) -> int:  # type: ignore[override]
        if stop is None:
            return int(self.random() * start)
        return start + int(self.random() * (stop - start))

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


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
_REFUSED_AND_SPACE = str.maketrans("", "", ":\t\r\n ")

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


def _lookup_tag(value: str | int | None, valid: frozenset[str]) -> str | None:
    """The lookup-id anomaly a raw MIS value shows, or None for a clean valid id."""
    if value is None:
        return "lookup_id_null"
    if isinstance(value, int):
        if str(value) in valid:
            return None
        return "lookup_id_zero" if value == 0 else "lookup_id_dangling"
    if value == "":
        return "lookup_id_empty"
    if value.strip() != value:
        return "lookup_id_spaced"
    if value == "0":
        return "lookup_id_zero"
    if not value.isdigit():
        return "lookup_id_non_numeric"
    return None if value in valid else "lookup_id_dangling"


_VALID_CAMPUS = frozenset(str(c[0]) for c in CAMPUSES)
_VALID_INTAKE = frozenset(str(i[0]) for i in INTAKES)
_VALID_SPLZ = frozenset(str(s[0]) for s in SPECIALIZATIONS)
_VALID_LEVEL = frozenset(str(lv[0]) for lv in LEVELS)
_VALID_MODE = frozenset(str(m[0]) for m in PROGRAM_MODES)
_VALID_COUNTRY = frozenset(str(c[0]) for c in COUNTRIES)
_VALID_PROGRAM_TYPE = frozenset(str(t[0]) for t in PROGRAM_TYPES)


def _hostile(
    values: tuple[str | int | None, ...], valid: frozenset[str]
) -> tuple[tuple[str | int | None, str | None], ...]:
    return tuple((v, _lookup_tag(v, valid)) for v in values)


def _hostile_string(valid: frozenset[str], extra: tuple[str, ...] = ()) -> tuple:
    """What a VARCHAR id column can hold besides a good id (NULL, '', '0', spaces, junk)."""
    spaced = "12" if "12" in valid else "3"
    return _hostile((None, "", "0", f" {spaced}", "3 ", "99", "abc", *extra), valid)


def _hostile_int(valid: frozenset[str], dangling: tuple[int, ...], nullable: bool) -> tuple:
    """What an INT id column can hold besides a good id: NULL (if allowed), 0, a missing id."""
    return _hostile(((None,) if nullable else ()) + (0, *dangling), valid)


def _expand(items: tuple, weights: tuple[int, ...]) -> tuple:
    """A tuple where each item repeats ``weight`` times, so ``rng.choice`` is a weighted pick."""
    return tuple(item for item, w in zip(items, weights, strict=True) for _ in range(w))


_CAMPUS_PICK = _expand(tuple(c[0] for c in CAMPUSES), CAMPUS_WEIGHTS)
_SPLZ_PICK = _expand(SPECIALIZATIONS, tuple(s[5] for s in SPECIALIZATIONS))
_PROGRAM_TYPE_PICK = _expand(tuple(t[0] for t in PROGRAM_TYPES), tuple(t[3] for t in PROGRAM_TYPES))
_COUNTRY_PICK = _expand(tuple(c[0] for c in COUNTRIES), tuple(c[5] for c in COUNTRIES))
_INTAKE_STARTS = [row[3] for row in INTAKES]

# What the earlier system wrote in student custom fields for each lookup id.
_LEGACY_NAMES: dict[str, dict[int, str]] = {
    "campus": {c[0]: c[1] for c in CAMPUSES},
    "level": {lv[0]: lv[1] for lv in LEVELS},
    "program": {s[0]: s[1] for s in SPECIALIZATIONS},
    "intake": {i[0]: f"{i[1]} {i[2]}".strip() for i in INTAKES},
    "program_type": {t[0]: t[1] for t in PROGRAM_TYPES},
}


# --------------------------------------------------------------------------------------------
# The showcase: anomalies among the first SHOWCASE_ROWS rows of each customer table
# --------------------------------------------------------------------------------------------
# Each entry maps a column (or "name" / "regs" / "failure") to its forced value and anomaly tag.
# Names are (first, middle, family); their tags come from classifying the value, so none are
# given here. "failure" documents a planted failure (see PLANTED_FAILURES).

_BLANK_REG_NO = (
    "RegNo is blank in the MIS: the student cannot be identified in QuickBooks (the product "
    "refuses to send it); the registrar must enter the student's RegNo"
)

_REFUSED_NAME = (
    "the name is only characters QuickBooks refuses in names (colon, tab); the registrar must "
    "enter the applicant's real first and family names"
)

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
    {
        "name": (":", None, "\t:"),
        "email1": _email_tag("n/a"),
        "phone1": ("N/A", "phone_junk"),
        "failure": ("first_name", _REFUSED_NAME),
    },
    {"name": (None, None, "Tuyishime")},
    {"name": ("   ", None, "  ")},
    {"name": ("John", None, "Doe"), "email1": _email_tag("john doe@gmail.com")},
    {"name": ("Dieudonné", "Jean-Baptiste", "Hakizimana")},
    {
        "intake_id": (None, "lookup_id_null"),
        "level_id": (0, "lookup_id_zero"),
        "opt_1": ("abc", "lookup_id_non_numeric"),
    },
    {"name": ("Aline\t", None, "Uwase")},
    {"name": ("Patience", None, "Mutesi\n")},
    {"name": ("JOHN", None, "DOE"), "opt_1": ("3 ", "lookup_id_spaced")},
    {"email1": (_OVERLONG, "email_overlong")},
    {"name": (_OVERLONG, None, "Mukandayisenga")},
    {"name": ("Jean Claude", None, "Habimana"), "camp_id": (None, "lookup_id_null")},
    {"nation_Id_passPort_no": ("spaced", "national_id_spaced"), "sex": ("", "sex_missing")},
    {
        "name": ("john", None, "doe"),
        "camp_id": ("", "lookup_id_empty"),
        "prg_mode_id": (0, "lookup_id_zero"),
    },
    {"name": ("Brian", None, "O'Brien"), "email1": _email_tag("x@y")},
    {"name": ("Françoise", "Marie-Claire", "N'Guessan"), "country_of_birth": ("52", None)},
    {"country_of_birth": ("DRC", "birth_country_free_text"), "sex": ("female", "sex_nonstandard")},
    {"country_of_birth": ("250", "birth_country_dangling"), "phone1": (None, "phone_missing")},
    {"name": (" John", None, "Doe  "), "email1": _email_tag("n/a")},
    {"phone1": ("078-812-3456", "phone_rw_formatted"), "email1": _email_tag("none")},
    {
        "phone1": ("+256 772 123456", "phone_foreign"),
        "nation_Id_passPort_no": ("B1234567", "national_id_passport"),
        "country_of_birth": ("221", None),
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
    {"phone1": ("+254 712 345678", "phone_foreign"), "intake_id": (42, "lookup_id_dangling")},
    {"email1": (None, "email_missing"), "phone1": ("call me", "phone_junk")},
)

STUDENT_SHOWCASE: tuple[dict, ...] = (
    {"name": ("John", None, "Doe")},
    {"name": (None, None, None), "regs": "none"},
    {"name": ("Jean Claude", None, "Habimana"), "regs": "several"},
    {"email1": _email_tag("john@")},
    {"name": ("Françoise", None, "Uwase"), "regs": "inactive_newer"},
    {"reg_no": (" ", "reg_no_blank"), "regs": "none", "failure": ("reg_no", _BLANK_REG_NO)},
    {"name": ("John", None, "Doe"), "regs": "same_date_tie"},
    {"name": ("", None, "")},
    {"regs": "spaced_ids", "cntr_id": (None, "lookup_id_null")},
    {"name": ("Jean-Baptiste", "Théogène", "Nsengiyumva"), "regs": "dangling_ids"},
    {"name": ("Peace", None, "O'Brien"), "regs": "all_inactive"},
    {"name": ("John", None, "Doe"), "email1": _email_tag("none")},
    {"name": ("Marie: Claire", None, "Uwimana")},
    {"cntr_id": (999, "lookup_id_dangling"), "regs": "none"},
    {"name": ("  ", None, " ")},
    {"name": ("Brian", None, None), "sex": ("Male", "sex_nonstandard")},
    {"name": (None, None, "Iradukunda"), "cntr_id": (0, "lookup_id_zero")},
    {"name": ("Aline", None, "Mugisha\t")},
    {"name": ("Jean\nBosco", None, "Ntwari"), "regs": "several"},
    {"name": ("Jean Claude", None, "Habimana"), "regs": "inactive_newer"},
    {"name": ("jean claude", None, "habimana "), "cntr_id": (250, "lookup_id_dangling")},
    {"name": (_OVERLONG, None, _OVERLONG)},
    {"name": ("Gloria", None, _OVER_LIMIT), "regs": "same_date_tie"},
    {"phone1": ("+250 788 123 456", "phone_rw_formatted"), "sex": ("", "sex_missing")},
    {"phone1": ("N/A", "phone_junk"), "sex": (None, "sex_missing")},
    {"national_id": ("spaced", "national_id_spaced"), "sex": ("female", "sex_nonstandard")},
    {
        "national_id": ("PC123456", "national_id_passport"),
        "prg_type": (9, "program_type_dangling"),
    },
    {"email1": (_OVERLONG, "email_overlong"), "phone1": ("078-812-3456", "phone_rw_formatted")},
    {"email1": _email_tag("x@y"), "phone1": ("+254 712 345678", "phone_foreign")},
    {"email1": _email_tag("john doe@gmail.com"), "prg_type": (None, "program_type_missing")},
    {"email1": _email_tag("aline.uwase@gmail.com."), "phone1": (None, "phone_missing")},
    {"name": ("Émilienne", None, "Kayitesi"), "email1": (None, "email_missing")},
    {"name": ("Josée", "Dieudonné", "Mutesi"), "email1": ("", "email_missing")},
    {"name": ("Jean d'Amour", None, "N'Guessan"), "national_id": (None, "national_id_missing")},
    {"name": ("Jean Claude", None, "Habimana"), "regs": "several"},
    {"name": ("John", None, "Doe"), "regs": "none"},
    {"reg_no": ("", "reg_no_blank"), "regs": "none", "failure": ("reg_no", _BLANK_REG_NO)},
    {"name": ("JOHN", None, "DOE"), "dob": (None, "dob_missing")},
    {"phone1": ("0788123456 / 0722654321", "phone_multiple_numbers"), "regs": "all_inactive"},
    {"email1": (" grace.peace@gmail.com ", "email_padded"), "regs": "spaced_ids"},
    {"name": ("Patience", None, "Habimana"), "dob": (datetime(1900, 1, 1), "dob_placeholder")},
    {"name": ("Théoneste", None, "Habimana"), "email1": _email_tag("n/a")},
    {
        "phone1": ("0", "phone_junk"),
        "regs": "dangling_ids",
        "prg_type": (0, "program_type_missing"),
    },
)


def _place(entries: tuple[dict, ...]) -> dict[int, dict]:
    """Spread showcase entries over the first rows, leaving every fourth row ordinary."""
    placed = {i + i // 3: entry for i, entry in enumerate(entries)}
    assert max(placed) < SHOWCASE_ROWS
    return placed


_APPLICANT_SHOWCASE = _place(APPLICANT_SHOWCASE)
_STUDENT_SHOWCASE = _place(STUDENT_SHOWCASE)
_EMPTY: dict = {}


def _planted_failures() -> tuple[PlantedFailure, ...]:
    found = []
    for kind, table, placed, name_column in (
        ("applicant", schema.applicants.name, _APPLICANT_SHOWCASE, "first_name"),
        ("student", schema.students.name, _STUDENT_SHOWCASE, "fname"),
    ):
        for index, entry in sorted(placed.items()):
            if "failure" not in entry:
                continue
            column, reason = entry["failure"]
            if column in ("first_name", "fname"):
                value: str | None = entry["name"][0]
                column = name_column
            else:
                value = entry[column][0]
            found.append(PlantedFailure(kind, table, index + 1, column, value, reason))
    return tuple(found)


# Records a registrar must fix in the MIS before they can be synced, at fixed rows of the
# showcase (present whenever the table has at least ``row_id`` rows, so at the default sizes).
# With history they stay untouched (status 0, no Id).
PLANTED_FAILURES: tuple[PlantedFailure, ...] = _planted_failures()


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
    reg_no_tag: str | None
    cohort: int
    splz: tuple


class _Generator:
    """Builds the rows chunk by chunk and counts the anomalies it puts in them."""

    def __init__(
        self,
        seed: int,
        n_applicants: int,
        n_students: int,
        sqlite: bool,
        history: EarlierSystem | None = None,
    ) -> None:
        master = _Random(seed)
        self.applicant_seed = master.getrandbits(64)
        self.student_seed = master.getrandbits(64)
        self.n_applicants = n_applicants
        self.n_students = n_students
        self.sqlite = sqlite
        self.history = history
        self.counts = dict.fromkeys(ANOMALY_CATEGORIES, 0)
        self.registrations = 0
        self.twins = min(round(TWIN_SHARE * n_students), n_applicants)
        app, stu = schema.applicants, schema.students
        self.limits = {
            "first_name": schema.length(app, "first_name"),
            "middlename": schema.length(app, "middlename"),
            "family_name": schema.length(app, "family_name"),
            "fname": schema.length(stu, "fname"),
            "s_middlename": schema.length(stu, "middlename"),
            "lname": schema.length(stu, "lname"),
            "app_email": schema.length(app, "email1"),
            "stu_email": schema.length(stu, "email1"),
        }
        self.hostile = {
            # VARCHAR(155) on applicants
            "camp_id": _hostile_string(_VALID_CAMPUS, ("4", "KGL")),
            "opt_1": _hostile_string(_VALID_SPLZ),
            # INT on applicants and students
            "intake_id": _hostile_int(_VALID_INTAKE, (42, 99), nullable=True),
            "level_id": _hostile_int(_VALID_LEVEL, (9, 99), nullable=True),
            "prg_mode_id": _hostile_int(_VALID_MODE, (9,), nullable=True),
            "cntr_id": _hostile_int(_VALID_COUNTRY, (999, 250), nullable=True),
            # INT NOT NULL on registrations; their prg_type is a VARCHAR(20)
            "reg_camp_id": _hostile_int(_VALID_CAMPUS, (99, 4), nullable=False),
            "reg_intake_id": _hostile_int(_VALID_INTAKE, (99,), nullable=False),
            "reg_splz_id": _hostile_int(_VALID_SPLZ, (99,), nullable=False),
            "reg_level_id": _hostile_int(_VALID_LEVEL, (9,), nullable=False),
            "reg_prg_mode_id": _hostile_int(_VALID_MODE, (9,), nullable=False),
            "reg_prg_type": _hostile(("", "0", " 2", "2 ", "9", "Day"), _VALID_PROGRAM_TYPE),
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
        if (
            ("name_with_colon" in seen or "name_with_tab_or_newline" in seen)
            and not (first or "").translate(_REFUSED_AND_SPACE)
            and not (family or "").translate(_REFUSED_AND_SPACE)
        ):
            seen.add("name_only_refused_characters")
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
        if born not in (None, "", str(RWANDA)) and rng.random() < 0.6:
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
        self, rng: random.Random, key: str, clean: str | int, rate: float = FIELD_ANOMALY_RATE
    ) -> tuple[Any, str | None]:
        if rng.random() < rate:
            return rng.choice(self.hostile[key])
        return clean, None

    @staticmethod
    def _parent_name(rng: random.Random, pool: tuple[str, ...]) -> str | None:
        if rng.random() < 0.25:
            return None
        return f"{rng.choice(pool)} {rng.choice(RW_FAMILY)}"

    # ---- students ---------------------------------------------------------------------------

    def _cohort(self, k: int) -> tuple[int, int]:
        """Cohort year and sequence within it: students are numbered cohort by cohort."""
        offset = (5 * k) // self.n_students
        start = -(-(offset * self.n_students) // 5)
        return LAST_YEAR - 4 + offset, k - start + 1

    def student_identity(self, k: int) -> tuple[_Identity, random.Random]:
        rng = _Random(self.student_seed + k)
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
        reg_no, reg_no_tag = showcase.get("reg_no") or (f"{year}/{splz[2]}/{seq:04d}", None)
        identity = _Identity(first, middle, family, sex, dob, reg_no, reg_no_tag, year, splz)
        return identity, rng

    def student_chunks(self) -> Iterator[tuple[list[dict], list[dict]]]:
        students: list[dict] = []
        registrations: list[dict] = []
        history = self.history
        for k in range(self.n_students):
            identity, rng = self.student_identity(k)
            row, program_type, campus = self._student_row(k, identity, rng)
            students.append(row)
            pattern = _STUDENT_SHOWCASE.get(k, _EMPTY).get("regs")
            regs = self._registrations(rng, identity, program_type, campus, pattern)
            registrations.extend(regs)
            if history is not None and k >= SHOWCASE_ROWS and identity.reg_no.strip():
                history.student(row, regs)
            if len(students) >= CHUNK_ROWS:
                yield students, registrations
                students, registrations = [], []
        if students:
            yield students, registrations

    def _student_row(self, k: int, ident: _Identity, rng: random.Random) -> tuple[dict, int, int]:
        showcase = _STUDENT_SHOWCASE.get(k, _EMPTY)
        limits = (self.limits["fname"], self.limits["s_middlename"], self.limits["lname"])
        self._classify_names(ident.first, ident.middle, ident.family, limits)
        program_type = rng.choice(_PROGRAM_TYPE_PICK)
        campus = rng.choice(_CAMPUS_PICK)
        r = rng.random()
        prg_type: int | None = program_type
        prg_tag: str | None = None
        if "prg_type" in showcase:
            prg_type, prg_tag = showcase["prg_type"]
        elif r < 0.004:
            prg_type, prg_tag = (None if r < 0.002 else 0), "program_type_missing"
        elif r < 0.006:
            prg_type, prg_tag = 9, "program_type_dangling"
        born = rng.choice(_COUNTRY_PICK)
        cntr_id, cntr_tag = showcase.get("cntr_id") or self._lookup(rng, "cntr_id", born)
        sex, sex_tag = ident.sex
        dob, dob_tag = ident.dob
        if "national_id" in showcase:
            nid, nid_tag = showcase["national_id"]
            if nid == "spaced":
                nid = self._spaced_nid(self._rw_national_id(rng, dob, sex), narrow=True)
        else:
            nid, nid_tag = self._national_id(rng, str(born), dob, sex, narrow=True)
        phone1, phone_tag = showcase.get("phone1") or self._phone(rng)
        if "email1" in showcase:
            email1, email_tag = showcase["email1"]
            email1 = self._email_override(email1, "stu_email")
        else:
            email1, email_tag = self._email(rng, ident.first, ident.family, "stu_email", "student")
        for tag in (
            prg_tag,
            cntr_tag,
            sex_tag,
            dob_tag,
            nid_tag,
            phone_tag,
            email_tag,
            ident.reg_no_tag,
        ):
            if tag:
                self.counts[tag] += 1
        country = _COUNTRY_BY_ID[born]
        nationality = country[2] if rng.random() < 0.7 else str(born)
        rwandan = born == RWANDA
        row = {
            "per_id_ug": k + 1,
            "reg_no": ident.reg_no,
            "prg_type": prg_type,
            "sex": sex,
            "fname": ident.first,
            "middlename": ident.middle,
            "lname": ident.family,
            "dob": dob,
            "marital_status": rng.choice(MARITAL_STATUSES),
            "national_id": nid,
            "cntr_id": cntr_id,
            "province": rng.randint(1, 5) if rwandan and rng.random() < 0.9 else None,
            "district": rng.randint(1, 30) if rwandan and rng.random() < 0.85 else None,
            "nationality": nationality,
            "phone1": phone1,
            "phone2": self._rw_mobile(rng) if rng.random() < 0.2 else None,
            "email1": email1,
            "email2": None,
            "reg_date": datetime(ident.cohort, 9, 1, 9) + timedelta(minutes=rng.randrange(40_000)),
            "qk_id": None,
            "pushed_by": schema.DEFAULT_PUSHED_BY,
            "pushed_date": None,
            "sync_token": None,
            "QuickBk_status": 0,
        }
        return row, program_type, campus

    def _registrations(
        self,
        rng: random.Random,
        ident: _Identity,
        program_type: int,
        campus: int,
        pattern: str | None,
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
        mode = MODE_OF_TYPE[program_type]
        sponsor = rng.choice((1, 1, 1, 2, 3, None))
        rows: list[dict] = []
        for i in range(n):
            # a recent cohort cannot have a row per year: extra rows fall a month apart
            year = min(ident.cohort + i, LAST_YEAR)
            later = timedelta(days=30 * (ident.cohort + i - year))
            rows.append(
                {
                    "reg_prg_id": 0,
                    "reg_no": ident.reg_no,
                    "intake_id": intake,
                    "prg_id": prg_id,
                    "splz_id": splz_id,
                    "level_id": min(year - ident.cohort + 1, 4),
                    "prg_mode_id": mode,
                    "prg_type": str(program_type),
                    "year_id": i + 1,
                    "camp_id": campus,
                    "reg_date": datetime(year, 9, 2, 8)
                    + later
                    + timedelta(minutes=rng.randrange(40_000)),
                    "spon_id": sponsor,
                    "reg_active": 0,
                    "status_comment": rng.choice(STATUS_COMMENTS_ACTIVE) if i else "Registered",
                    "Availability": rng.choice(AVAILABILITY),
                    "qk_id": None,
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
            twin["camp_id"] = 2 if latest["camp_id"] != 2 else 3
            twin["status_comment"] = "Corrected campus"
            rows.append(twin)
            counts["registration_same_date_tie"] += 1
        elif pattern == "all_inactive":
            latest["reg_active"] = 0
            latest["status_comment"] = "Withdrawn"
            counts["student_only_inactive_registrations"] += 1
        elif pattern == "dangling_ids":
            latest["camp_id"] = 4  # a campus deleted long ago
            latest["splz_id"] = 99
            counts["lookup_id_dangling"] += 2
        elif pattern == "spaced_ids":
            latest["prg_type"] = f" {program_type}"
            latest["level_id"] = 0
            counts["lookup_id_spaced"] += 1
            counts["lookup_id_zero"] += 1
        elif pattern == "odd_ids":
            column = rng.choice(
                ("camp_id", "intake_id", "splz_id", "level_id", "prg_mode_id", "prg_type")
            )
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
        rng = _Random(self.applicant_seed)
        chunk: list[dict] = []
        span = (LAST_APPLICATION - FIRST_APPLICATION).total_seconds()
        history = self.history
        last = self.n_applicants - 1
        for j in range(self.n_applicants):
            row = self._applicant_row(rng, j, span)
            chunk.append(row)
            if (
                history is not None
                and SHOWCASE_ROWS <= j < last
                and row["appl_date"] >= EARLIER_SYSTEM_SINCE
            ):
                history.applicant(row)
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _applicant_row(self, rng: random.Random, j: int, span: float) -> dict:
        counts = self.counts
        showcase = _APPLICANT_SHOWCASE.get(j, _EMPTY)
        if j == self.n_applicants - 1 and j >= SHOWCASE_ROWS:
            showcase = {**showcase, "name": LAST_APPLICANT_NAME}
        twin = None if "name" in showcase else self._twin_student(j)
        jitter = rng.uniform(-10, 10) * 86_400
        position = span * ((j + 0.5) / max(self.n_applicants, 1)) ** _APPLICATION_CURVE
        ident = None
        if twin is not None:
            ident, _ = self.student_identity(twin)
            if not ident.reg_no.strip():
                ident = None  # a student without a RegNo cannot be anyone's enrolment
        if ident is not None:
            first, middle, family = ident.first, ident.middle, ident.family
            if not self.sqlite:  # a student's fname may be longer than first_name allows
                first = first[: self.limits["first_name"]] if first else first
            sex, sex_tag = ident.sex
            dob, dob_tag = ident.dob
            reg_no: str | None = ident.reg_no
            appl_date = datetime(ident.cohort, 9, 1) - timedelta(days=rng.uniform(20, 160))
            intake = SEPTEMBER_INTAKE[ident.cohort]
            opt_1 = str(ident.splz[0])
            status = 2
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
            appl_date = FIRST_APPLICATION + timedelta(seconds=max(0.0, position + jitter))
            appl_date = min(appl_date, LAST_APPLICATION)
            at = bisect.bisect_left(_INTAKE_STARTS, appl_date + timedelta(days=21))
            intake = INTAKES[min(at, len(INTAKES) - 1)][0]
            dob, dob_tag = showcase.get("dob") or self._dob(rng, appl_date.year)
            reg_no = "" if rng.random() < 0.02 else None
            opt_1 = str(rng.choice(_SPLZ_PICK)[0])
            if appl_date >= datetime(LAST_YEAR, 6, 1):
                status = rng.choice((0, 0, 1, 1, 1, 2))
            else:
                status = rng.choice((0, 1, 1, 2, 2, 2, 3, 3))
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
        camp = str(rng.choice(_CAMPUS_PICK))
        camp_id, t1 = get("camp_id") or self._lookup(rng, "camp_id", camp)
        opt_1, t2 = get("opt_1") or self._lookup(rng, "opt_1", opt_1)
        intake_id, t3 = get("intake_id") or self._lookup(rng, "intake_id", intake)
        level = 1 if rng.random() < 0.93 else rng.randint(2, 4)
        level_id, t4 = get("level_id") or self._lookup(rng, "level_id", level)
        mode = MODE_OF_TYPE[rng.choice(_PROGRAM_TYPE_PICK)]
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
        father = self._parent_name(rng, GIVEN_MALE[0])
        mother = self._parent_name(rng, GIVEN_FEMALE[0])
        balance = rng.choice((25_000.0, 50_000.0, 150_000.0)) if rng.random() < 0.03 else 0.0
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
            "present_nationality": born if born and born.isdigit() else str(RWANDA),
            "father_name": father,
            "mother_name": mother,
            "QuickBk_status": 0,
            "pushed_by": schema.DEFAULT_PUSHED_BY,
            "pushed_date": None,
            "camp_id": camp_id,
            "opt_1": opt_1,
            "opt_2": opt_2,
            "opt_3": opt_3,
            "intake_id": intake_id,
            "level_id": level_id,
            "prg_mode_id": mode_id,
            "spon_id": rng.choice((1, 1, 1, 2, 3, None)),
            "appl_date": appl_date.replace(microsecond=0),
            "status": status,
            "quickbooks_id": None,
            "sync_token": None,
            "opening_balance": balance,
            "opening_balance_synced": 0,
            "opening_balance_id": None,
        }

    @staticmethod
    def _birth_country(rng: random.Random) -> tuple[str | None, str | None]:
        r = rng.random()
        if r < 0.97:
            return str(rng.choice(_COUNTRY_PICK)), None
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
        schema.program_types.name: [
            {"prg_type_id": tid, "prg_type_full_name": full, "prg_type_short_name": short}
            for tid, full, short, _w in PROGRAM_TYPES
        ],
        schema.countries.name: [
            {
                "cntr_id": cid,
                "cntr_code": code,
                "cntr_name": name,
                "cntr_nationality": nat,
                "com_cntr_code": phone,
            }
            for cid, name, nat, code, phone, _w in COUNTRIES
        ],
        schema.campuses.name: [
            {
                "camp_id": cid,
                "camp_full_name": full,
                "camp_short_name": short,
                "camp_city": city,
                "camp_yor": datetime(year, 1, 1),
                "camp_active": active,
                "camp_comments": "" if active else "Closed; old registrations only",
                "quickbooks_id": None,
                "quickbooks_status": None,
            }
            for cid, full, short, city, year, active in CAMPUSES
        ],
        schema.intakes.name: [
            {
                "intake_id": iid,
                "prg_type": "1",
                "acad_cycle_id": cycle,
                "intake_no": no,
                "intake_month": month,
                "intake_start": start,
                "intake_end": start + timedelta(days=290),
                "status": status,
            }
            for iid, month, no, start, cycle, status in INTAKES
        ],
        schema.specializations.name: [
            {
                "splz_id": sid,
                "prg_id": prg,
                "prg_type": "1",
                "splz_full_name": full,
                "splz_short_name": short,
                "degree_name": degree,
                "status": 1,
            }
            for sid, full, short, prg, degree, _w in SPECIALIZATIONS
        ],
        schema.levels.name: [
            {
                "level_id": lid,
                "level_no": no,
                "level_full_name": full,
                "level_short_name": short,
                "amount": amount,
                "status": 1,
            }
            for lid, full, short, no, amount in LEVELS
        ],
        schema.program_modes.name: [
            {"prg_mode_id": mid, "prg_mode_full_name": full, "prg_mode_short_name": short}
            for mid, full, short in PROGRAM_MODES
        ],
    }


# --------------------------------------------------------------------------------------------
# The database: schema, marker, writing
# --------------------------------------------------------------------------------------------

_MARKER_NOTE = (
    "Created by the demo MIS generator (sync_core.demo.data): demo-db --replace may drop and "
    "recreate this database's MIS tables"
)
_STATEMENT_CHARS = 1_000_000  # one multi-row INSERT stays far below max_allowed_packet (4 MiB+)
_BACKSLASH_ESCAPES = str.maketrans(
    {"\\": "\\\\", "'": "\\'", '"': '\\"', "\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z"}
)
_NO_BACKSLASH_ESCAPES = str.maketrans({"'": "''"})
_ESCAPED_CHARACTERS = re.compile("[\\\\'\"\x00\n\r\x1a]")


def demo_tables() -> dict[str, sa.Table]:
    """The demo's MIS tables (its own declarations, :mod:`sync_core.demo.schema`) by name, in
    the order they are filled; the marker table is not among them."""
    return {t.name: t for t in schema.MIS_TABLES}


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _table_names(engine: Engine) -> dict[str, str]:
    """Tables in the database, by case-folded name (MySQL on Windows folds names)."""
    return {name.casefold(): name for name in sa.inspect(engine).get_table_names()}


def read_demo_marker(engine: Engine) -> DemoMarker | None:
    """What the demo marker in this database says, or None when the demo did not create it."""
    if schema.MARKER_TABLE.casefold() not in _table_names(engine):
        return None
    marker = schema.marker
    with engine.connect() as conn:
        row = conn.execute(sa.select(marker).order_by(marker.c.id).limit(1)).first()
    if row is None:
        return None
    return DemoMarker(
        created_at=row.created_at,
        generator_version=row.generator_version,
        seed=row.seed,
        applicants=row.applicants,
        students=row.students,
        with_history=bool(row.with_history),
    )


def _drop_tables(engine: Engine, names: list[str]) -> None:
    # On MySQL switch foreign key checks off for this connection, in case someone made a table
    # of theirs reference one of ours.
    with engine.begin() as conn:
        mysql = is_mysql(engine)
        if mysql:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        try:
            for name in names:
                conn.execute(sa.schema.DropTable(sa.Table(name, sa.MetaData()), if_exists=True))
        finally:
            if mysql:
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


def _tables_with_rows(conn: Connection, names: list[str]) -> list[str]:
    return [
        name
        for name in names
        if conn.execute(sa.select(sa.literal(1)).select_from(sa.table(name)).limit(1)).first()
        is not None
    ]


def _prepare_schema(engine: Engine, replace: bool) -> None:
    """Refuse a database holding MIS tables the demo did not create; drop the demo's own tables
    (and marker) when replacing; create the tables and the marker table."""
    existing = _table_names(engine)
    present = [
        existing[t.name.casefold()] for t in schema.MIS_TABLES if t.name.casefold() in existing
    ]
    marker = existing.get(schema.MARKER_TABLE.casefold())
    if present and marker is None:
        action = "drop and recreate" if replace else "fill"
        raise DemoDatabaseRefused(
            f"{_where(engine)} holds MIS tables the demo did not create ({', '.join(present)}): "
            f"the demo generator will not {action} them. It only replaces a database it created "
            f"itself (one with its {schema.MARKER_TABLE} table); use an empty database for a demo."
        )
    if present and not replace:
        with engine.connect() as conn:
            filled = _tables_with_rows(conn, present)
        if filled:
            raise DemoDatabaseRefused(
                f"{', '.join(filled)} already hold rows; the demo data is only written into "
                "empty tables (pass replace=True to drop and recreate the demo's tables)"
            )
    doomed = present + ([marker] if marker else [])
    if doomed:  # only the demo's MIS tables and its marker: never the product's qbsync_ tables
        _drop_tables(engine, doomed)
    schema.metadata.create_all(engine, tables=list(schema.MIS_TABLES))
    schema.marker_metadata.create_all(engine)


def _write_marker(
    engine: Engine, seed: int, applicants: int, students: int, with_history: bool
) -> None:
    with engine.begin() as conn:
        conn.execute(
            schema.marker.insert(),
            {
                "id": 1,
                "created_at": datetime.now().replace(microsecond=0),
                "generator_version": GENERATOR_VERSION,
                "seed": seed,
                "applicants": applicants,
                "students": students,
                "with_history": int(with_history),
                "note": _MARKER_NOTE,
            },
        )


class _SQLiteWriter:
    """Inserts generated rows with SQLAlchemy's executemany, one transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()

    def write(self, batches: list[tuple[sa.Table, list[dict]]]) -> None:
        with self.conn.begin():
            for table, rows in batches:
                if rows:
                    self.conn.execute(table.insert(), rows)

    def close(self, failed: bool = False) -> None:
        self.conn.close()


class _MySQLWriter:
    """Inserts generated rows into MySQL/MariaDB, one transaction per call.

    The multi-row INSERT statements are built here (PyMySQL's per-value escaping and
    SQLAlchemy's per-row parameter handling would otherwise take most of the time), with values
    escaped as the session's sql_mode requires. A thread of its own sends them on a DBAPI
    connection of its own while the next rows are generated, so the server's time overlaps
    Python's; at most a few transactions wait in between.
    """

    def __init__(self, engine: Engine) -> None:
        self.raw = engine.raw_connection()
        self.quote = engine.dialect.identifier_preparer.quote
        cursor = self.raw.cursor()
        try:
            cursor.execute("SELECT @@SESSION.sql_mode")
            mode = str((cursor.fetchone() or ("",))[0] or "")
        finally:
            cursor.close()
        self.raw.commit()
        no_backslash = "NO_BACKSLASH_ESCAPES" in mode.upper()
        escapes = _NO_BACKSLASH_ESCAPES if no_backslash else _BACKSLASH_ESCAPES
        special = _ESCAPED_CHARACTERS.search

        def text(value: str) -> str:
            return "'" + (value.translate(escapes) if special(value) else value) + "'"

        self.literal: dict[type, Any] = {
            str: text,
            int: int.__repr__,
            float: float.__repr__,
            bool: lambda value: "1" if value else "0",
            type(None): lambda _value: "NULL",
            datetime: lambda value: "'" + value.isoformat(" ") + "'",
        }
        self.queue: queue.Queue[list[str] | None] = queue.Queue(maxsize=3)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._send, name="demo-mis-writer", daemon=True)
        self.thread.start()

    def _send(self) -> None:
        while True:
            statements = self.queue.get()
            if statements is None:
                return
            try:
                cursor = self.raw.cursor()
                try:
                    for statement in statements:
                        cursor.execute(statement)
                finally:
                    cursor.close()
                self.raw.commit()
            except BaseException as exc:  # handed to the generating thread
                self.error = exc
                with suppress(Exception):
                    self.raw.rollback()
                return

    def _put(self, item: list[str] | None) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if self.error is not None:
                    raise self.error from None
                if not self.thread.is_alive():
                    raise RuntimeError("the demo database writer stopped") from None

    def write(self, batches: list[tuple[sa.Table, list[dict]]]) -> None:
        statements: list[str] = []
        for table, rows in batches:
            if rows:
                statements += self._statements(table, rows)
        self._put(statements)

    def _statements(self, table: sa.Table, rows: list[dict]) -> list[str]:
        columns = list(rows[0])
        quote = self.quote
        head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES "
        values = operator.itemgetter(*columns)
        literal = self.literal
        statements: list[str] = []
        parts: list[str] = []
        size = 0
        for row in rows:
            part = "(" + ",".join([literal[type(v)](v) for v in values(row)]) + ")"
            parts.append(part)
            size += len(part)
            if size > _STATEMENT_CHARS:
                statements.append(head + ",".join(parts))
                parts, size = [], 0
        if parts:
            statements.append(head + ",".join(parts))
        return statements

    def close(self, failed: bool = False) -> None:
        """Wait for what is queued (unless ``failed``: then stop after the current one)."""
        try:
            if failed:
                while True:  # drop what was not sent yet
                    try:
                        self.queue.get_nowait()
                    except queue.Empty:
                        break
            if self.thread.is_alive():
                self._put(None)
                self.thread.join()
            if self.error is not None and not failed:
                raise self.error
        finally:
            self.raw.close()


@contextmanager
def _writer(engine: Engine) -> Iterator[_SQLiteWriter | _MySQLWriter]:
    writer = _MySQLWriter(engine) if is_mysql(engine) else _SQLiteWriter(engine)
    try:
        yield writer
    except BaseException:
        writer.close(failed=True)
        raise
    writer.close()


# --------------------------------------------------------------------------------------------
# The public entry points
# --------------------------------------------------------------------------------------------


def _check_arguments(applicants: Any, students: Any, seed: Any) -> None:
    for name, value in (("applicants", applicants), ("students", students)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidRequest(f"{name} must be a non-negative integer, not {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**63:
        raise InvalidRequest(f"seed must be an integer that fits 64 bits, not {seed!r}")


def _generator(
    sqlite: bool, seed: int, applicants: int, students: int, with_history: bool
) -> _Generator:
    history = EarlierSystem(seed, _LEGACY_NAMES) if with_history else None
    return _Generator(seed, applicants, students, sqlite=sqlite, history=history)


def _customers(generator: _Generator) -> list[dict[str, Any]]:
    if generator.history is None:
        return []
    return generator.history.customers + copy.deepcopy(list(HAND_TYPED_CUSTOMERS))


def create_demo_database(
    engine: Engine,
    applicants: int = 850,
    students: int = 1200,
    seed: int = 2025,
    replace: bool = False,
    with_history: bool = False,
) -> DemoSummary:
    """Create the MIS tables as universities have them and fill them with reproducible demo
    data; mark the database as a demo (the ``qbsync_demo_marker`` table).

    ``with_history``: part of the rows were synced by an earlier integration (see
    :mod:`sync_core.demo.history`); the summary then lists the QuickBooks customers already in
    the company (``summary.customers``) for preloading into the simulator. Without it every row is
    at status 0 with no QuickBooks Id.

    Raises :class:`DemoDatabaseRefused` when the database holds MIS tables the demo did not
    create (with or without ``replace``), and ValueError when the demo's tables already hold rows
    and ``replace`` is False. ``replace=True`` drops the demo's MIS tables and marker and nothing
    else: the product's ``qbsync_`` tables stay, and whatever sync state they hold now refers
    to rows that were replaced. Rows are generated and inserted in chunks, each committed on its
    own, so memory stays flat at any size (but for the customers list with history).
    """
    _check_arguments(applicants, students, seed)
    _prepare_schema(engine, replace)
    _write_marker(engine, seed, applicants, students, with_history)
    generator = _generator(
        engine.dialect.name == "sqlite", seed, applicants, students, with_history
    )
    tables = demo_tables()
    counts: dict[str, int] = {}
    with _writer(engine) as writer:
        lookups = _lookup_rows()
        writer.write([(tables[name], rows) for name, rows in lookups.items()])
        counts.update((name, len(rows)) for name, rows in lookups.items())
        for student_rows, registration_rows in generator.student_chunks():
            writer.write(
                [(schema.students, student_rows), (schema.registrations, registration_rows)]
            )
        for applicant_rows in generator.applicant_chunks():
            writer.write([(schema.applicants, applicant_rows)])
    counts[schema.applicants.name] = applicants
    counts[schema.students.name] = students
    counts[schema.registrations.name] = generator.registrations
    history = generator.history
    return DemoSummary(
        seed=seed,
        backend=engine.dialect.name,
        tables={name: counts[name] for name in tables},
        anomalies=generator.counts,
        with_history=with_history,
        history=history.counts if history is not None else {},
        customers=_customers(generator),
    )


def _require_marker(engine: Engine, purpose: str) -> DemoMarker:
    marker = read_demo_marker(engine)
    if marker is None:
        raise DemoDatabaseRefused(
            f"{_where(engine)} has no {schema.MARKER_TABLE} table: the demo generator did not "
            f"create it, so it will not {purpose}"
        )
    return marker


def reset_demo_database(engine: Engine) -> DemoSummary:
    """Put a demo database back to its initial state: the same seed, sizes and history as its
    marker records, regenerated from scratch (``replace=True``: the product's ``qbsync_``
    tables are left alone, and customers in a simulator are not touched; preload
    ``summary.customers`` again if it was reset too). Refuses a database without the marker."""
    marker = _require_marker(engine, "reset it")
    return create_demo_database(
        engine,
        applicants=marker.applicants,
        students=marker.students,
        seed=marker.seed,
        replace=True,
        with_history=marker.with_history,
    )


def legacy_customers(engine: Engine) -> list[dict[str, Any]]:
    """The QuickBooks customers already in the company for the demo in this database, as
    :func:`create_demo_database` listed them (``summary.customers``): regenerated from the seed
    and sizes in its marker, without reading or writing the MIS tables. Empty for a demo made
    without history."""
    marker = _require_marker(engine, "list its QuickBooks customers")
    if marker.generator_version != GENERATOR_VERSION:
        raise DemoDatabaseRefused(
            f"the demo in {_where(engine)} was made by generator version "
            f"{marker.generator_version}, this is version {GENERATOR_VERSION}: reset it first"
        )
    if not marker.with_history:
        return []
    generator = _generator(
        engine.dialect.name == "sqlite", marker.seed, marker.applicants, marker.students, True
    )
    for _students in generator.student_chunks():
        pass
    for _applicants in generator.applicant_chunks():
        pass
    return _customers(generator)
