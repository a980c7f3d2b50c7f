"""QuickBooks query language: parser and translation into parameterised SQL.

Grammar (keywords case-insensitive):
    SELECT * | COUNT(*) | field[, field...] FROM Entity
    [WHERE cond [AND cond]...] [ORDERBY|ORDER BY field [ASC|DESC][, ...]]
    [STARTPOSITION n] [MAXRESULTS m]
    cond: field (= | != | < | > | <= | >=) literal | field IN (literal, ...) | field LIKE 'pat'
QBO has no OR, no parentheses around conditions and no NOT: those are parse errors here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import COMPANY_TZ, ApiError, query_error

DEFAULT_MAX_RESULTS = 100

_TOKEN = re.compile(
    r"""
    (?P<str>'(?:\\.|[^'\\])*')
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),*])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE,
)
_ESCAPABLE = {"'", "\\", '"'}


@dataclass(frozen=True)
class Token:
    kind: str  # str | num | op | punct | ident
    text: str
    value: Any


@dataclass
class Condition:
    field: str
    op: str  # = != < > <= >= IN LIKE
    value: Any  # a Python literal, or a list of them for IN


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] | None = None  # None = SELECT *
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start_position: int = 1
    max_results: int | None = None


def _unescape(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in _ESCAPABLE:
            out.append(body[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos] == "'":
                raise query_error(f"Unterminated string literal at position {pos + 1}")
            raise query_error(f'Encountered " "{text[pos]}" " at line 1, column {pos + 1}.')
        kind = m.lastgroup or ""
        raw = m.group(0)
        if kind == "str":
            value: Any = _unescape(raw[1:-1])
        elif kind == "num":
            value = float(raw) if "." in raw else int(raw)
        elif kind == "op":
            value = "!=" if raw == "<>" else raw
        else:
            value = raw
        tokens.append(Token(kind, raw, value))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, what: str) -> Token:
        tok = self.peek()
        if tok is None:
            raise query_error(f"Encountered end of statement. Was expecting {what}.")
        self.i += 1
        return tok

    def is_kw(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "ident" and tok.text.upper() in words

    def kw(self, word: str) -> None:
        tok = self.next(word)
        if tok.kind != "ident" or tok.text.upper() != word:
            raise query_error(f'Encountered " "{tok.text}" ". Was expecting {word}.')

    def punct(self, ch: str) -> None:
        tok = self.next(f'"{ch}"')
        if tok.kind != "punct" or tok.text != ch:
            raise query_error(f'Encountered " "{tok.text}" ". Was expecting "{ch}".')

    def ident(self, what: str) -> str:
        tok = self.next(what)
        if tok.kind != "ident":
            raise query_error(f'Encountered " "{tok.text}" ". Was expecting {what}.')
        return tok.text

    def integer(self, what: str) -> int:
        tok = self.next(what)
        if tok.kind != "num" or not isinstance(tok.value, int):
            raise query_error(f'Encountered " "{tok.text}" ". Was expecting an integer {what}.')
        return tok.value

    def literal(self) -> Any:
        tok = self.next("a value")
        if tok.kind in ("str", "num"):
            return tok.value
        if tok.kind == "ident" and tok.text.lower() in ("true", "false"):
            return tok.text.lower() == "true"
        raise query_error(f'Encountered " "{tok.text}" ". Was expecting a value.')

    def parse(self) -> Query:
        self.kw("SELECT")
        count = False
        fields: list[str] | None = None
        if self.is_kw("COUNT"):
            self.i += 1
            self.punct("(")
            self.punct("*")
            self.punct(")")
            count = True
        elif (tok := self.peek()) is not None and tok.kind == "punct" and tok.text == "*":
            self.i += 1
        else:
            fields = [self.ident("a property name")]
            while (tok := self.peek()) is not None and tok.text == ",":
                self.i += 1
                fields.append(self.ident("a property name"))
        self.kw("FROM")
        query = Query(entity=self.ident("an entity name"), count=count, fields=fields)
        if self.is_kw("WHERE"):
            self.i += 1
            query.conditions.append(self.condition())
            while self.is_kw("AND"):
                self.i += 1
                query.conditions.append(self.condition())
            if self.is_kw("OR"):
                raise query_error('Encountered " "OR" ". OR is not supported in QBO queries.')
        if self.is_kw("ORDERBY", "ORDER"):
            if self.next("ORDERBY").text.upper() == "ORDER":
                self.kw("BY")
            query.order.append(self.order_item())
            while (tok := self.peek()) is not None and tok.text == ",":
                self.i += 1
                query.order.append(self.order_item())
        seen: set[str] = set()
        while self.is_kw("STARTPOSITION", "MAXRESULTS"):
            word = self.next("").text.upper()
            if word in seen:
                raise query_error(f'Encountered " "{word}" " twice.')
            seen.add(word)
            if word == "STARTPOSITION":
                query.start_position = self.integer("STARTPOSITION")
            else:
                query.max_results = self.integer("MAXRESULTS")
        if (tok := self.peek()) is not None:
            raise query_error(f'Encountered " "{tok.text}" ". Was expecting end of statement.')
        return query

    def condition(self) -> Condition:
        name = self.ident("a property name")
        if self.is_kw("IN"):
            self.i += 1
            self.punct("(")
            values = [self.literal()]
            while (tok := self.peek()) is not None and tok.text == ",":
                self.i += 1
                values.append(self.literal())
            self.punct(")")
            return Condition(name, "IN", values)
        if self.is_kw("LIKE"):
            self.i += 1
            tok = self.next("a string pattern")
            if tok.kind != "str":
                raise query_error(f'Encountered " "{tok.text}" ". LIKE needs a quoted pattern.')
            return Condition(name, "LIKE", tok.value)
        tok = self.next("an operator")
        if tok.kind != "op":
            raise query_error(f'Encountered " "{tok.text}" ". Was expecting an operator.')
        return Condition(name, tok.value, self.literal())

    def order_item(self) -> tuple[str, bool]:
        name = self.ident("a property name")
        desc = False
        if self.is_kw("ASC", "DESC"):
            desc = self.next("").text.upper() == "DESC"
        return name, desc


def parse(text: str) -> Query:
    if not text or not text.strip():
        raise query_error("Empty query.")
    return _Parser(text).parse()


# -- translation to SQL over the customers table ---------------------------------------------

# property (lower-case) -> (column, kind); only these are filterable and sortable.
CUSTOMER_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("id", "id"),
    "displayname": ("dn_key", "str"),
    "fullyqualifiedname": ("dn_key", "str"),
    "givenname": ("given_key", "str"),
    "middlename": ("middle_key", "str"),
    "familyname": ("family_key", "str"),
    "companyname": ("company_key", "str"),
    "primaryemailaddr": ("email_key", "str"),
    "primaryemailaddr.address": ("email_key", "str"),
    "active": ("active", "bool"),
    "metadata.createtime": ("create_ts", "time"),
    "metadata.lastupdatedtime": ("updated_ts", "time"),
}


def _column(name: str) -> tuple[str, str]:
    found = CUSTOMER_COLUMNS.get(name.lower())
    if found is None:
        raise query_error(f"property '{name}' is not queryable")
    return found


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise query_error(f"'{value}' is not a boolean value")


def _as_id(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _as_ts(value: Any) -> float:
    if not isinstance(value, str):
        raise query_error(f"'{value}' is not a date-time value")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise query_error(f"'{value}' is not a date-time value") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=COMPANY_TZ)
    return moment.timestamp()


def _like_pattern(value: str) -> str:
    """QBO's LIKE knows only % as wildcard: escape SQLite's _ and the escape character."""
    escaped = value.replace("\\", "\\\\").replace("_", "\\_")
    return escaped.casefold()


def _condition_sql(cond: Condition) -> tuple[str, list[Any]]:
    column, kind = _column(cond.field)
    op = cond.op
    if op == "LIKE":
        if kind != "str":
            raise query_error(f"LIKE is not supported on property '{cond.field}'")
        return f"{column} LIKE ? ESCAPE '\\'", [_like_pattern(str(cond.value))]
    values = cond.value if op == "IN" else [cond.value]
    params: list[Any] = []
    for value in values:
        if kind == "str":
            params.append(str(value).casefold())
        elif kind == "bool":
            if op not in ("=", "!=", "IN"):
                raise query_error(f"operator {op} is not supported on property '{cond.field}'")
            params.append(1 if _as_bool(value) else 0)
        elif kind == "id":
            as_id = _as_id(value)
            params.append(as_id if as_id is not None else -1)
        else:
            if op == "IN":
                raise query_error(f"IN is not supported on property '{cond.field}'")
            params.append(_as_ts(value))
    if op == "IN":
        return f"{column} IN ({', '.join('?' for _ in params)})", params
    return f"{column} {op} ?", params


@dataclass
class SqlPlan:
    where: str
    params: list[Any]
    order_by: str
    offset: int
    limit: int
    by_name: bool = False  # a DisplayName = / IN condition: look it up through its index


def customer_sql(query: Query, max_allowed: int) -> SqlPlan:
    clauses: list[str] = []
    params: list[Any] = []
    filters_active = False
    for cond in query.conditions:
        sql, values = _condition_sql(cond)
        is_active = _column(cond.field)[1] == "bool"
        filters_active = filters_active or is_active
        if is_active and cond.op == "IN" and set(values) == {0, 1}:
            # `Active IN (true, false)` keeps every row: leaving it out lets paging walk an
            # index instead of reading each row to test it.
            continue
        clauses.append(sql)
        params.extend(values)
    if not filters_active:
        # QBO hides inactive name-list entities unless the query mentions Active.
        clauses.append("active = 1")
    order_terms: list[str] = []
    for name, desc in query.order:
        column, _ = _column(name)
        order_terms.append(f"{column} {'DESC' if desc else 'ASC'}")
    order_terms.append("id ASC")
    if query.start_position < 1:
        raise query_error("STARTPOSITION must be 1 or more", code="4001")
    limit = DEFAULT_MAX_RESULTS if query.max_results is None else query.max_results
    if limit < 1 or limit > max_allowed:
        raise query_error(f"MAXRESULTS must be between 1 and {max_allowed}", code="4001")
    by_name = any(_column(c.field)[0] == "dn_key" and c.op in ("=", "IN") for c in query.conditions)
    return SqlPlan(
        by_name=by_name,
        where=" AND ".join(clauses) or "1",
        params=params,
        order_by=", ".join(order_terms),
        offset=query.start_position - 1,
        limit=limit,
    )


def project(record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if fields is None:
        return record
    wanted = {f.split(".", 1)[0].lower() for f in fields} | {"id", "synctoken", "domain"}
    projected = {k: v for k, v in record.items() if k.lower() in wanted}
    projected["sparse"] = True
    return projected


def check_entity(query: Query, supported: tuple[str, ...]) -> str:
    for entity in supported:
        if query.entity.lower() == entity.lower():
            return entity
    raise ApiError(
        400,
        "4001",
        "Invalid query",
        f"QueryValidationError: the simulator does not support entity '{query.entity}'",
    )
