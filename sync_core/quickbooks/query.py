"""Building QuickBooks query statements safely (string literals escaped, never concatenated raw)."""

from __future__ import annotations

from collections.abc import Iterable

MAX_RESULTS = 1000  # QuickBooks answers at most 1,000 rows per query


def quote(value: str) -> str:
    """A QuickBooks string literal: backslashes and apostrophes escaped with a backslash."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def display_name_in(names: Iterable[str]) -> str:
    names = list(dict.fromkeys(names))
    if not names:
        raise ValueError("at least one name is needed")
    if len(names) == 1:
        return f"DisplayName = {quote(names[0])}"
    return f"DisplayName IN ({', '.join(quote(n) for n in names)})"


def id_in(ids: Iterable[str]) -> str:
    ids = list(dict.fromkeys(str(i) for i in ids))
    if not ids:
        raise ValueError("at least one id is needed")
    return f"Id IN ({', '.join(quote(i) for i in ids)})"


def select_customers(where: str | None = None, start: int = 1, max_results: int = 100) -> str:
    if not 1 <= max_results <= MAX_RESULTS:
        raise ValueError(f"max_results must be 1..{MAX_RESULTS}")
    statement = "SELECT * FROM Customer"
    if where:
        statement += f" WHERE {where}"
    return f"{statement} STARTPOSITION {start} MAXRESULTS {max_results}"


def count_customers(where: str | None = None) -> str:
    statement = "SELECT COUNT(*) FROM Customer"
    return f"{statement} WHERE {where}" if where else statement
