"""MIS row -> the exact QuickBooks Customer payload, per the seed's two mapping tables. Pure.

DisplayName is the real name ("John Doe", no prefix), GivenName/MiddleName/FamilyName, phone and
e-mail. The seed's custom fields (CustomerType, ApplicationID, ...) are kept in the mapped record
and written where QuickBooks keeps them on a Customer: a field with a configured custom field
definition goes to ``CustomField``; every other field goes to ``Notes`` as a readable
``Key: value`` line. CustomerType and the identity (ApplicationID / RegNo) are always in Notes as
well: that is how the product recognises its own customers in QuickBooks (Notes is returned with
every customer although it cannot be queried).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync_core.domain import sanitize
from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind, kind_named
from sync_core.domain.lookups import Lookups, normalise_id

ENROLMENT = "enrolment"  # the row key under which the reader puts the applicant-student link

APPLICANT_FIELDS = (
    "CustomerType",
    "ApplicationID",
    "TrackingID",
    "Gender",
    "BirthCountry",
    "NationalID",
    "Campus",
    "Intake",
    "Program",
    "ProgramMode",
)
STUDENT_FIELDS = (
    "CustomerType",
    "RegNo",
    "Gender",
    "NationalID",
    "Level",
    "Campus",
    "Intake",
    "Program",
    "ProgramMode",
    "ProgramType",
)
SEED_FIELDS = tuple(dict.fromkeys(APPLICANT_FIELDS + STUDENT_FIELDS))
IDENTITY_FIELDS = ("CustomerType", "ApplicationID", "RegNo")

NOTES = "Notes"

REFUSED_NAME = (
    "The name in the MIS holds only characters QuickBooks refuses in names (colon, tab, "
    "newline): QuickBooks would reject it. Enter the person's real first and family names."
)


@dataclass(frozen=True)
class MappingOptions:
    # seed field name -> QuickBooks custom field DefinitionId (legacyIDV2)
    custom_field_definitions: Mapping[str, str] = field(default_factory=dict)
    phone_region: str = "RW"
    # SYNC_STUDENT_CUSTOMER: "separate" or "continue" (an enrolled applicant's customer becomes
    # the student's; the student's Notes then carry the ApplicationID too)
    student_customer: str = "separate"

    @property
    def continues_applicants(self) -> bool:
        return self.student_customer == "continue"


@dataclass(frozen=True)
class MappedCustomer:
    kind: str  # "applicant" / "student"
    row_id: int
    identity: str  # ApplicationID or RegNo
    reference: str  # "APP 1234" / "REG 2021/BIT/001"
    payload: dict[str, Any]  # exactly what is sent to QuickBooks
    fields: dict[str, str]  # the seed's custom fields for this kind, in order
    placement: dict[str, str]  # seed field -> "Notes" / "CustomField 3" / both
    warnings: tuple[str, ...] = ()
    error: str | None = None  # set when the record cannot be sent at all
    renamed_from: str | None = None  # the real name, when DisplayName had to be made distinct
    # The MIS's link between an applicant and the student they became (the applicant's reg_no
    # equals the student's): the student's RegNo on an applicant, the applicant's ApplicationID
    # on a student; "" when there is none (or the MIS is ambiguous about it).
    enrolled_as: str = ""
    enrolled_from: str = ""
    # SYNC_STUDENT_CUSTOMER=continue and linked: the applicant's customer is the student's
    continues: bool = False

    @property
    def display_name(self) -> str:
        return self.payload.get("DisplayName", "")

    @property
    def sendable(self) -> bool:
        return self.error is None


def _text_field(raw: Any) -> str:
    return sanitize.clean_text(raw)


@functools.lru_cache(maxsize=64)
def _layout(
    field_names: tuple[str, ...], definitions: tuple[tuple[str, str], ...]
) -> tuple[dict[str, str], tuple[tuple[str, str], ...], tuple[str, ...]]:
    """Where each field goes (the same for every record of a kind): the placement shown to the
    operator, the (field, DefinitionId) pairs written as CustomField, the fields in Notes."""
    by_name = dict(definitions)
    placement: dict[str, str] = {}
    custom: list[tuple[str, str]] = []
    in_notes: list[str] = []
    for name in field_names:
        definition = by_name.get(name)
        places = []
        if definition:
            places.append(f"CustomField {definition}")
            custom.append((name, str(definition)))
        if not definition or name in IDENTITY_FIELDS:
            places.insert(0, NOTES)
            in_notes.append(name)
        placement[name] = " + ".join(places)
    return placement, tuple(custom), tuple(in_notes)


def _placement(
    fields: Mapping[str, str], definitions: Mapping[str, str]
) -> tuple[dict[str, str], list[dict[str, str]], tuple[str, ...]]:
    """Where each field goes; the CustomField entries; the fields written to Notes, in order."""
    placement, custom, in_notes = _layout(tuple(fields), tuple(sorted(definitions.items())))
    entries = [
        {"DefinitionId": definition, "StringValue": fields[name]}
        for name, definition in custom
        if fields[name]
    ]
    return dict(placement), entries, in_notes


def _notes(fields: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str | None]:
    lines = [f"{name}: {fields[name]}" for name in names if fields[name]]
    notes = "\n".join(lines)
    if len(notes) <= sanitize.NOTES_MAX:
        return notes, None
    return (
        sanitize.shorten(notes, sanitize.NOTES_MAX),
        f"Notes are {len(notes)} characters: cut to {sanitize.NOTES_MAX:,}",
    )


def _build(
    kind: RecordKind,
    row_id: int,
    identity: str,
    names: tuple[Any, Any, Any],
    phone: Any,
    email: Any,
    fields: dict[str, str],
    warnings: list[str],
    options: MappingOptions,
    error: str | None = None,
    enrolment: tuple[str, str, bool] = ("", "", False),
) -> MappedCustomer:
    given = sanitize.clean_name(names[0], "first name")
    middle = sanitize.clean_name(names[1], "middle name")
    family = sanitize.clean_name(names[2], "family name")
    # The DisplayName keeps the whole real name (first + family; its limit is 500, not 100).
    display_name = " ".join(p for p in (given.uncut, family.uncut) if p)
    reference = kind.reference(identity)
    warnings = [w for w in (given.warning, middle.warning, family.warning) if w] + warnings
    if len(display_name) > sanitize.DISPLAY_NAME_MAX:
        limit = sanitize.DISPLAY_NAME_MAX
        warnings.append(f"name is {len(display_name)} characters: DisplayName cut to {limit}")
        display_name = sanitize.shorten(display_name, sanitize.DISPLAY_NAME_MAX)
    if not display_name and any(sanitize.has_forbidden_name_chars(n) for n in names):
        # not a missing name but a wrong one (only ':' / tab / newline): sending the fallback
        # name would hide it, so the registrar sees it as a failure to correct
        error = error or REFUSED_NAME
    if not display_name:
        display_name = f"{kind.customer_type} {identity}".strip()
        warnings.insert(0, f"no name in the MIS: sent as {display_name!r}")

    payload: dict[str, Any] = {"DisplayName": display_name}
    for key, cleaned in (("GivenName", given), ("MiddleName", middle), ("FamilyName", family)):
        if cleaned.value:
            payload[key] = cleaned.value
    phone_clean = sanitize.clean_phone(phone, options.phone_region)
    email_clean = sanitize.clean_email(email)
    warnings += [w for w in (phone_clean.warning, email_clean.warning) if w]
    if phone_clean.value:
        payload["PrimaryPhone"] = {"FreeFormNumber": phone_clean.value}
    if email_clean.value:
        payload["PrimaryEmailAddr"] = {"Address": email_clean.value}

    placement, custom, in_notes = _placement(fields, options.custom_field_definitions)
    notes, notes_warning = _notes(fields, in_notes)
    if notes_warning:
        warnings.append(notes_warning)
    if notes:
        payload["Notes"] = notes
    if custom:
        payload["CustomField"] = custom
    return MappedCustomer(
        kind=kind.name,
        row_id=row_id,
        identity=identity,
        reference=reference,
        payload=payload,
        fields=fields,
        placement=placement,
        warnings=tuple(warnings),
        error=error,
        enrolled_as=enrolment[0],
        enrolled_from=enrolment[1],
        continues=enrolment[2],
    )


def _counterpart(row: Mapping[str, Any], key: str, warnings: list[str]) -> str:
    """The identity of the one record the MIS links this one to (``row["enrolment"]``, read by
    :mod:`sync_core.mis.enrolment`); "" when none, or when several claim it (a data error)."""
    found = [str(c.get("identity") or "").strip() for c in (row.get(ENROLMENT) or {}).get(key, [])]
    found = [c for c in dict.fromkeys(found) if c]
    if len(found) > 1:
        warnings.append(f"{len(found)} {key} carry this RegNo in the MIS: not linked as one person")
        return ""
    return found[0] if found else ""


def _resolve(lookups: Lookups, lookup: str, raw: Any, warnings: list[str]) -> str:
    resolved = lookups.resolve(lookup, raw)
    if resolved.warning:
        warnings.append(resolved.warning)
    return resolved.value


def map_applicant(
    row: Mapping[str, Any], lookups: Lookups, options: MappingOptions | None = None
) -> MappedCustomer:
    """``tbl_online_application`` row -> Customer (seed table "Applicant Data Mapping")."""
    options = options or MappingOptions()
    warnings: list[str] = []
    identity = normalise_id(row["appl_Id"])
    fields = {
        "CustomerType": APPLICANT.customer_type,
        "ApplicationID": identity,
        "TrackingID": _text_field(row.get("tracking_id")),
        "Gender": sanitize.clean_gender(row.get("sex")),
        "BirthCountry": _resolve(lookups, "country", row.get("country_of_birth"), warnings),
        "NationalID": _text_field(row.get("nation_Id_passPort_no")),
        "Campus": _resolve(lookups, "campus", row.get("camp_id"), warnings),
        "Intake": _resolve(lookups, "intake", row.get("intake_id"), warnings),
        "Program": _resolve(lookups, "program", row.get("opt_1"), warnings),
        "ProgramMode": _resolve(lookups, "program_mode", row.get("prg_mode_id"), warnings),
    }
    enrolled_as = _counterpart(row, "students", warnings)
    return _build(
        APPLICANT,
        int(row["appl_Id"]),
        identity,
        (row.get("first_name"), row.get("middlename"), row.get("family_name")),
        row.get("phone1"),
        row.get("email1"),
        fields,
        warnings,
        options,
        enrolment=(enrolled_as, "", options.continues_applicants and bool(enrolled_as)),
    )


def map_student(
    row: Mapping[str, Any], lookups: Lookups, options: MappingOptions | None = None
) -> MappedCustomer:
    """``tbl_personal_ug`` row + its latest registration (``row["registration"]``) -> Customer."""
    options = options or MappingOptions()
    warnings: list[str] = []
    identity = normalise_id(row.get("reg_no"))
    registration = row.get("registration") or {}
    if not registration:
        warnings.append("no registration in the MIS: Level, Campus, Intake and Program left empty")
    fields = {
        "CustomerType": STUDENT.customer_type,
        "RegNo": identity,
        "Gender": sanitize.clean_gender(row.get("sex")),
        "NationalID": _text_field(row.get("national_id")),
        "Level": _resolve(lookups, "level", registration.get("level_id"), warnings),
        "Campus": _resolve(lookups, "campus", registration.get("camp_id"), warnings),
        "Intake": _resolve(lookups, "intake", registration.get("intake_id"), warnings),
        "Program": _resolve(lookups, "program", registration.get("splz_id"), warnings),
        "ProgramMode": _resolve(lookups, "program_mode", registration.get("prg_mode_id"), warnings),
        "ProgramType": _resolve(lookups, "program_type", row.get("prg_type"), warnings),
    }
    error = None
    if not identity:
        error = "RegNo is empty in the MIS: the student cannot be identified in QuickBooks"
    enrolled_from = _counterpart(row, "applicants", warnings) if identity else ""
    continues = options.continues_applicants and bool(enrolled_from)
    if continues:  # the customer carries both identities: the applicant still recognises it
        fields = {
            **{k: v for k, v in fields.items() if k in ("CustomerType", "RegNo")},
            "ApplicationID": enrolled_from,
            **{k: v for k, v in fields.items() if k not in ("CustomerType", "RegNo")},
        }
    return _build(
        STUDENT,
        int(row["per_id_ug"]),
        identity,
        (row.get("fname"), row.get("middlename"), row.get("lname")),
        row.get("phone1"),
        row.get("email1"),
        fields,
        warnings,
        options,
        error=error,
        enrolment=("", enrolled_from, continues),
    )


def map_record(
    kind: RecordKind | str,
    row: Mapping[str, Any],
    lookups: Lookups,
    options: MappingOptions | None = None,
) -> MappedCustomer:
    kind = kind_named(kind)
    mapper = map_applicant if kind is APPLICANT else map_student
    return mapper(row, lookups, options)
