"""Stage 3, look before sending: is this record already a customer in QuickBooks?

Asked for every record whose earlier attempt has an unknown outcome, whose QuickBooks Id the MIS
already holds, and when QuickBooks says its name is taken. A customer counts only when it
identifies the record (:mod:`sync_core.domain.identity`: the product's Notes, or the earlier
integration's shapes); inactive customers count too. An Id in the MIS that points at somebody
else's customer is a conflict for the operator, never a link.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sync_core.domain.identity import Verdict, identify, names_alike
from sync_core.domain.kinds import APPLICANT, RecordRef
from sync_core.domain.mapping import MappedCustomer
from sync_core.domain.names import candidate_display_names, name_key
from sync_core.quickbooks import query as q
from sync_core.quickbooks.client import QuickBooksClient
from sync_core.quickbooks.ports import CallContext
from sync_core.sync.outcomes import Failed, Pending

ID_CONFLICT = "MIS-ID"
ID_CONFLICT_HINT = (
    "Correct the QuickBooks Id in the MIS, or clear it so the record is looked up by its "
    "identity (and created only if no customer is it)."
)


def own_marks(mapped: MappedCustomer) -> list[str]:
    """The earlier integration named its customers after the record: applicants by
    tracking_id, students by reg_no."""
    mark = mapped.fields.get("TrackingID", "") if mapped.kind == APPLICANT.name else mapped.identity
    return [mark] if mark else []


@dataclass(frozen=True)
class Lookup:
    mapped: MappedCustomer
    extra_names: tuple[str, ...] = ()  # e.g. the name an earlier attempt sent

    @property
    def names(self) -> list[str]:
        return list(
            dict.fromkeys(
                [*candidate_display_names(self.mapped), *own_marks(self.mapped), *self.extra_names]
            )
        )


def is_ours(customer: dict[str, Any], mapped: MappedCustomer) -> bool:
    return identify(customer, mapped).verdict is Verdict.THIS


def find_by_names(
    client: QuickBooksClient,
    lookups: Sequence[Lookup],
    context: CallContext | None = None,
    *,
    unchecked: set[RecordRef] | None = None,
) -> dict[RecordRef, dict[str, Any]]:
    """For each record, the QuickBooks customer that is already it (absent when none is).

    One query per 50 names for the whole set, whatever its size. Records one of whose names
    QuickBooks refused to search are added to ``unchecked`` (when given): their absence from
    the answer proves nothing.
    """
    if not lookups:
        return {}
    names = [name for lookup in lookups for name in lookup.names if name]
    search = client.search_display_names(names, context=context)
    if unchecked is not None and search.unsearchable:
        refused = {name_key(n) for n in search.unsearchable}
        unchecked.update(
            RecordRef(lookup.mapped.kind, lookup.mapped.row_id)
            for lookup in lookups
            if any(name_key(n) in refused for n in lookup.names)
        )
    return match_by_names(search.found, lookups)


def match_by_names(
    found: Iterable[dict[str, Any]], lookups: Sequence[Lookup]
) -> dict[RecordRef, dict[str, Any]]:
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


def find_by_ids(
    client: QuickBooksClient, ids: Iterable[str], context: CallContext | None = None
) -> dict[str, dict[str, Any]]:
    """Customers by Id, inactive ones included; one query per 100 Ids."""
    wanted = [i for i in dict.fromkeys(ids) if i]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 100):
        where = f"{q.id_in(wanted[start : start + 100])} AND Active IN (true, false)"
        found.update({str(c["Id"]): c for c in client.query_customers(where, context=context)})
    return found


def earlier_names(pending: Pending) -> tuple[str, ...]:
    sent = pending.attempt.sent_display_name
    return (sent,) if sent else ()


def prelinked_verdict(customer: dict[str, Any] | None, pending: Pending) -> Failed | None:
    """None when the customer the MIS's Id points at is this record; else why not."""
    assert pending.prelinked is not None
    if customer is None:
        message = (
            f"The QuickBooks Id in the MIS ({pending.prelinked}) is no customer in QuickBooks: "
            "not linked."
        )
        return Failed.of(pending, message, code=ID_CONFLICT, hint=ID_CONFLICT_HINT)
    found = identify(customer, pending.mapped)
    if found.verdict is Verdict.THIS:
        return None
    if found.verdict is Verdict.UNKNOWN and names_alike(customer, pending.mapped):
        return None  # the MIS's own Id, and the person's name: two signals agree
    whose = (
        f"which is {found.other} (by {found.how})"
        if found.verdict is Verdict.OTHER
        else "which carries neither this record's identity nor its name"
    )
    message = (
        f"The QuickBooks Id in the MIS ({pending.prelinked}) points at customer "
        f"{customer.get('DisplayName')!r}, {whose}: not linked."
    )
    return Failed.of(pending, message, code=ID_CONFLICT, hint=ID_CONFLICT_HINT)


def find_existing(
    client: QuickBooksClient, items: Sequence[Pending], context: CallContext
) -> tuple[dict[RecordRef, dict[str, Any]], list[Failed]]:
    """Customers that already are these records (by the Id the MIS holds, else by identity),
    and the records whose Id in the MIS points at somebody else's customer."""
    existing: dict[RecordRef, dict[str, Any]] = {}
    conflicts: list[Failed] = []
    prelinked = [p for p in items if p.prelinked]
    if prelinked:
        by_id = find_by_ids(client, (p.prelinked or "" for p in prelinked), context)
        for p in prelinked:
            customer = by_id.get(p.prelinked or "")
            problem = prelinked_verdict(customer, p)
            if problem is not None:
                conflicts.append(problem)
            elif customer is not None:
                existing[p.ref] = customer
    conflicted = {f.ref for f in conflicts}
    unsure = [
        p
        for p in items
        if p.attempt.previously_unknown and p.ref not in existing and p.ref not in conflicted
    ]
    if unsure:
        unchecked: set[RecordRef] = set()
        lookups = [Lookup(p.mapped, earlier_names(p)) for p in unsure]
        existing.update(find_by_names(client, lookups, context, unchecked=unchecked))
        conflicts += [unsearchable(p) for p in unsure if p.ref in unchecked - set(existing)]
    return existing, conflicts


def unsearchable(pending: Pending) -> Failed:
    """An earlier attempt may have created the customer, and QuickBooks refuses to search for
    its name: it is not sent blind."""
    return Failed.of(
        pending,
        f"QuickBooks refuses to search for the name {pending.mapped.display_name!r}, so an "
        "earlier attempt's customer cannot be looked for: not sent again.",
        code="4000",
        hint="Correct the name in the MIS (an unusual character), then retry the record.",
        outcome_unknown=True,
    )
