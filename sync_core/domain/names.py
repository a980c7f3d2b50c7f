"""The DisplayName a record is sent under, and every name it may hold in QuickBooks. Pure.

QuickBooks requires a DisplayName unique across customers, vendors and employees (compared
without regard to case). A record whose real name is taken by someone else is sent as
"John Doe (APP 1234)": the real name first, then the record's reference.
"""

from __future__ import annotations

from dataclasses import replace

from sync_core.domain import sanitize
from sync_core.domain.mapping import MappedCustomer


def name_key(name: str) -> str:
    """How QuickBooks compares names: without regard to case."""
    return name.casefold()


def distinct_display_name(real_name: str, reference: str) -> str:
    """ "John Doe (APP 1234)": the real name first, then the record's reference, within 500."""
    suffix = f" ({reference})"
    return sanitize.shorten(real_name, sanitize.DISPLAY_NAME_MAX - len(suffix)) + suffix


def with_distinct_name(mapped: MappedCustomer) -> MappedCustomer:
    """The same customer under a name no namesake or applicant/student twin can hold."""
    if mapped.renamed_from is not None:
        return mapped
    real = mapped.display_name
    payload = dict(mapped.payload, DisplayName=distinct_display_name(real, mapped.reference))
    return replace(mapped, payload=payload, renamed_from=real)


def candidate_display_names(mapped: MappedCustomer) -> list[str]:
    """Every name this record may hold in QuickBooks: as sent first, or made distinct."""
    real = mapped.renamed_from or mapped.display_name
    return list(dict.fromkeys([real, distinct_display_name(real, mapped.reference)]))
