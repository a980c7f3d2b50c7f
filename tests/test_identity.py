"""Which QuickBooks customer is which MIS record. Pure."""

from __future__ import annotations

from test_mapping import APPLICANT, LOOKUPS

from sync_core.domain.identity import is_same_record
from sync_core.domain.mapping import map_applicant


def test_is_same_record_reads_the_identity_from_notes():
    mapped = map_applicant(APPLICANT, LOOKUPS)
    customer = {"Id": "9", **mapped.payload}
    assert is_same_record(customer, "applicant", "1234")
    assert not is_same_record(customer, "applicant", "1235")
    assert not is_same_record(customer, "student", "1234")
    assert not is_same_record({"DisplayName": "John Doe"}, "applicant", "1234")
