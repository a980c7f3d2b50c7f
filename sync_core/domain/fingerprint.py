"""The canonical form of a customer as the product maps it, and its fingerprint. Pure.

Only the fields the product maps take part: DisplayName (compared on its real name: a record
sent as "John Doe (APP 12)" because the name was taken still holds "John Doe"), GivenName,
MiddleName, FamilyName, the phone and e-mail address, and the seed's fields (CustomerType,
ApplicationID, Campus, ...) where the product writes them: its ``Key: value`` lines in Notes,
or the custom fields it is configured to write. Balances, terms, addresses, the text finance
added to Notes, other custom fields: none of them is part of it, so none of them can make a
record look changed, and none of them is ever sent.

The same form is made of a mapped record (what the MIS says now) and of a QuickBooks customer
(what was sent, or what QuickBooks holds): two of them are equal exactly when an update would
have nothing to send.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sync_core.domain.identity import parse_notes
from sync_core.domain.mapping import IDENTITY_FIELDS, SEED_FIELDS, MappedCustomer

NAME_FIELDS = ("DisplayName", "GivenName", "MiddleName", "FamilyName")
CONTACT_FIELDS = ("PrimaryPhone", "PrimaryEmailAddr")
MAPPED_FIELDS = (*NAME_FIELDS, *CONTACT_FIELDS, *SEED_FIELDS)  # the canonical order

Canonical = dict[str, str]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _inner(value: Any, key: str) -> str:
    return _text(value.get(key)) if isinstance(value, Mapping) else ""


def real_name(display_name: str, reference: str) -> str:
    """The name without the " (APP 1234)" a clash made the product add."""
    name = _text(display_name)
    suffix = f" ({reference})"
    if reference and len(name) > len(suffix) and name.casefold().endswith(suffix.casefold()):
        return name[: -len(suffix)].rstrip()
    return name


def custom_field_definitions(placement: Mapping[str, str]) -> dict[str, str]:
    """seed field -> DefinitionId, for the fields a mapping writes as custom fields."""
    found: dict[str, str] = {}
    for name, place in placement.items():
        for part in place.split(" + "):
            if part.startswith("CustomField "):
                found[name] = part.removeprefix("CustomField ").strip()
    return found


def _ordered(values: Mapping[str, str]) -> Canonical:
    known = [k for k in MAPPED_FIELDS if values.get(k)]
    others = sorted(k for k in values if k not in MAPPED_FIELDS and values[k])
    return {k: values[k] for k in (*known, *others)}


def canonical_of_mapped(mapped: MappedCustomer) -> Canonical:
    """What the MIS says now, in canonical form."""
    payload = mapped.payload
    values = {
        "DisplayName": _text(mapped.renamed_from or mapped.display_name),
        "GivenName": _text(payload.get("GivenName")),
        "MiddleName": _text(payload.get("MiddleName")),
        "FamilyName": _text(payload.get("FamilyName")),
        "PrimaryPhone": _inner(payload.get("PrimaryPhone"), "FreeFormNumber"),
        "PrimaryEmailAddr": _inner(payload.get("PrimaryEmailAddr"), "Address"),
    }
    values.update({name: _text(value) for name, value in mapped.fields.items()})
    return _ordered(values)


def canonical_of_customer(
    customer: Mapping[str, Any],
    *,
    reference: str,
    definitions: Mapping[str, str],
    field_names: Iterable[str] = SEED_FIELDS,
) -> Canonical:
    """What a QuickBooks customer holds of the mapped fields, in canonical form.

    ``reference`` is the record's ("APP 1234"), to see through a distinct name;
    ``definitions`` are the custom field DefinitionIds the product writes (seed field ->
    DefinitionId). The seed's fields are read from the product's Notes lines (all of them: a
    line the record no longer maps shows as one to remove), and those written only as custom
    fields from the custom field of their DefinitionId (``field_names``: the record's)."""
    values = {
        "DisplayName": real_name(_text(customer.get("DisplayName")), reference),
        "GivenName": _text(customer.get("GivenName")),
        "MiddleName": _text(customer.get("MiddleName")),
        "FamilyName": _text(customer.get("FamilyName")),
        "PrimaryPhone": _inner(customer.get("PrimaryPhone"), "FreeFormNumber"),
        "PrimaryEmailAddr": _inner(customer.get("PrimaryEmailAddr"), "Address"),
    }
    values.update(parse_notes(customer.get("Notes")))
    custom_only = {
        name: str(definition)
        for name, definition in definitions.items()
        if name not in IDENTITY_FIELDS and name in set(field_names)
    }
    if custom_only:
        by_definition = {
            str(entry.get("DefinitionId")): _text(entry.get("StringValue"))
            for entry in customer.get("CustomField") or []
            if isinstance(entry, Mapping)
        }
        for name, definition in custom_only.items():
            values[name] = by_definition.get(definition, "")
    return _ordered({k: _text(v) for k, v in values.items()})


def canonical_like(customer: Mapping[str, Any], mapped: MappedCustomer) -> Canonical:
    """A customer's canonical form as seen from the record it stands for."""
    return canonical_of_customer(
        customer,
        reference=mapped.reference,
        definitions=custom_field_definitions(mapped.placement),
        field_names=mapped.fields,
    )


def fingerprint(canonical: Mapping[str, str]) -> str:
    """64 hex characters; equal exactly when the canonical forms are."""
    text = json.dumps(
        sorted((k, v) for k, v in canonical.items() if v), ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
