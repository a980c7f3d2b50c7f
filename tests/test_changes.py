"""Field-by-field changes, and the sparse update that sends exactly those (issue 11). Pure.

What finance would notice: only the fields that changed go out, only fields the product maps,
and finance's own text in Notes is kept whatever the product rewrites.
"""

from __future__ import annotations

from test_mapping import APPLICANT, LOOKUPS, STUDENT

from sync_core.domain.changes import (
    FieldChange,
    diff,
    is_ours,
    merged_notes,
    order_of,
    sparse_update,
)
from sync_core.domain.fingerprint import canonical_like, canonical_of_mapped
from sync_core.domain.mapping import MappingOptions, map_applicant, map_student

FINANCE_ONLY = (
    "Balance",
    "BillAddr",
    "ShipAddr",
    "CompanyName",
    "SalesTermRef",
    "Active",
    "Id",
    "SyncToken",
    "sparse",
)


def applicant(**changes):
    return map_applicant({**APPLICANT, **changes}, LOOKUPS)


def customer_of(mapped, **finance) -> dict:
    return {"Id": "58", "SyncToken": "3", "Balance": 500.0, **mapped.payload, **finance}


def test_diff_reads_before_and_after_in_reading_order():
    before = canonical_of_mapped(applicant())
    after = canonical_of_mapped(applicant(phone1=None, camp_id="2", first_name="Jon"))
    changes = diff(before, after)
    assert [c.field for c in changes] == ["DisplayName", "GivenName", "PrimaryPhone", "Campus"]
    phone = changes[2]
    assert (phone.before, phone.after, phone.kind) == ("+250788123456", "", "removed")
    assert phone.describe() == "PrimaryPhone: +250788123456 -> (none)"
    assert FieldChange("Campus", "", "Huye").kind == "added"
    assert changes[3].kind == "changed"
    assert diff(before, before) == []
    assert order_of(["Zeta", "Campus", "DisplayName"]) == ["DisplayName", "Campus", "Zeta"]


def test_notes_keep_what_finance_wrote():
    ours = "CustomerType: Applicant\nApplicationID: 1234\nCampus: Huye"
    current = (
        "CustomerType: Applicant\nApplicationID: 1234\nCampus: Kigali\n"
        "Paid by sponsor\nCall before 10:00"
    )
    assert merged_notes(ours, current) == ours + "\nPaid by sponsor\nCall before 10:00"
    earlier = "Applicant synchronized from MIS - Tracking ID: 25002\nVIP"
    assert merged_notes(ours, earlier) == ours + "\nVIP"  # the earlier system's mark replaced
    assert merged_notes(ours, None) == ours
    assert is_ours("RegNo: 2021/BIT/001") and not is_ours("Note: RegNo changed")


def test_a_sparse_update_carries_only_the_changed_mapped_fields():
    before = applicant()
    after = applicant(phone1="0788 999 000")
    customer = customer_of(before, BillAddr={"Line1": "KN 5 Rd"}, CompanyName="Sponsor")
    fields = [c.field for c in diff(canonical_like(customer, after), canonical_of_mapped(after))]
    update = sparse_update(after, customer, fields)
    assert update.problem is None
    assert update.body == {"PrimaryPhone": {"FreeFormNumber": "+250788999000"}}
    assert not set(update.body) & set(FINANCE_ONLY)


def test_cleared_fields_are_sent_empty_and_notes_rewritten_keeping_finances_lines():
    before = applicant()
    after = applicant(email1=None, middlename=None, camp_id="2")
    customer = customer_of(before, Notes=before.payload["Notes"] + "\nPaid by sponsor")
    fields = ["MiddleName", "PrimaryEmailAddr", "Campus"]
    body = sparse_update(after, customer, fields).body
    assert body["MiddleName"] == "" and body["PrimaryEmailAddr"] == {"Address": ""}
    assert "Campus: Rwamagana Campus" in body["Notes"]
    assert body["Notes"].endswith("\nPaid by sponsor")
    assert set(body) == {"MiddleName", "PrimaryEmailAddr", "Notes"}


def test_a_display_name_is_sent_as_decided_by_the_clash_rules():
    after = applicant(first_name="Jon")
    body = sparse_update(
        after, customer_of(applicant()), ["DisplayName", "GivenName"], "Jon Doe (APP 1234)"
    ).body
    assert body == {"DisplayName": "Jon Doe (APP 1234)", "GivenName": "Jon"}


def test_custom_fields_go_where_the_product_writes_them_and_no_others_are_touched():
    options = MappingOptions(custom_field_definitions={"Campus": "3", "RegNo": "4"})
    before = map_student(STUDENT, LOOKUPS, options)
    after = map_student(
        {**STUDENT, "registration": {**STUDENT["registration"], "camp_id": "1"}}, LOOKUPS, options
    )
    customer = customer_of(
        before, CustomField=[{"DefinitionId": "9", "Name": "Region", "StringValue": "East"}]
    )
    body = sparse_update(after, customer, ["Campus"]).body
    assert body == {"CustomField": [{"DefinitionId": "3", "StringValue": "Kigali Campus"}]}
    identity = sparse_update(after, customer, ["RegNo"]).body  # in Notes and a custom field
    assert set(identity) == {"Notes", "CustomField"}


def test_notes_that_would_lose_finances_text_are_not_sent():
    before = applicant()
    after = applicant(camp_id="2")
    customer = customer_of(before, Notes=before.payload["Notes"] + "\n" + "x" * 1900)
    update = sparse_update(after, customer, ["Campus"])
    assert update.body == {} and "would be" in (update.problem or "")


def test_a_synced_record_stands_changed_first_marked_unchanged_or_unsendable():
    """domain.standing classifies a synced record from the MIS and what was last sent, for
    analyze (without the QuickBooks client) and for a run's update phase alike."""
    from types import SimpleNamespace

    from sync_core.domain import standing
    from sync_core.domain.fingerprint import canonical_of_mapped, fingerprint
    from sync_core.domain.lookups import Lookups
    from sync_core.domain.mapping import map_record
    from sync_core.sync import update

    assert update.classify is standing.classify, "one set of rules"
    good = {"appl_Id": 7, "first_name": "Aline", "family_name": "Uwase", "phone1": "0788123456"}
    blank = {"per_id_ug": 3, "reg_no": "", "fname": "Eric", "lname": "Mugisha"}
    answers = {}
    for kind, row in (("applicant", good), ("student", blank)):
        mapped = map_record(kind, row, Lookups())
        same = fingerprint(canonical_of_mapped(mapped))
        for label, before in (
            ("none", None),
            ("same", SimpleNamespace(qk_id="9", fingerprint=same, mark=None)),
            ("relinked", SimpleNamespace(qk_id="8", fingerprint=same, mark=None)),
            ("other", SimpleNamespace(qk_id="9", fingerprint="other", mark=None)),
            ("marked", SimpleNamespace(qk_id="9", fingerprint=same, mark="re-push")),
        ):
            answers[(kind, label)] = standing.classify(mapped, row, "9", before)
    assert answers[("applicant", "none")] == standing.FIRST
    assert answers[("applicant", "same")] == standing.UNCHANGED
    assert answers[("applicant", "relinked")] == standing.FIRST
    assert answers[("applicant", "other")] == standing.CHANGED
    assert answers[("applicant", "marked")] == standing.REPUSH
    assert {answers[("student", label)] for label in ("none", "same", "other")} == {standing.CANNOT}
