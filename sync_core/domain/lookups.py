"""Turn MIS lookup ids (campus, intake, programme, level, mode, country) into readable names.

The seed's fallback rule: the readable name; else the id as a string; else "" when the id is
missing. MIS id columns are strings pointing at INTEGER keys, so an id is normalised first:
``' 12'`` means 12, ``''`` and NULL mean missing, ``'abc'`` or an id without a row is "not found"
and falls back to the id itself with a warning. ``'0'`` is the MIS's "none chosen": it resolves
to a row 0 if one exists, else to "" like a missing id.

Resolving is pure; loading the names one page of records needs is the MIS layer's job
(:func:`sync_core.mis.lookups.load_lookups`, one query per lookup table whatever the page size).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync_core.domain.sanitize import clean_text


@dataclass(frozen=True)
class LookupSpec:
    name: str  # "campus"
    label: str  # how a warning names it
    table: str  # the MIS lookup table
    key: str
    columns: tuple[str, ...]
    readable: Callable[[Mapping[str, Any]], str]
    free_text: bool = False  # a non-numeric value is itself the readable value (countries)


def _first_text(*values: Any) -> str:
    for value in values:
        text = clean_text(value)
        if text:
            return text
    return ""


def _intake_name(row: Mapping[str, Any]) -> str:
    """E.g. "September 2025"; built from the month and the start date's year when present."""
    month = _first_text(row.get("intake_month"))
    start = row.get("intake_start")
    year = str(start.year) if isinstance(start, dt.datetime | dt.date) else ""
    if month and year:
        return f"{month} {year}"
    if isinstance(start, dt.datetime | dt.date):
        return start.strftime("%B %Y")
    if month:
        number = row.get("intake_no")
        return f"{month} (intake {number})" if number else month
    return ""


LOOKUPS: dict[str, LookupSpec] = {
    spec.name: spec
    for spec in (
        LookupSpec(
            "campus",
            "campus",
            "tbl_campus",
            "camp_id",
            ("camp_full_name", "camp_short_name"),
            lambda r: _first_text(r.get("camp_full_name"), r.get("camp_short_name")),
        ),
        LookupSpec(
            "intake",
            "intake",
            "tbl_intake",
            "intake_id",
            ("intake_month", "intake_no", "intake_start", "acad_cycle_id"),
            _intake_name,
        ),
        LookupSpec(
            "program",
            "programme",
            "tbl_specialization",
            "splz_id",
            ("splz_full_name", "splz_short_name"),
            lambda r: _first_text(r.get("splz_full_name"), r.get("splz_short_name")),
        ),
        LookupSpec(
            "level",
            "level",
            "tbl_level",
            "level_id",
            ("level_full_name", "level_short_name"),
            lambda r: _first_text(r.get("level_full_name"), r.get("level_short_name")),
        ),
        LookupSpec(
            "program_mode",
            "programme mode",
            "tbl_program_mode",
            "prg_mode_id",
            ("prg_mode_full_name", "prg_mode_short_name"),
            lambda r: _first_text(r.get("prg_mode_full_name"), r.get("prg_mode_short_name")),
        ),
        LookupSpec(
            "program_type",
            "programme type",
            "tbl_program_type",
            "prg_type_id",
            ("prg_type_full_name", "prg_type_short_name"),
            lambda r: _first_text(r.get("prg_type_full_name"), r.get("prg_type_short_name")),
            free_text=True,  # an older MIS keeps the type itself ("UG Day") in the column
        ),
        LookupSpec(
            "country",
            "country",
            "tbl_country",
            "cntr_id",
            ("cntr_name",),
            lambda r: _first_text(r.get("cntr_name")),
            free_text=True,
        ),
    )
}


def normalise_id(raw: Any) -> str:
    """The id as the operator should read it: stripped, "" when missing."""
    return clean_text(raw)


def integer_key(raw: Any) -> int | None:
    text = normalise_id(raw)
    if text.isdigit():
        return int(text)
    return None


@dataclass(frozen=True)
class Resolved:
    value: str
    warning: str | None = None


@dataclass(frozen=True)
class Lookups:
    """Readable names by lookup and integer key, for the ids one page of records needs."""

    names: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    # a page asks for the same few ids again and again: answer each (lookup, raw id) once
    _memo: dict[tuple[str, Any], Resolved] = field(default_factory=dict, compare=False, repr=False)

    def resolve(self, lookup: str, raw: Any) -> Resolved:
        key = (lookup, raw)
        resolved = self._memo.get(key)
        if resolved is None:
            resolved = self._memo[key] = self._resolve(lookup, raw)
        return resolved

    def _resolve(self, lookup: str, raw: Any) -> Resolved:
        spec = LOOKUPS[lookup]
        text = normalise_id(raw)
        if not text:
            return Resolved("")
        key = int(text) if text.isdigit() else None
        known = self.names.get(lookup, {})
        if key is not None and key in known:
            name = known[key]
            if name:
                return Resolved(name)
            return Resolved(text, f"{spec.label} {text!r} has no name in the MIS: sent as {text!r}")
        if key is None and spec.free_text:
            return Resolved(text)
        if key == 0:
            return Resolved("")
        return Resolved(text, f"{spec.label} id {text!r} not found in the MIS: sent as {text!r}")
