"""The canonical form of a mapped customer and its fingerprint (issue 11). Pure.

What finance would notice: a record looks changed exactly when a field the product maps
changed; nothing finance sets outside the mapping (balance, addresses, their own Notes, other
custom fields) and no rename the product made itself ("John Doe (APP 1234)") ever does.
"""

from __future__ import annotations

import pytest
from test_mapping import APPLICANT, LOOKUPS, STUDENT

from sync_core.domain.fingerprint import (
    canonical_like,
    canonical_of_customer,
    canonical_of_mapped,
    custom_field_definitions,
    fingerprint,
    real_name,
)
from sync_core.domain.mapping import MappingOptions, map_applicant, map_student
from sync_core.domain.names import with_distinct_name


def applicant(**changes):
    return map_applicant({**APPLICANT, **changes}, LOOKUPS)


def as_created(mapped) -> dict:
    """The customer QuickBooks holds after creating this payload."""
    return {"Id": "58", "SyncToken": "0", "Active": True, "Balance": 0, **mapped.payload}


def test_the_canonical_form_holds_the_mapped_fields_only():
    found = canonical_of_mapped(applicant())
    assert list(found)[:6] == [
        "DisplayName",
        "GivenName",
        "MiddleName",
        "FamilyName",
        "PrimaryPhone",
        "PrimaryEmailAddr",
    ]
    assert found["PrimaryPhone"] == "+250788123456"
    assert found["Campus"] == "Kigali Campus" and found["ApplicationID"] == "1234"
    assert "Notes" not in found and "Balance" not in found  # seed fields one by one, no Notes


def test_a_customer_as_created_is_what_was_sent():
    mapped = applicant()
    assert canonical_like(as_created(mapped), mapped) == canonical_of_mapped(mapped)


def test_what_finance_sets_outside_the_mapping_changes_nothing():
    mapped = applicant()
    customer = as_created(mapped)
    customer.update(
        Balance=1250.5,
        BillAddr={"Line1": "KN 5 Rd"},
        CompanyName="Sponsor Ltd",
        SalesTermRef={"value": "3"},
        Notes=customer["Notes"] + "\nPaid by the sponsor\nCampus note: call first",
        CustomField=[{"DefinitionId": "9", "Name": "Region", "StringValue": "East"}],
        Active=False,
        SyncToken="7",
    )
    assert fingerprint(canonical_like(customer, mapped)) == fingerprint(canonical_of_mapped(mapped))


def test_a_name_made_distinct_by_the_product_is_no_change():
    mapped = applicant()
    renamed = with_distinct_name(mapped)
    assert renamed.display_name == "John Doe (APP 1234)"
    assert canonical_of_mapped(renamed) == canonical_of_mapped(mapped)
    assert canonical_like(as_created(renamed), mapped)["DisplayName"] == "John Doe"
    assert real_name("john doe (app 1234)", "APP 1234") == "john doe"
    assert real_name("John Doe (APP 99)", "APP 1234") == "John Doe (APP 99)"  # another's
    assert real_name("(APP 1234)", "APP 1234") == "(APP 1234)"  # nothing left: kept


@pytest.mark.parametrize(
    "change",
    [
        {"first_name": "Jon"},
        {"middlename": None},
        {"family_name": "Doe-Smith"},
        {"phone1": "0788 999 000"},
        {"email1": "john@new.example.org"},
        {"email1": "john@"},  # not an address: not sent, so it is removed
        {"camp_id": "2"},
        {"tracking_id": "TRK-2024-009999"},
        {"sex": "F"},
        {"nation_Id_passPort_no": "X1"},
        {"intake_id": None},
    ],
)
def test_any_change_of_a_mapped_field_changes_the_fingerprint(change):
    before = fingerprint(canonical_of_mapped(applicant()))
    assert fingerprint(canonical_of_mapped(applicant(**change))) != before


def test_the_same_values_written_otherwise_are_no_change():
    before = fingerprint(canonical_of_mapped(applicant()))
    same = applicant(phone1="+250 788 123 456", email1="  john.doe@example.org ")
    assert fingerprint(canonical_of_mapped(same)) == before
    assert len(before) == 64 and before == fingerprint(canonical_of_mapped(applicant()))
    assert fingerprint({"A": "1", "B": ""}) == fingerprint({"A": "1"})  # empty is absent


def test_custom_fields_are_read_where_the_product_writes_them():
    options = MappingOptions(custom_field_definitions={"Campus": "3", "RegNo": "4"})
    mapped = map_student(STUDENT, LOOKUPS, options)
    assert custom_field_definitions(mapped.placement) == {"Campus": "3", "RegNo": "4"}
    customer = as_created(mapped)
    assert canonical_like(customer, mapped) == canonical_of_mapped(mapped)
    customer["CustomField"] = [
        {"DefinitionId": "3", "Name": "Campus", "StringValue": "Huye Campus"},
        {"DefinitionId": "4", "Name": "RegNo", "StringValue": "2021/BIT/001"},
    ]
    assert canonical_like(customer, mapped)["Campus"] == "Huye Campus"
    # the earlier system's custom fields (named like the seed's) are not where the product
    # writes: they count for nothing
    legacy = {
        "DisplayName": "2021/BIT/001",
        "CustomField": [{"DefinitionId": "1000000005", "Name": "Campus", "StringValue": "X"}],
    }
    found = canonical_of_customer(legacy, reference="REG 2021/BIT/001", definitions={})
    assert found == {"DisplayName": "2021/BIT/001"}


def test_notes_lines_the_record_no_longer_maps_show_as_fields_to_remove():
    """A student carrying on an applicant's customer: the applicant's own lines are seen."""
    mapped = map_student(STUDENT, LOOKUPS)
    applicants_customer = as_created(applicant())
    found = canonical_like(applicants_customer, mapped)
    assert found["TrackingID"] == "TRK-2024-001234" and found["CustomerType"] == "Applicant"
    assert "TrackingID" not in canonical_of_mapped(mapped)
