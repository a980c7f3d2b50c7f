"""Is this QuickBooks customer the one that stands for this MIS record? Pure.

A customer can say whose it is in three ways:

- the product's own shape: ``CustomerType`` and ``ApplicationID`` / ``RegNo`` lines in Notes;
- the earlier integration's shapes (``shared/spec/mis-schema.md``): an applicant's Notes
  ``Applicant synchronized from MIS - Tracking ID: <tracking_id>``; a student's custom fields
  (``CustomerType``, ``RegNo``; DefinitionIds 1000000001..09); and a DisplayName equal to the
  applicant's tracking_id or the student's reg_no;
- nothing at all (a customer typed by hand): it is nobody's record as far as identity goes.

A customer is adopted only when it identifies this record. One that identifies another record is
never linked: linking a record to somebody else's customer would be worse than a readable
failure. A name alone ("John Doe", even "John Doe (APP 12)") identifies nobody.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sync_core.domain.kinds import APPLICANT, KINDS, STUDENT, RecordKind, kind_named
from sync_core.domain.mapping import SEED_FIELDS, MappedCustomer

# The earlier integration's custom field DefinitionIds (legacyIDV2), by field name.
LEGACY_CUSTOM_FIELDS = {
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
_LEGACY_APPLICANT_NOTES = re.compile(
    r"Applicant synchronized from MIS - Tracking ID:\s*(?P<tracking>\S+)", re.IGNORECASE
)


class Verdict(Enum):
    THIS = "this record"
    OTHER = "another record"
    UNKNOWN = "no identity"


@dataclass(frozen=True)
class Identification:
    verdict: Verdict
    how: str = ""  # "its Notes", "the earlier system's Notes", ...
    other: str = ""  # the other record it names ("applicant 12", "student 2021/BIT/001")


@dataclass(frozen=True)
class Marks:
    """What a customer says of its own identity, whichever system wrote it."""

    kind: RecordKind | None = None
    identity: str = ""  # ApplicationID / RegNo
    tracking_id: str = ""  # the earlier system's applicant mark
    source: str = ""
    # a student's customer that carries on an applicant's (SYNC_STUDENT_CUSTOMER=continue)
    # keeps the applicant's ApplicationID in its Notes
    application_id: str = ""


def parse_notes(notes: str | None) -> dict[str, str]:
    """The product's ``Key: value`` lines in Notes (the seed's fields only)."""
    result: dict[str, str] = {}
    for line in (notes or "").splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in SEED_FIELDS and key not in result:
            result[key] = value.strip()
    return result


def custom_fields(customer: Mapping[str, Any]) -> dict[str, str]:
    """A customer's custom field values by name (by the earlier system's DefinitionIds when a
    field carries no name)."""
    values: dict[str, str] = {}
    for entry in customer.get("CustomField") or []:
        if not isinstance(entry, Mapping):
            continue
        name = entry.get("Name") or LEGACY_CUSTOM_FIELDS.get(str(entry.get("DefinitionId")))
        value = entry.get("StringValue")
        if name and value is not None:
            values.setdefault(str(name), str(value).strip())
    return values


def _kind_of(customer_type: str | None) -> RecordKind | None:
    by_type = {k.customer_type.casefold(): k for k in KINDS.values()}
    return by_type.get((customer_type or "").strip().casefold())


def marks_of(customer: Mapping[str, Any]) -> Marks:
    notes = parse_notes(customer.get("Notes"))
    kind = _kind_of(notes.get("CustomerType"))
    if kind is not None and notes.get(kind.identity_field):
        also = notes.get(APPLICANT.identity_field, "") if kind is STUDENT else ""
        return Marks(kind, notes[kind.identity_field], source="its Notes", application_id=also)
    legacy = _LEGACY_APPLICANT_NOTES.search(str(customer.get("Notes") or ""))
    if legacy:
        return Marks(APPLICANT, tracking_id=legacy["tracking"], source="the earlier system's Notes")
    fields = custom_fields(customer)
    if fields.get("RegNo"):
        field_kind = _kind_of(fields.get("CustomerType")) or STUDENT
        if field_kind is STUDENT:
            return Marks(STUDENT, fields["RegNo"], source="its RegNo custom field")
    return Marks()


def _same(a: str, b: str) -> bool:
    return bool(a) and a.strip().casefold() == b.strip().casefold()


def identify(customer: Mapping[str, Any], record: MappedCustomer) -> Identification:
    """Whose customer this is, as far as ``record`` is concerned."""
    kind = kind_named(record.kind)
    tracking_id = record.fields.get("TrackingID", "") if kind is APPLICANT else ""
    marks = marks_of(customer)
    if marks.kind is not None:
        if marks.kind is not kind:
            continued = _continuation(marks, record)
            if continued is not None:
                return continued
            other = marks.identity or marks.tracking_id
            return Identification(Verdict.OTHER, marks.source, f"{marks.kind.name} {other}")
        if marks.identity:
            if _same(marks.identity, record.identity):
                return Identification(Verdict.THIS, marks.source)
            return Identification(Verdict.OTHER, marks.source, f"{kind.name} {marks.identity}")
        if _same(marks.tracking_id, tracking_id):
            return Identification(Verdict.THIS, marks.source)
        return Identification(
            Verdict.OTHER, marks.source, f"{kind.name} with tracking id {marks.tracking_id}"
        )
    name = str(customer.get("DisplayName") or "")
    own_mark = tracking_id if kind is APPLICANT else record.identity
    if _same(name, own_mark):
        return Identification(Verdict.THIS, "its name, the earlier system's shape")
    return Identification(Verdict.UNKNOWN)


def _continuation(marks: Marks, record: MappedCustomer) -> Identification | None:
    """One customer for the applicant and the student they became, when the MIS links them
    (the applicant's reg_no is the student's) and the customer says so itself:

    - a student's customer carrying this applicant's ApplicationID in its Notes, and the RegNo
      the MIS links this applicant to, is this applicant's (whatever the setting: the customer
      names both);
    - an applicant's customer is this student's only when the student carries it on
      (SYNC_STUDENT_CUSTOMER=continue) and the customer's ApplicationID is the applicant the
      MIS links the student to.

    Anything else stays another record's: the MIS link alone, or a name, identifies nobody."""
    if (
        marks.kind is STUDENT
        and record.kind == APPLICANT.name
        and _same(marks.application_id, record.identity)
        and _same(marks.identity, record.enrolled_as)
    ):
        return Identification(Verdict.THIS, "its Notes: the student this applicant became")
    if (
        marks.kind is APPLICANT
        and record.kind == STUDENT.name
        and record.continues
        and _same(marks.identity, record.enrolled_from)
    ):
        return Identification(Verdict.THIS, "its Notes: the applicant this student carries on")
    return None


def candidate_keys(customer: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The keys of the records this customer may identify, to look them up in an index of the
    MIS (a reconciliation of every customer): ``(kind, key, value)`` with key "identity"
    (ApplicationID / RegNo), "tracking" (an applicant's tracking_id) or "enrolled_from" (a
    student whose applicant is this ApplicationID); values casefolded. A candidate is this
    customer's record only when :func:`identify` says so."""
    marks = marks_of(customer)
    keys: list[tuple[str, str, str]] = []
    if marks.kind is not None:
        if marks.identity:
            keys.append((marks.kind.name, "identity", marks.identity.casefold()))
        if marks.tracking_id:
            keys.append((APPLICANT.name, "tracking", marks.tracking_id.casefold()))
        if marks.application_id:
            keys.append((APPLICANT.name, "identity", marks.application_id.casefold()))
        if marks.kind is APPLICANT and marks.identity:
            keys.append((STUDENT.name, "enrolled_from", marks.identity.casefold()))
        return keys
    name = str(customer.get("DisplayName") or "").strip().casefold()
    if name:  # the earlier system's shape: named after the tracking id or the RegNo
        keys += [(APPLICANT.name, "tracking", name), (STUDENT.name, "identity", name)]
    return keys


def is_same_record(customer: Mapping[str, Any], kind: RecordKind | str, identity: str) -> bool:
    """Does the customer carry the product's own identity of this record (its Notes)?"""
    kind = kind_named(kind)
    marks = parse_notes(customer.get("Notes"))
    return (
        marks.get("CustomerType") == kind.customer_type
        and marks.get(kind.identity_field) == identity
        and bool(identity)
    )


def names_alike(customer: Mapping[str, Any], record: MappedCustomer) -> bool:
    """Does a customer with no identity marks at least carry this person's name? (Used only
    together with the Id the MIS holds for the record: two independent signals.)"""
    real = (record.renamed_from or record.display_name).casefold()
    given = str(record.payload.get("GivenName") or "")
    family = str(record.payload.get("FamilyName") or "")
    candidates = {
        str(customer.get("DisplayName") or "").casefold(),
        str(customer.get("CompanyName") or "").casefold(),
        f"{customer.get('GivenName') or ''} {customer.get('FamilyName') or ''}".strip().casefold(),
    }
    parts = f"{given} {family}".strip().casefold()
    return bool(real) and (real in candidates or (bool(parts) and parts in candidates))
