"""Load the readable names one page of records needs from the MIS lookup tables.

Set-based: one query per lookup table for a whole page, whatever its size. Resolving an id to
its name (and the fallbacks) is pure: :mod:`sync_core.domain.lookups`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.lookups import LOOKUPS, Lookups, integer_key
from sync_core.mis.schema import MisSchema


def load_lookups(
    conn: Connection, schema: MisSchema, wanted: Mapping[str, Iterable[Any]]
) -> Lookups:
    """The rows for the raw ids in ``wanted[lookup]``; a lookup table the MIS lacks resolves
    nothing (every id falls back to itself)."""
    names: dict[str, dict[int, str]] = {}
    for lookup, raw_ids in wanted.items():
        spec = LOOKUPS[lookup]
        table = schema.lookups.get(lookup)
        keys = {k for k in (integer_key(r) for r in raw_ids) if k is not None}
        if table is None or not keys:
            names[lookup] = {}
            continue
        key_column = table.c[spec.key]
        stmt = sa.select(*(c.label(c.key) for c in table.c)).where(key_column.in_(sorted(keys)))
        found: dict[int, str] = {}
        for row in conn.execute(stmt).mappings():
            key = integer_key(row[spec.key])
            if key is not None:
                found[key] = spec.readable(dict(row))
        names[lookup] = found
    return Lookups(names)
