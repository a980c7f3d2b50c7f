"""What changed, field by field, and the sparse update that sends exactly that. Pure.

A change is read between two canonical forms (:mod:`sync_core.domain.fingerprint`): what was
last sent (or what QuickBooks holds) before, what the MIS says now after. The update built from
it carries only the fields that changed, and only fields the product maps: a sparse update
leaves everything else of the customer as finance has it (balance, terms, addresses, other
custom fields). Notes are shared: the product's ``Key: value`` lines are rewritten, every other
line (finance's own notes) is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sync_core.domain import sanitize
from sync_core.domain.fingerprint import CONTACT_FIELDS, MAPPED_FIELDS, custom_field_definitions
from sync_core.domain.mapping import NOTES, SEED_FIELDS, MappedCustomer

# the earlier integration's applicant line: replaced by the product's identity lines
_EARLIER_NOTES = re.compile(r"^\s*Applicant synchronized from MIS - Tracking ID:", re.IGNORECASE)
_OUR_LINE = re.compile(r"^(?P<key>[A-Za-z]+): ")


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str  # "" when the field was absent
    after: str  # "" when the field is to be cleared

    @property
    def kind(self) -> str:
        if not self.before:
            return "added"
        if not self.after:
            return "removed"
        return "changed"

    def describe(self) -> str:
        return f"{self.field}: {self.before or '(none)'} -> {self.after or '(none)'}"


def order_of(names: Iterable[str]) -> list[str]:
    """Fields in the order an operator reads them: names, contact, then the seed's fields."""
    wanted = set(names)
    known = [k for k in MAPPED_FIELDS if k in wanted]
    return known + sorted(wanted - set(known))


def diff(before: Mapping[str, str], after: Mapping[str, str]) -> list[FieldChange]:
    """Every field whose value differs, before -> after, in reading order."""
    names = {k for k in (*before, *after) if (before.get(k) or "") != (after.get(k) or "")}
    return [FieldChange(k, before.get(k) or "", after.get(k) or "") for k in order_of(names)]


def is_ours(line: str) -> bool:
    """A Notes line the product (or the earlier integration) wrote, not finance."""
    match = _OUR_LINE.match(line)
    return bool(match and match["key"] in SEED_FIELDS) or bool(_EARLIER_NOTES.match(line))


def merged_notes(ours: str, current: str | None) -> str:
    """The product's lines, then every line finance wrote (kept as they were)."""
    kept = [line for line in (current or "").splitlines() if not is_ours(line)]
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join([ours, *kept]) if kept and ours else (ours or "\n".join(kept))


@dataclass(frozen=True)
class SparseUpdate:
    body: dict[str, Any]  # the fields to send (without Id, SyncToken and "sparse")
    problem: str | None = None  # why it cannot be sent (the Notes would lose finance's text)


def sparse_update(
    mapped: MappedCustomer,
    current: Mapping[str, Any],
    fields: Collection[str],
    display_name: str | None = None,
) -> SparseUpdate:
    """The sparse body that brings ``fields`` of ``current`` to what ``mapped`` says.

    ``display_name`` is the name to send when DisplayName changes (the real name, or its
    distinct form when the real one is taken: the caller decides, :mod:`sync_core.sync.names`'
    rules). A field the MIS no longer has is cleared ("" / an empty address). Notes are sent
    whole (QuickBooks has no partial Notes): the product's lines as mapped, then finance's
    own lines as they are."""
    payload = mapped.payload
    body: dict[str, Any] = {}
    if "DisplayName" in fields and display_name:
        body["DisplayName"] = display_name
    for key in ("GivenName", "MiddleName", "FamilyName"):
        if key in fields:
            body[key] = payload.get(key, "")
    inner = {"PrimaryPhone": "FreeFormNumber", "PrimaryEmailAddr": "Address"}
    for key in CONTACT_FIELDS:
        if key in fields:
            value = payload.get(key)
            sent = value.get(inner[key], "") if isinstance(value, Mapping) else ""
            body[key] = {inner[key]: sent}
    definitions = custom_field_definitions(mapped.placement)
    seed = [f for f in fields if f in SEED_FIELDS]
    if any(NOTES in mapped.placement.get(f, NOTES) for f in seed):
        notes = merged_notes(str(payload.get("Notes") or ""), current.get("Notes"))
        if len(notes) > sanitize.NOTES_MAX:
            return SparseUpdate(
                {},
                f"the Notes would be {len(notes):,} characters with the text finance added "
                f"(QuickBooks keeps {sanitize.NOTES_MAX:,}): not updated",
            )
        body["Notes"] = notes
    custom = [
        {"DefinitionId": definitions[f], "StringValue": mapped.fields.get(f, "")}
        for f in seed
        if f in definitions
    ]
    if custom:
        body["CustomField"] = custom
    return SparseUpdate(body)
