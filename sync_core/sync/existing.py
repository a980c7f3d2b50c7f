"""Is this MIS record already a customer in QuickBooks? Asked before any record whose earlier
attempt has an unknown outcome is sent again, and when QuickBooks says its name is taken.

A customer is ours only when its Notes carry this record's CustomerType and ApplicationID/RegNo:
a name alone, even "John Doe (APP 1234)", could have been typed by someone, and linking a
record to somebody else's customer would be worse than a readable failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sync_core.domain.mapping import MappedCustomer, candidate_display_names, is_same_record
from sync_core.quickbooks.client import CallContext, QuickBooksClient


@dataclass(frozen=True)
class Lookup:
    mapped: MappedCustomer
    extra_names: tuple[str, ...] = ()  # e.g. the name an earlier attempt sent

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([*candidate_display_names(self.mapped), *self.extra_names]))


def is_ours(customer: dict[str, Any], mapped: MappedCustomer) -> bool:
    return is_same_record(customer, mapped.kind, mapped.identity)


def find_existing(
    client: QuickBooksClient, lookups: Sequence[Lookup], context: CallContext | None = None
) -> dict[tuple[str, int], dict[str, Any]]:
    """For each record, the QuickBooks customer that is already it (absent when none is).

    One query per 50 names for the whole set, whatever its size.
    """
    if not lookups:
        return {}
    names = [name for lookup in lookups for name in lookup.names if name]
    found = client.find_customers_by_display_name(names, context=context)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for customer in found:
        by_name.setdefault(str(customer.get("DisplayName", "")).casefold(), []).append(customer)
    result: dict[tuple[str, int], dict[str, Any]] = {}
    for lookup in lookups:
        for name in lookup.names:
            match = next(
                (c for c in by_name.get(name.casefold(), []) if is_ours(c, lookup.mapped)), None
            )
            if match is not None:
                result[(lookup.mapped.kind, lookup.mapped.row_id)] = match
                break
    return result
