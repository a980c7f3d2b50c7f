"""Stage 4, choose names: send each record under a name QuickBooks will take the first time.

A name already held in QuickBooks (one query per 50 names, which costs no batch request) or by a
record of this run still on its way goes out as "John Doe (APP 1234)" at once, instead of
failing with 6240 and costing a second batch slot; when the holder is this very record, it is
adopted. A clash nobody could foresee (a vendor's or an employee's name, a concurrent edit)
still comes back as 6240 and is resolved then (:mod:`sync_core.sync.send`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sync_core.domain.names import name_key, with_distinct_name
from sync_core.quickbooks.client import QuickBooksClient
from sync_core.quickbooks.errors import QuickBooksError
from sync_core.quickbooks.ports import CallContext
from sync_core.sync.existing import is_ours, own_marks
from sync_core.sync.outcomes import Linked, Pending


class NamesInFlight:
    """Names chosen for records of this run whose answer has not come yet."""

    def __init__(self) -> None:
        self._held: Counter[str] = Counter()

    def hold(self, names: Iterable[str]) -> None:
        for name in names:
            self._held[name_key(name)] += 1

    def free(self, names: Iterable[str]) -> None:
        for name in names:
            key = name_key(name)
            self._held[key] -= 1
            if self._held[key] <= 0:
                del self._held[key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._held[name_key(name)] > 0


def choose_names(
    client: QuickBooksClient,
    items: Sequence[Pending],
    in_flight: NamesInFlight,
    context: CallContext,
) -> tuple[list[Pending], list[Linked]]:
    """The records to send (some under a distinct name) and those found to exist already:
    under their real name, or under the name the earlier integration gave them (their tracking
    id / RegNo), whatever the MIS status says (that system left rows at 0 whose customer
    exists)."""
    if not items:
        return [], []
    lookups = {p.ref: [p.mapped.display_name, *own_marks(p.mapped)] for p in items}
    try:
        holders = client.find_customers_by_display_name(
            [name for names in lookups.values() for name in names], context=context
        )
    except QuickBooksError as exc:
        if exc.stops_run:
            raise
        holders = []  # no foresight this time: the 6240 path still resolves clashes
    taken: dict[str, list[dict[str, Any]]] = {}
    for customer in holders:
        taken.setdefault(name_key(str(customer.get("DisplayName", ""))), []).append(customer)
    chosen: list[Pending] = []
    adopted: list[Linked] = []
    for pending in items:
        key = name_key(pending.mapped.display_name)
        candidates = [c for name in lookups[pending.ref] for c in taken.get(name_key(name), [])]
        ours = next((c for c in candidates if is_ours(c, pending.mapped)), None)
        if ours is not None:
            adopted.append(Linked(pending, ours, "a look-up by its identity"))
            continue
        if key in taken or pending.mapped.display_name in in_flight:
            pending = Pending(
                with_distinct_name(pending.mapped), pending.attempt, pending.prelinked
            )
        in_flight.hold([pending.mapped.display_name])
        chosen.append(pending)
    return chosen, adopted
