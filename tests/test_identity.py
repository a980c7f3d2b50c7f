"""Which QuickBooks customer is which MIS record. Pure."""

from __future__ import annotations

from test_mapping import APPLICANT, LOOKUPS, STUDENT

from sync_core.domain.identity import Verdict, identify, is_same_record, names_alike
from sync_core.domain.mapping import map_applicant, map_student


def test_is_same_record_reads_the_identity_from_notes():
    mapped = map_applicant(APPLICANT, LOOKUPS)
    customer = {"Id": "9", **mapped.payload}
    assert is_same_record(customer, "applicant", "1234")
    assert not is_same_record(customer, "applicant", "1235")
    assert not is_same_record(customer, "student", "1234")
    assert not is_same_record({"DisplayName": "John Doe"}, "applicant", "1234")


# ---------------------------------------------------------------- the earlier integration's shapes


def _applicant():
    return map_applicant(APPLICANT, LOOKUPS)  # ApplicationID 1234, TrackingID TRK-2024-001234


def test_the_earlier_systems_applicant_notes_identify_by_tracking_id():
    mine = {
        "DisplayName": "TRK-2024-001234",
        "Notes": "Applicant synchronized from MIS - Tracking ID: TRK-2024-001234",
    }
    theirs = {**mine, "Notes": "Applicant synchronized from MIS - Tracking ID: TRK-2024-009999"}
    assert identify(mine, _applicant()).verdict is Verdict.THIS
    other = identify(theirs, _applicant())
    assert other.verdict is Verdict.OTHER and "TRK-2024-009999" in other.other


def test_the_earlier_systems_student_custom_fields_identify_by_regno():
    student = map_student(STUDENT, LOOKUPS)  # RegNo 2021/BIT/001
    fields = [
        {"DefinitionId": "1000000001", "Name": "CustomerType", "StringValue": "Student"},
        {"DefinitionId": "1000000002", "StringValue": "2021/BIT/001"},  # no Name: by id
    ]
    assert identify({"DisplayName": "x", "CustomField": fields}, student).verdict is Verdict.THIS
    fields[1] = {"DefinitionId": "1000000002", "StringValue": "2021/BIT/002"}
    found = identify({"DisplayName": "x", "CustomField": fields}, student)
    assert found.verdict is Verdict.OTHER and found.other == "student 2021/BIT/002"


def test_a_name_equal_to_the_tracking_id_or_regno_is_the_earlier_systems_shape():
    student = map_student(STUDENT, LOOKUPS)
    assert identify({"DisplayName": "2021/bit/001"}, student).verdict is Verdict.THIS
    assert identify({"DisplayName": "TRK-2024-001234"}, _applicant()).verdict is Verdict.THIS


def test_a_name_alone_identifies_nobody_and_another_kind_is_another_record():
    assert identify({"DisplayName": "John Doe"}, _applicant()).verdict is Verdict.UNKNOWN
    student_customer = {"Id": "9", **map_student(STUDENT, LOOKUPS).payload}
    found = identify(student_customer, _applicant())
    assert found.verdict is Verdict.OTHER and found.other.startswith("student ")


def test_names_alike_needs_the_persons_name():
    assert names_alike({"DisplayName": "john doe"}, _applicant())
    assert names_alike({"DisplayName": "25001", "CompanyName": "John Doe"}, _applicant())
    assert not names_alike({"DisplayName": "Kigali Bakery Ltd"}, _applicant())
