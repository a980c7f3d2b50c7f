"""SQLite persistence: customers, OAuth grants and the requestid answer cache."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    realm TEXT NOT NULL,
    id INTEGER NOT NULL,
    sync_token INTEGER NOT NULL,
    active INTEGER NOT NULL,
    dn_key TEXT NOT NULL,
    given_key TEXT,
    middle_key TEXT,
    family_key TEXT,
    company_key TEXT,
    email_key TEXT,
    create_ts REAL NOT NULL,
    updated_ts REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (realm, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS customers_dn ON customers (realm, dn_key);
-- Paging and counting the active customers (what a query sees unless it names Active) walk
-- this index instead of every row.
CREATE INDEX IF NOT EXISTS customers_active ON customers (realm, active, id);
CREATE TABLE IF NOT EXISTS sequences (realm TEXT PRIMARY KEY, next_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS replays (
    realm TEXT NOT NULL,
    requestid TEXT NOT NULL,
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    created_ts REAL NOT NULL,
    PRIMARY KEY (realm, requestid)
);
CREATE TABLE IF NOT EXISTS auth_codes (
    code_hash TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    expires_at REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS token_families (
    family TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_ts REAL NOT NULL,
    hard_expires_at REAL
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    current INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS access_tokens (
    token_hash TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class RefreshTokenInfo:
    family: str
    realm: str
    expires_at: float
    current: bool  # the newest of its family (rotation leaves only that one usable)
    revoked: bool  # the whole grant was revoked
    family_created: float
    hard_expires_at: float | None  # None: a grant stored before the hard limit was recorded
    issued_at: float = 0.0


def name_key(value: str | None) -> str | None:
    """The case-insensitive form of a name, as stored in the indexed *_key columns."""
    return None if value is None else value.strip().casefold()


@lru_cache(maxsize=4096)
def iso_timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# One encoder for every body: json.dumps with options would build a new one per customer.
# Bodies are plain trees built from JSON, so the circular-reference check is wasted work.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


class Store:
    """One SQLite connection shared by all handler threads behind a re-entrant lock.

    Callers that need several statements to be atomic (check-then-write, a whole batch) hold
    `store.lock` and use `transaction()`.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.lock = threading.RLock()
        target = str(self.path) if self.path is not None else ":memory:"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        if self.path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._migrate()
        self._depth = 0

    def _migrate(self) -> None:
        """Brings a store file written by an older simulator up to the current schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(token_families)")}
        if "hard_expires_at" not in columns:
            self._db.execute("ALTER TABLE token_families ADD COLUMN hard_expires_at REAL")

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        with self.lock:
            return self._db.execute(sql, params).fetchone()

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with self.lock:
            self._db.execute(sql, params)

    # -- customers -------------------------------------------------------------------------

    def raise_next_customer_id(self, realm: str, at_least: int) -> None:
        """Makes the next created Id at least `at_least` (never lowers it)."""
        self._exec(
            "INSERT INTO sequences (realm, next_id) VALUES (?, ?) "
            "ON CONFLICT(realm) DO UPDATE SET next_id = MAX(next_id, excluded.next_id)",
            (realm, at_least),
        )

    def peek_next_customer_id(self, realm: str) -> int:
        """The Id the next create would get, without taking it."""
        row = self._one(
            "SELECT MAX(COALESCE((SELECT next_id FROM sequences WHERE realm = ?), 1), "
            "COALESCE((SELECT MAX(id) FROM customers WHERE realm = ?), 0) + 1)",
            (realm, realm),
        )
        return int(row[0]) if row else 1

    def customer_names(self, realm: str) -> dict[str, int]:
        """dn_key -> Id of every customer of the realm (for bulk uniqueness checks)."""
        with self.lock:
            rows = self._db.execute(
                "SELECT dn_key, id FROM customers WHERE realm = ?", (realm,)
            ).fetchall()
        return dict(rows)

    def customer_ids(self, realm: str, ids: list[int]) -> set[int]:
        """Which of `ids` the realm already has."""
        found: set[int] = set()
        with self.lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                rows = self._db.execute(
                    f"SELECT id FROM customers WHERE realm = ? AND id IN ({marks})",
                    (realm, *chunk),
                ).fetchall()
                found.update(r[0] for r in rows)
        return found

    def next_customer_id(self, realm: str) -> int:
        with self.transaction():
            next_id = self.peek_next_customer_id(realm)
            self._exec(
                "INSERT INTO sequences (realm, next_id) VALUES (?, ?) "
                "ON CONFLICT(realm) DO UPDATE SET next_id = excluded.next_id",
                (realm, next_id + 1),
            )
            return next_id

    def customer_id_by_name(self, realm: str, display_name: str) -> int | None:
        row = self._one(
            "SELECT id FROM customers WHERE realm = ? AND dn_key = ?",
            (realm, name_key(display_name)),
        )
        return row[0] if row else None

    def get_customer(self, realm: str, customer_id: int) -> dict[str, Any] | None:
        row = self._one(
            "SELECT body FROM customers WHERE realm = ? AND id = ?", (realm, customer_id)
        )
        return json.loads(row[0]) if row else None

    @staticmethod
    def _columns(customer: dict[str, Any]) -> tuple[Any, ...]:
        email = customer.get("PrimaryEmailAddr") or {}
        meta = customer["MetaData"]
        return (
            int(customer["SyncToken"]),
            1 if customer.get("Active", True) else 0,
            name_key(customer["DisplayName"]),
            name_key(customer.get("GivenName")),
            name_key(customer.get("MiddleName")),
            name_key(customer.get("FamilyName")),
            name_key(customer.get("CompanyName")),
            name_key(email.get("Address")),
            iso_timestamp(meta["CreateTime"]),
            iso_timestamp(meta["LastUpdatedTime"]),
            _ENCODE(customer),
        )

    def insert_customer(self, realm: str, customer: dict[str, Any]) -> None:
        self.insert_customers(realm, [customer])

    def insert_customers(self, realm: str, customers: list[dict[str, Any]]) -> None:
        rows = [(realm, int(c["Id"]), *self._columns(c)) for c in customers]
        with self.lock:
            self._db.executemany(
                "INSERT INTO customers (realm, id, sync_token, active, dn_key, given_key, "
                "middle_key, family_key, company_key, email_key, create_ts, updated_ts, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def update_customer(self, realm: str, customer: dict[str, Any]) -> None:
        self._exec(
            "UPDATE customers SET sync_token = ?, active = ?, dn_key = ?, given_key = ?, "
            "middle_key = ?, family_key = ?, company_key = ?, email_key = ?, create_ts = ?, "
            "updated_ts = ?, body = ? WHERE realm = ? AND id = ?",
            (*self._columns(customer), realm, int(customer["Id"])),
        )

    def select_customers(
        self,
        realm: str,
        where: str,
        params: list[Any],
        order_by: str,
        limit: int,
        offset: int,
        by_name: bool = False,
    ) -> list[dict[str, Any]]:
        """`where` and `order_by` come from query.py's whitelist of columns, never from input.

        Without statistics SQLite prefers the primary key (it avoids a sort) even for
        `dn_key IN (...)`; `by_name` forces the name index, which is what keeps lookups by
        DisplayName fast with hundreds of thousands of customers.
        """
        index = "INDEXED BY customers_dn " if by_name else ""
        sql = f"SELECT body FROM customers {index}WHERE realm = ? AND ({where}) "
        sql += f"ORDER BY {order_by} LIMIT ? OFFSET ?"
        with self.lock:
            rows = self._db.execute(sql, (realm, *params, limit, offset)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count_customers(self, realm: str, where: str = "1", params: list[Any] | None = None) -> int:
        sql = f"SELECT COUNT(*) FROM customers WHERE realm = ? AND ({where})"
        row = self._one(sql, (realm, *(params or [])))
        return int(row[0]) if row else 0

    def all_customers(self, realm: str, limit: int | None = None) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT body FROM customers WHERE realm = ? ORDER BY id LIMIT ?",
                (realm, -1 if limit is None else limit),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    # -- requestid answer cache ------------------------------------------------------------

    def get_replay(self, realm: str, requestid: str) -> tuple[int, bytes] | None:
        row = self._one(
            "SELECT status, body FROM replays WHERE realm = ? AND requestid = ?",
            (realm, requestid),
        )
        return (int(row[0]), bytes(row[1])) if row else None

    def save_replay(self, realm: str, requestid: str, status: int, body: bytes, now: float) -> None:
        self._exec(
            "INSERT OR REPLACE INTO replays (realm, requestid, status, body, created_ts) "
            "VALUES (?, ?, ?, ?, ?)",
            (realm, requestid, status, body, now),
        )

    # -- OAuth -------------------------------------------------------------------------------

    def save_code(
        self, code_hash: str, realm: str, redirect_uri: str, scope: str, expires_at: float
    ) -> None:
        self._exec(
            "INSERT INTO auth_codes (code_hash, realm, redirect_uri, scope, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (code_hash, realm, redirect_uri, scope, expires_at),
        )

    def take_code(self, code_hash: str) -> tuple[str, str, float, bool] | None:
        """Marks the code used and returns (realm, redirect_uri, expires_at, was_already_used)."""
        with self.transaction():
            row = self._one(
                "SELECT realm, redirect_uri, expires_at, used FROM auth_codes WHERE code_hash = ?",
                (code_hash,),
            )
            if row is None:
                return None
            self._exec("UPDATE auth_codes SET used = 1 WHERE code_hash = ?", (code_hash,))
            return row[0], row[1], float(row[2]), bool(row[3])

    def create_family(
        self, family: str, realm: str, now: float, hard_expires_at: float | None = None
    ) -> None:
        self._exec(
            "INSERT INTO token_families (family, realm, created_ts, hard_expires_at) "
            "VALUES (?, ?, ?, ?)",
            (family, realm, now, hard_expires_at),
        )

    def add_refresh_token(
        self, token_hash: str, family: str, issued_at: float, expires_at: float
    ) -> None:
        with self.transaction():
            self._exec("UPDATE refresh_tokens SET current = 0 WHERE family = ?", (family,))
            self._exec(
                "INSERT INTO refresh_tokens (token_hash, family, issued_at, expires_at, current) "
                "VALUES (?, ?, ?, ?, 1)",
                (token_hash, family, issued_at, expires_at),
            )

    def add_access_token(
        self, token_hash: str, family: str, issued_at: float, expires_at: float
    ) -> None:
        self._exec(
            "INSERT INTO access_tokens (token_hash, family, issued_at, expires_at) "
            "VALUES (?, ?, ?, ?)",
            (token_hash, family, issued_at, expires_at),
        )

    def refresh_token_info(self, token_hash: str) -> RefreshTokenInfo | None:
        row = self._one(
            "SELECT r.family, f.realm, r.expires_at, r.current, f.revoked, f.created_ts, "
            "f.hard_expires_at, r.issued_at FROM refresh_tokens r "
            "JOIN token_families f ON f.family = r.family WHERE r.token_hash = ?",
            (token_hash,),
        )
        if row is None:
            return None
        return RefreshTokenInfo(
            family=row[0],
            realm=row[1],
            expires_at=float(row[2]),
            current=bool(row[3]),
            revoked=bool(row[4]),
            family_created=float(row[5]),
            hard_expires_at=None if row[6] is None else float(row[6]),
            issued_at=float(row[7]),
        )

    def extend_refresh_token(self, token_hash: str, expires_at: float) -> None:
        """A refresh that answers the same refresh token rolls its expiry forward."""
        self._exec(
            "UPDATE refresh_tokens SET expires_at = ? WHERE token_hash = ?",
            (expires_at, token_hash),
        )

    def access_token_info(self, token_hash: str) -> tuple[str, str, float, float, bool] | None:
        """(family, realm, issued_at, expires_at, family_revoked) for an access token."""
        row = self._one(
            "SELECT a.family, f.realm, a.issued_at, a.expires_at, f.revoked FROM access_tokens a "
            "JOIN token_families f ON f.family = a.family WHERE a.token_hash = ?",
            (token_hash,),
        )
        if row is None:
            return None
        return row[0], row[1], float(row[2]), float(row[3]), bool(row[4])

    def revoke_family(self, family: str) -> None:
        self._exec("UPDATE token_families SET revoked = 1 WHERE family = ?", (family,))

    def revoke_realm(self, realm: str) -> int:
        """Revokes every grant of the realm; returns how many were still live."""
        with self.lock:
            cursor = self._db.execute(
                "UPDATE token_families SET revoked = 1 WHERE realm = ? AND revoked = 0", (realm,)
            )
            return cursor.rowcount

    # -- housekeeping ------------------------------------------------------------------------

    def reset_data(self) -> None:
        """Forget customers and cached answers; OAuth grants survive so clients stay connected."""
        with self.transaction():
            for table in ("customers", "sequences", "replays"):
                self._exec(f"DELETE FROM {table}")
