"""The name a record is sent under when its real name is taken. Pure."""

from __future__ import annotations

from test_mapping import APPLICANT, LOOKUPS, STUDENT

from sync_core.domain.mapping import map_applicant, map_student
from sync_core.domain.names import candidate_display_names, with_distinct_name


def test_distinct_name_keeps_the_real_name_first():
    applicant = with_distinct_name(map_applicant(APPLICANT, LOOKUPS))
    student = with_distinct_name(map_student(STUDENT, LOOKUPS))
    assert applicant.display_name == "John Doe (APP 1234)"
    assert applicant.renamed_from == "John Doe"
    assert student.display_name == "Grace Uwase (REG 2021/BIT/001)"
    assert candidate_display_names(applicant) == ["John Doe", "John Doe (APP 1234)"]
    long = with_distinct_name(map_applicant({**APPLICANT, "first_name": "A" * 600}, LOOKUPS))
    assert len(long.display_name) == 500 and long.display_name.endswith(" (APP 1234)")
