"""What the earlier QuickBooks integration left behind, replayed over the demo rows.

Universities that adopt the product are rarely starting from nothing: an earlier integration
already pushed part of the MIS into QuickBooks, wrote its answers (or failed to) into the MIS's own
columns, and left customers in the company that the product must recognise and never duplicate.
With ``with_history=True`` the demo generator reproduces that state, row by row as it generates:

* which rows the earlier system touched and how it left them (:data:`HISTORY_OUTCOMES`): synced
  with ``QuickBk_status`` 1 and the Id written back; left at 3 (in progress) or reset to 0 after a
  lost answer although the customer exists; at 1 with an empty Id column, with or without a
  customer; failed (2);
* the QuickBooks Customers it created (QBO JSON, the shapes of ``shared/spec/legacy/
  customers.json``), for the product to preload into the simulator;
* a few customers finance staff typed by hand that merely share a real person's name
  (:data:`HAND_TYPED_CUSTOMERS`): the product must not adopt them.

The earlier system synced applicants only from ``appl_date`` >= :data:`EARLIER_SYSTEM_SINCE` and
students of every cohort. It sent the MIS values raw (no cleaning): a row QuickBooks would have
refused as it stood (a colon in a name, an e-mail that is not one, no name or no DisplayName)
could only fail. It wrote ``pushed_date`` in the MIS server's local time (:data:`MIS_TIMEZONE`).

Everything here draws from its own random streams, so the generated people are the same with
and without history; only the tracking columns differ.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sync_core.demo.schema import DEFAULT_PUSHED_BY

EARLIER_SYSTEM_SINCE = datetime(2024, 9, 1)  # applicants with appl_date from here on were synced
DEMO_NOW = datetime(2025, 12, 1, 9, 0)  # the demo's "now", in MIS local time
MIS_TIMEZONE = "Africa/Kigali"
MIS_UTC_OFFSET = "+02:00"  # Africa/Kigali has no daylight saving time
FIRST_CUSTOMER_ID = 1000

# The custom fields the earlier system wrote on student customers: DefinitionId -> Name.
CUSTOM_FIELDS: dict[str, str] = {
    "1000000001": "CustomerType",
    "1000000002": "RegNo",
    "1000000003": "Gender",
    "1000000004": "Level",
    "1000000005": "Campus",
    "1000000006": "Intake",
    "1000000007": "Program",
    "1000000008": "NationalID",
    "1000000009": "ProgramType",
}

SYNCED = "synced"
STUCK = "stuck_in_progress"
LOST = "answer_lost"
SYNCED_NO_ID = "synced_without_id"
SYNCED_NO_CUSTOMER = "synced_customer_missing"
FAILED = "failed"

HISTORY_OUTCOMES: dict[str, str] = {
    SYNCED: "QuickBk_status 1, Id and sync_token written back, pushed_date set; customer exists",
    STUCK: "QuickBk_status 3 (in progress), no Id; the customer exists (answer never written)",
    LOST: "QuickBk_status 0, no Id; the customer exists (status reset after a lost answer)",
    SYNCED_NO_ID: "QuickBk_status 1 with an empty Id column ('' or NULL); the customer exists",
    SYNCED_NO_CUSTOMER: "QuickBk_status 1 with an empty Id column; no such customer exists",
    FAILED: "QuickBk_status 2, no Id, no customer (QuickBooks refused the raw values, or an error)",
}
# Share of the eligible rows left in each state (the rest were never touched).
HISTORY_RATES: dict[str, float] = {
    SYNCED: 0.15,
    STUCK: 0.012,
    LOST: 0.012,
    SYNCED_NO_ID: 0.01,
    SYNCED_NO_CUSTOMER: 0.004,
    FAILED: 0.012,
}
CUSTOMER_EXISTS = frozenset({SYNCED, STUCK, LOST, SYNCED_NO_ID})
STATUS_OF = {SYNCED: 1, STUCK: 3, LOST: 0, SYNCED_NO_ID: 1, SYNCED_NO_CUSTOMER: 1, FAILED: 2}
# The first eligible rows of each table show every outcome once (in this order), so even a
# small demo has each; past them outcomes are drawn at HISTORY_RATES.
_FORCED_ORDER = (SYNCED, STUCK, LOST, SYNCED_NO_ID, SYNCED_NO_CUSTOMER, FAILED, SYNCED, SYNCED)

# Customers finance staff typed by hand before any integration: each merely shares the name of
# a person in the demo MIS (the last applicant is "Alice Uwase"; "John Doe" is a planted
# namesake in both tables; a student of the showcase is "Peace O'Brien"). They are no MIS record's
# customer and must never be adopted; they are part of the customers list with history only.
HAND_TYPED_NOTE = "Walk-in customer entered by hand in QuickBooks"
HAND_TYPED_CUSTOMERS: tuple[dict[str, Any], ...] = (
    {
        "Id": "304",
        "DisplayName": "Alice Uwase",
        "GivenName": "Alice",
        "FamilyName": "Uwase",
        "Notes": HAND_TYPED_NOTE,
        "SyncToken": "0",
    },
    {
        "Id": "305",
        "DisplayName": "John Doe",
        "GivenName": "John",
        "FamilyName": "Doe",
        "PrimaryPhone": {"FreeFormNumber": "0788 000 305"},
        "Notes": HAND_TYPED_NOTE,
        "SyncToken": "1",
    },
    {
        "Id": "306",
        "DisplayName": "Peace O'Brien",
        "GivenName": "Peace",
        "FamilyName": "O'Brien",
        "CompanyName": "Peace O'Brien",
        "Notes": HAND_TYPED_NOTE,
        "SyncToken": "0",
    },
)

# Who pushed: the scheduled job nearly always, an operator now and then.
_PUSHED_BY = (DEFAULT_PUSHED_BY,) * 9 + ("Claudine Mukamana", "finance.kigali")

# What QuickBooks refuses in raw values (the earlier system did not clean them).
_REFUSED_IN_NAMES = re.compile(r"[:\t\r\n]")
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def quickbooks_accepts(
    display_name: str | None,
    first: str | None,
    family: str | None,
    phone: str | None,
    email: str | None,
) -> bool:
    """Would QuickBooks have created a customer from these raw MIS values, as the earlier
    system sent them (names required, no colon/tab/newline, lengths, an e-mail's shape)?"""
    if not display_name or not display_name.strip():
        return False
    for part in (first, family):
        if not part or not part.strip() or _REFUSED_IN_NAMES.search(part):
            return False
        if len(part.strip()) > 100:
            return False
    if email and (len(email) > 100 or not _EMAIL_SHAPE.match(email)):
        return False
    return not (phone and len(phone) > 30)


def _qbo_time(when: datetime) -> str:
    return when.isoformat() + MIS_UTC_OFFSET


def _contact(customer: dict[str, Any], phone: str | None, email: str | None) -> None:
    if phone:
        customer["PrimaryPhone"] = {"FreeFormNumber": phone}
    if email:
        customer["PrimaryEmailAddr"] = {"Address": email}


class EarlierSystem:
    """Decides, row by row, what the earlier system did with it; writes the tracking columns
    into the row and collects the customers it created.

    ``names`` maps lookup ids to what the earlier system wrote in student custom fields:
    ``campus``, ``level``, ``program``, ``intake`` (``"{intake_month} {intake_no}"``) and
    ``program_type``.
    """

    def __init__(self, seed: int, names: Mapping[str, Mapping[int, str]]) -> None:
        self._rng = {
            kind: random.Random(f"demo-history:{seed}:{kind}") for kind in ("applicant", "student")
        }
        self._forced = {"applicant": 0, "student": 0}
        self._ids = itertools.count(FIRST_CUSTOMER_ID)
        self._names = names
        self.customers: list[dict[str, Any]] = []
        self.counts: dict[str, dict[str, int]] = {
            "applicants": dict.fromkeys(HISTORY_OUTCOMES, 0),
            "students": dict.fromkeys(HISTORY_OUTCOMES, 0),
        }

    # ---- decisions --------------------------------------------------------------------------

    def _outcome(self, kind: str, acceptable: bool) -> str | None:
        forced = self._forced[kind]
        if forced < len(_FORCED_ORDER):
            outcome = _FORCED_ORDER[forced]
            if outcome in CUSTOMER_EXISTS and not acceptable:
                return None  # keep the forced outcome for a row QuickBooks would have taken
            self._forced[kind] = forced + 1
            return outcome
        r = self._rng[kind].random()
        for outcome, rate in HISTORY_RATES.items():
            if r < rate:
                if outcome in CUSTOMER_EXISTS and not acceptable:
                    return FAILED
                return outcome
            r -= rate
        return None

    def _pushed_date(self, rng: random.Random, since: datetime) -> datetime:
        base = max(since, EARLIER_SYSTEM_SINCE + timedelta(hours=8))
        room = (DEMO_NOW - base).total_seconds()
        delay = rng.uniform(600, 15 * 86_400)
        if delay >= room:
            delay = room * rng.uniform(0.1, 0.9)
        return (base + timedelta(seconds=delay)).replace(microsecond=0)

    def _apply(
        self,
        kind: str,
        row: dict[str, Any],
        outcome: str,
        id_column: str,
        since: datetime,
        customer: dict[str, Any] | None,
    ) -> None:
        """Write the tracking columns of ``row`` for ``outcome``; keep ``customer`` if the
        outcome means it exists in QuickBooks."""
        rng = self._rng[kind]
        self.counts[f"{kind}s"][outcome] += 1
        row["QuickBk_status"] = STATUS_OF[outcome]
        if outcome in (STUCK, LOST):
            pushed = None
        else:
            pushed = self._pushed_date(rng, since)
            row["pushed_date"] = pushed
            row["pushed_by"] = rng.choice(_PUSHED_BY)
        if outcome not in CUSTOMER_EXISTS or customer is None:
            if outcome == SYNCED_NO_CUSTOMER:
                row[id_column] = "" if rng.random() < 0.5 else None
            return
        customer_id = str(next(self._ids))
        written_token = rng.choice((0, 0, 0, 1, 2))
        # finance staff edited some customers since: their SyncToken moved on
        token = min(3, written_token + (rng.randint(1, 2) if rng.random() < 0.25 else 0))
        created = pushed or self._pushed_date(rng, since)
        updated = created
        if token != written_token:
            updated = min(DEMO_NOW, created + timedelta(days=rng.uniform(1, 60))).replace(
                microsecond=0
            )
        if outcome == SYNCED:
            row[id_column] = customer_id
            row["sync_token"] = str(written_token)
        elif outcome == SYNCED_NO_ID:
            row[id_column] = "" if rng.random() < 0.5 else None
        customer = {"Id": customer_id, **customer, "SyncToken": str(token)}
        customer["MetaData"] = {
            "CreateTime": _qbo_time(created),
            "LastUpdatedTime": _qbo_time(updated),
        }
        self.customers.append(customer)

    # ---- per table --------------------------------------------------------------------------

    def applicant(self, row: dict[str, Any]) -> None:
        """An applicant row (in the earlier system's scope: the caller checks appl_date)."""
        tracking = row["tracking_id"]
        first, family = row["first_name"], row["family_name"]
        phone, email = row["phone1"], row["email1"]
        acceptable = quickbooks_accepts(tracking, first, family, phone, email)
        outcome = self._outcome("applicant", acceptable)
        if outcome is None:
            return
        customer = None
        if outcome in CUSTOMER_EXISTS:
            first, family = first.strip(), family.strip()
            customer = {
                "DisplayName": tracking,
                "GivenName": first,
                "FamilyName": family,
                "CompanyName": f"{first} {family}",
            }
            _contact(customer, phone, email)
            customer["Notes"] = f"Applicant synchronized from MIS - Tracking ID: {tracking}"
        self._apply("applicant", row, outcome, "quickbooks_id", row["appl_date"], customer)

    def student(self, row: dict[str, Any], registrations: list[dict[str, Any]]) -> None:
        """A student row with its registration rows (every cohort is in scope)."""
        reg_no = row["reg_no"]
        first, family = row["fname"], row["lname"]
        phone, email = row["phone1"], row["email1"]
        acceptable = quickbooks_accepts(reg_no, first, family, phone, email)
        outcome = self._outcome("student", acceptable)
        if outcome is None:
            return
        customer = None
        if outcome in CUSTOMER_EXISTS:
            first, family = first.strip(), family.strip()
            customer = {
                "DisplayName": reg_no,
                "GivenName": first,
                "FamilyName": family,
                "CompanyName": f"{first} {family}",
            }
            _contact(customer, phone, email)
            customer["CustomField"] = self._student_fields(row, registrations)
        self._apply("student", row, outcome, "qk_id", row["reg_date"], customer)

    def _student_fields(
        self, row: dict[str, Any], registrations: list[dict[str, Any]]
    ) -> list[dict[str, str]]:
        names = self._names
        latest: dict[str, Any] = {}  # the registration the earlier system read
        if registrations:
            latest = max(
                registrations,
                key=lambda r: (r["reg_active"] == 1, r["reg_date"], r["reg_prg_id"]),
            )
        values = {
            "CustomerType": "Student",
            "RegNo": row["reg_no"],
            "Gender": row["sex"] or "",
            "Level": names["level"].get(latest.get("level_id", -1), ""),
            "Campus": names["campus"].get(latest.get("camp_id", -1), ""),
            "Intake": names["intake"].get(latest.get("intake_id", -1), ""),
            "Program": names["program"].get(latest.get("splz_id", -1), ""),
            "NationalID": row["national_id"] or "",
            "ProgramType": names["program_type"].get(row["prg_type"], ""),
        }
        return [
            {
                "DefinitionId": definition,
                "Name": name,
                "Type": "StringType",
                "StringValue": values[name],
            }
            for definition, name in CUSTOM_FIELDS.items()
            if values[name]
        ]
