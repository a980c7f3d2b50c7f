"""Is this QuickBooks customer the one that stands for this MIS record? Pure.

A customer is this record only when it carries the record's identity: the product writes
CustomerType and ApplicationID / RegNo into every customer's Notes. A name alone, even
"John Doe (APP 1234)", could have been typed by someone, and linking a record to somebody
else's customer would be worse than a readable failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync_core.domain.kinds import RecordKind, kind_named
from sync_core.domain.mapping import SEED_FIELDS


def parse_notes(notes: str | None) -> dict[str, str]:
    result = {}
    for line in (notes or "").splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in SEED_FIELDS and key not in result:
            result[key] = value
    return result


def is_same_record(customer: Mapping[str, Any], kind: RecordKind | str, identity: str) -> bool:
    """Is this QuickBooks customer the one we created for this MIS record?"""
    kind = kind_named(kind)
    marks = parse_notes(customer.get("Notes"))
    return (
        marks.get("CustomerType") == kind.customer_type
        and marks.get(kind.identity_field) == identity
        and bool(identity)
    )
