"""Row -> Customer payload, one case per row of the seed's two mapping tables, plus fallbacks."""

from __future__ import annotations

import datetime as dt

import pytest

from sync_core.domain.identity import parse_notes
from sync_core.domain.lookups import Lookups
from sync_core.domain.mapping import MappingOptions, map_applicant, map_student

LOOKUPS = Lookups(
    {
        "campus": {1: "Kigali Campus", 2: "Rwamagana Campus"},
        "intake": {7: "September 2025"},
        "program": {5: "Bachelor of Information Technology"},
        "level": {2: "Year 2"},
        "program_mode": {1: "Day"},
        "country": {1: "Rwanda"},
    }
)

APPLICANT = {
    "appl_Id": 1234,
    "tracking_id": "TRK-2024-001234",
    "first_name": "John",
    "middlename": "Peter",
    "family_name": "Doe",
    "sex": "M",
    "phone1": "0788123456",
    "email1": "john.doe@example.org",
    "country_of_birth": "1",
    "nation_Id_passPort_no": "1199880012345678",
    "camp_id": "1",
    "opt_1": "5",
    "intake_id": "7",
    "prg_mode_id": "1",
}

STUDENT = {
    "per_id_ug": 77,
    "reg_no": "2021/BIT/001",
    "prg_type": "UG Day",
    "sex": "F",
    "fname": "Grace",
    "middlename": None,
    "lname": "Uwase",
    "national_id": "1200070012345678",
    "phone1": "+250 722 000 111",
    "email1": "grace@example.org",
    "registration": {
        "level_id": "2",
        "camp_id": "2",
        "intake_id": "7",
        "splz_id": "5",
        "prg_mode_id": "1",
        "reg_date": dt.datetime(2024, 9, 1),
    },
}


def notes_of(mapped) -> dict[str, str]:
    return parse_notes(mapped.payload.get("Notes"))


# Seed table "Applicant Data Mapping": (QuickBooks field or custom field, expected value)
APPLICANT_TABLE = [
    ("DisplayName", "John Doe"),
    ("GivenName", "John"),
    ("FamilyName", "Doe"),
    ("MiddleName", "Peter"),
    ("PrimaryPhone", {"FreeFormNumber": "+250788123456"}),
    ("PrimaryEmailAddr", {"Address": "john.doe@example.org"}),
    ("CustomerType", "Applicant"),
    ("ApplicationID", "1234"),
    ("TrackingID", "TRK-2024-001234"),
    ("Gender", "Male"),
    ("BirthCountry", "Rwanda"),
    ("NationalID", "1199880012345678"),
    ("Campus", "Kigali Campus"),
    ("Intake", "September 2025"),
    ("Program", "Bachelor of Information Technology"),
    ("ProgramMode", "Day"),
]

STUDENT_TABLE = [
    ("DisplayName", "Grace Uwase"),
    ("GivenName", "Grace"),
    ("FamilyName", "Uwase"),
    ("PrimaryPhone", {"FreeFormNumber": "+250722000111"}),
    ("PrimaryEmailAddr", {"Address": "grace@example.org"}),
    ("CustomerType", "Student"),
    ("RegNo", "2021/BIT/001"),
    ("Gender", "Female"),
    ("NationalID", "1200070012345678"),
    ("Level", "Year 2"),
    ("Campus", "Rwamagana Campus"),
    ("Intake", "September 2025"),
    ("Program", "Bachelor of Information Technology"),
    ("ProgramMode", "Day"),
    ("ProgramType", "UG Day"),
]


def _value(mapped, target):
    if target in mapped.payload and target[0].isupper() and target not in mapped.fields:
        return mapped.payload[target]
    return mapped.fields[target]


@pytest.mark.parametrize(
    ("target", "expected"), APPLICANT_TABLE, ids=[t for t, _ in APPLICANT_TABLE]
)
def test_applicant_mapping_table(target, expected):
    mapped = map_applicant(APPLICANT, LOOKUPS)
    assert _value(mapped, target) == expected
    if target in mapped.fields:  # every seed custom field is readable in Notes by default
        assert notes_of(mapped)[target] == expected
        assert mapped.placement[target] == "Notes"


@pytest.mark.parametrize(("target", "expected"), STUDENT_TABLE, ids=[t for t, _ in STUDENT_TABLE])
def test_student_mapping_table(target, expected):
    mapped = map_student(STUDENT, LOOKUPS)
    assert _value(mapped, target) == expected
    if target in mapped.fields:
        assert notes_of(mapped)[target] == expected


def test_payload_holds_only_quickbooks_fields_and_no_warnings_for_clean_rows():
    for mapped in (map_applicant(APPLICANT, LOOKUPS), map_student(STUDENT, LOOKUPS)):
        assert set(mapped.payload) <= {
            "DisplayName",
            "GivenName",
            "MiddleName",
            "FamilyName",
            "PrimaryPhone",
            "PrimaryEmailAddr",
            "Notes",
            "CustomField",
        }
        assert mapped.warnings == ()
        assert mapped.sendable


def test_display_name_is_the_real_name_without_prefix_or_middle_name():
    mapped = map_applicant(APPLICANT, LOOKUPS)
    assert mapped.display_name == "John Doe"
    assert "APP" not in mapped.display_name


# Enrichment fallbacks: (raw campus id, expected Campus, warning expected)
FALLBACKS = [
    ("1", "Kigali Campus", False),  # readable name
    (" 1 ", "Kigali Campus", False),  # stray spaces
    (1, "Kigali Campus", False),  # an int, as some drivers return
    ("99", "99", True),  # no matching row: the id as a string
    ("abc", "abc", True),  # not an id at all
    ("", "", False),  # missing
    ("   ", "", False),  # blank
    (None, "", False),  # NULL
    ("0", "", False),  # the MIS's "none chosen"
]


@pytest.mark.parametrize(("raw", "expected", "warns"), FALLBACKS)
def test_enrichment_fallbacks(raw, expected, warns):
    mapped = map_applicant({**APPLICANT, "camp_id": raw}, LOOKUPS)
    assert mapped.fields["Campus"] == expected
    campus_warnings = [w for w in mapped.warnings if w.startswith("campus")]
    assert bool(campus_warnings) == warns
    if warns:
        assert f"sent as '{expected}'" in campus_warnings[0]


def test_birth_country_accepts_free_text_without_warning():
    mapped = map_applicant({**APPLICANT, "country_of_birth": "DR Congo"}, LOOKUPS)
    assert mapped.fields["BirthCountry"] == "DR Congo"
    assert mapped.warnings == ()


def test_student_without_registration_still_maps_with_empty_fields():
    mapped = map_student({**STUDENT, "registration": None}, LOOKUPS)
    assert mapped.sendable
    for name in ("Level", "Campus", "Intake", "Program", "ProgramMode"):
        assert mapped.fields[name] == ""
        assert name not in notes_of(mapped)
    assert any("no registration" in w for w in mapped.warnings)


@pytest.mark.parametrize(
    ("first", "family", "expected"),
    [
        (None, None, "Applicant 1234"),
        ("", "  ", "Applicant 1234"),
        ("John", None, "John"),
        (None, "Doe", "Doe"),
        ("  John   Paul ", " Doe ", "John Paul Doe"),
        ("Marie: Claire", "Uwase", "Marie Claire Uwase"),
        ("Jean\tPaul", "Habimana\n", "Jean Paul Habimana"),
        ("Jean d'Amour", "N'Guessan", "Jean d'Amour N'Guessan"),
        ("Théogène", "Émilienne", "Théogène Émilienne"),
    ],
)
def test_applicant_display_name_cases(first, family, expected):
    mapped = map_applicant({**APPLICANT, "first_name": first, "family_name": family}, LOOKUPS)
    assert mapped.display_name == expected
    assert ":" not in mapped.display_name and "\t" not in mapped.display_name


def test_nameless_student_is_named_by_reg_no():
    mapped = map_student({**STUDENT, "fname": None, "lname": ""}, LOOKUPS)
    assert mapped.display_name == "Student 2021/BIT/001"
    assert mapped.warnings[0] == "no name in the MIS: sent as 'Student 2021/BIT/001'"


def test_a_name_of_only_refused_characters_is_a_failure_to_correct_not_a_fallback():
    mapped = map_applicant({**APPLICANT, "first_name": ":", "family_name": "\t:"}, LOOKUPS)
    assert not mapped.sendable
    assert "only characters QuickBooks refuses" in mapped.error
    empty = map_applicant({**APPLICANT, "first_name": "  ", "family_name": None}, LOOKUPS)
    assert empty.sendable, "a missing name keeps the fallback name"


def test_student_without_reg_no_cannot_be_sent():
    mapped = map_student({**STUDENT, "reg_no": "  "}, LOOKUPS)
    assert not mapped.sendable
    assert "RegNo is empty" in mapped.error


def test_overlong_names_are_cut_to_quickbooks_limits_with_warnings():
    long_first = "A" * 300
    long_family = "B" * 300
    mapped = map_applicant(
        {**APPLICANT, "first_name": long_first, "family_name": long_family}, LOOKUPS
    )
    assert len(mapped.payload["GivenName"]) == 100
    assert len(mapped.payload["FamilyName"]) == 100
    assert len(mapped.display_name) == 500
    assert mapped.display_name.startswith("A" * 300)
    assert any("first name is 300 characters: cut to 100" in w for w in mapped.warnings)
    assert any("DisplayName cut to 500" in w for w in mapped.warnings)


@pytest.mark.parametrize(
    "email", ["john@", "none", "n/a", "x@y", "john doe@gmail.com", "a@b.", "x" * 95 + "@e.org"]
)
def test_bad_email_is_dropped_with_a_warning(email):
    mapped = map_applicant({**APPLICANT, "email1": email}, LOOKUPS)
    assert "PrimaryEmailAddr" not in mapped.payload
    assert any(w.startswith("email ") and "not sent" in w for w in mapped.warnings)
    assert mapped.sendable


@pytest.mark.parametrize("phone", ["N/A", "0", "12345", "call me", "07xx"])
def test_bad_phone_is_dropped_with_a_warning(phone):
    mapped = map_applicant({**APPLICANT, "phone1": phone}, LOOKUPS)
    assert "PrimaryPhone" not in mapped.payload
    assert any(w.startswith(f"phone '{phone}'") for w in mapped.warnings)


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("0788123456", "+250788123456"),
        ("+250 788 123 456", "+250788123456"),
        ("250788123456", "+250788123456"),
        ("078-812-3456", "+250788123456"),
        ("+256 772 123456", "+256772123456"),
    ],
)
def test_phone_formats_are_sent_in_e164(phone, expected):
    mapped = map_applicant({**APPLICANT, "phone1": phone}, LOOKUPS)
    assert mapped.payload["PrimaryPhone"] == {"FreeFormNumber": expected}


def test_missing_email_and_phone_are_simply_absent():
    mapped = map_applicant({**APPLICANT, "email1": None, "phone1": ""}, LOOKUPS)
    assert "PrimaryEmailAddr" not in mapped.payload and "PrimaryPhone" not in mapped.payload
    assert mapped.warnings == ()


def test_configured_custom_fields_go_to_customfield_and_identity_stays_in_notes():
    options = MappingOptions(custom_field_definitions={"Campus": "1", "ApplicationID": "2"})
    mapped = map_applicant(APPLICANT, LOOKUPS, options)
    assert {"DefinitionId": "1", "StringValue": "Kigali Campus"} in mapped.payload["CustomField"]
    assert {"DefinitionId": "2", "StringValue": "1234"} in mapped.payload["CustomField"]
    notes = notes_of(mapped)
    assert "Campus" not in notes  # written once, where QuickBooks keeps it
    assert notes["ApplicationID"] == "1234" and notes["CustomerType"] == "Applicant"
    assert mapped.placement["Campus"] == "CustomField 1"
    assert mapped.placement["ApplicationID"] == "Notes + CustomField 2"


def test_notes_never_exceed_2000_characters_and_keep_the_identity_first():
    mapped = map_applicant(
        {**APPLICANT, "tracking_id": "T" * 1500, "nation_Id_passPort_no": "N" * 1500}, LOOKUPS
    )
    assert len(mapped.payload["Notes"]) == 2000
    assert mapped.payload["Notes"].startswith("CustomerType: Applicant\nApplicationID: 1234\n")
    assert any("Notes are" in w and "cut to 2,000" in w for w in mapped.warnings)


def test_program_type_is_read_through_its_lookup_table():
    lookups = Lookups({**LOOKUPS.names, "program_type": {1: "Day"}})
    assert map_student({**STUDENT, "prg_type": 1}, lookups).fields["ProgramType"] == "Day"
    assert map_student({**STUDENT, "prg_type": "1"}, lookups).fields["ProgramType"] == "Day"
    dangling = map_student({**STUDENT, "prg_type": 7}, lookups)
    assert dangling.fields["ProgramType"] == "7"
    assert any("programme type id '7' not found" in w for w in dangling.warnings)
    # an older MIS keeps the type itself in the column
    assert map_student({**STUDENT, "prg_type": "UG Day"}, lookups).fields["ProgramType"] == "UG Day"
