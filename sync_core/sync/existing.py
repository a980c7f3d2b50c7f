"""Stage 3, look before sending: is this record already a customer in QuickBooks?

Asked for every record whose earlier attempt has an unknown outcome, whose QuickBooks Id the MIS
already holds, and when QuickBooks says its name is taken. A customer counts only when it
identifies the record (:mod:`sync_core.domain.identity`); inactive customers count too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sync_core.domain.identity import is_same_record
from sync_core.domain.kinds import RecordRef
from sync_core.domain.mapping import MappedCustomer
from sync_core.domain.names import candidate_display_names, name_key
from sync_core.quickbooks import query as q
from sync_core.quickbooks.client import QuickBooksClient
from sync_core.quickbooks.ports import CallContext
from sync_core.sync.outcomes import Pending


@dataclass(frozen=True)
class Lookup:
    mapped: MappedCustomer
    extra_names: tuple[str, ...] = ()  # e.g. the name an earlier attempt sent

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([*candidate_display_names(self.mapped), *self.extra_names]))


def is_ours(customer: dict[str, Any], mapped: MappedCustomer) -> bool:
    return is_same_record(customer, mapped.kind, mapped.identity)


def find_by_names(
    client: QuickBooksClient, lookups: Sequence[Lookup], context: CallContext | None = None
) -> dict[RecordRef, dict[str, Any]]:
    """For each record, the QuickBooks customer that is already it (absent when none is).

    One query per 50 names for the whole set, whatever its size.
    """
    if not lookups:
        return {}
    names = [name for lookup in lookups for name in lookup.names if name]
    found = client.find_customers_by_display_name(names, context=context)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for customer in found:
        by_name.setdefault(name_key(str(customer.get("DisplayName", ""))), []).append(customer)
    result: dict[RecordRef, dict[str, Any]] = {}
    for lookup in lookups:
        for name in lookup.names:
            match = next(
                (c for c in by_name.get(name_key(name), []) if is_ours(c, lookup.mapped)), None
            )
            if match is not None:
                result[RecordRef(lookup.mapped.kind, lookup.mapped.row_id)] = match
                break
    return result


def earlier_names(pending: Pending) -> tuple[str, ...]:
    sent = pending.attempt.sent_display_name
    return (sent,) if sent else ()


def find_existing(
    client: QuickBooksClient, items: Sequence[Pending], context: CallContext
) -> dict[RecordRef, dict[str, Any]]:
    """Customers that already are these records: by the Id the MIS holds, else by name."""
    existing: dict[RecordRef, dict[str, Any]] = {}
    prelinked = [p for p in items if p.prelinked]
    if prelinked:
        where = (
            f"{q.id_in(p.prelinked for p in prelinked if p.prelinked)} AND Active IN (true, false)"
        )
        by_id = {str(c["Id"]): c for c in client.query_customers(where, context=context)}
        for p in prelinked:
            if p.prelinked in by_id:
                existing[p.ref] = by_id[p.prelinked]
    unsure = [p for p in items if p.attempt.previously_unknown and p.ref not in existing]
    if unsure:
        existing.update(
            find_by_names(client, [Lookup(p.mapped, earlier_names(p)) for p in unsure], context)
        )
    return existing
