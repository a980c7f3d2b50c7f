"""API keys (``qbsync_api_key``): who may call the REST API, and with which role.

A key reads ``qbs_<id>_<secret>``: the id finds its row at once, and only the SHA-256 of the
secret is stored, compared in constant time. The key itself is shown once, when it is created;
a lost key is revoked and replaced, never recovered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync_core.database import write_transaction
from sync_core.domain.clock import utcnow
from sync_core.store.tables import MYSQL_TABLE_ARGS, metadata

KEY_PREFIX = "qbs"
SECRET_BYTES = 32
# a key seen again within this is not written back as "last used" (one write per minute at most)
LAST_USED_EVERY = dt.timedelta(seconds=60)
_KEY_FORMAT = re.compile(r"^qbs_([0-9]{1,12})_([A-Za-z0-9_-]{20,100})$")

api_keys = sa.Table(
    "qbsync_api_key",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(200)),
    sa.Column("last_used_at", sa.DateTime),
    sa.Column("revoked_at", sa.DateTime),
    sa.Index("ix_qbsync_api_key_name", "name"),
    **MYSQL_TABLE_ARGS,
)


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as anyone may see it: never the key, never its hash."""

    id: int
    name: str
    role: str
    created_at: dt.datetime
    created_by: str | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
            "active": self.active,
        }


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _info(row: sa.RowMapping) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=int(row["id"]),
        name=row["name"],
        role=row["role"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def parse_key(key: str) -> tuple[int, str] | None:
    """``qbs_<id>_<secret>`` -> (id, secret); None for anything else."""
    found = _KEY_FORMAT.match(key.strip())
    if found is None:
        return None
    return int(found.group(1)), found.group(2)


class NameTaken(Exception):
    """An active key already has this name."""


class ApiKeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, name: str, role: str, created_by: str | None) -> tuple[ApiKeyInfo, str]:
        """A new key; answers its description and the key itself (to be shown once).

        Raises NameTaken when an active key has the name already (names identify keys in runs
        and in ``revoke``)."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        now = utcnow()
        with write_transaction(self.engine) as conn:
            taken = conn.execute(
                sa.select(api_keys.c.id).where(
                    api_keys.c.name == name, api_keys.c.revoked_at.is_(None)
                )
            ).first()
            if taken is not None:
                raise NameTaken(name)
            result = conn.execute(
                api_keys.insert().values(
                    name=name,
                    role=role,
                    secret_sha256=_digest(secret),
                    created_at=now,
                    created_by=created_by,
                )
            )
            key_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().one()
        return _info(row), f"{KEY_PREFIX}_{key_id}_{secret}"

    def verify(self, key: str, now: dt.datetime | None = None) -> ApiKeyInfo | None:
        """The active key ``key`` is, or None (unknown, malformed, wrong secret, revoked)."""
        parsed = parse_key(key)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
            )
        if row is None:
            _digest(secret)  # the same work whether or not the id exists
            return None
        if not hmac.compare_digest(_digest(secret), row["secret_sha256"]):
            return None
        if row["revoked_at"] is not None:
            return None
        now = now or utcnow()
        last = row["last_used_at"]
        if last is None or now - last >= LAST_USED_EVERY:
            with self.engine.begin() as conn:
                conn.execute(
                    api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=now)
                )
        return _info(row)

    def revoke(self, name: str | None = None, key_id: int | None = None) -> list[ApiKeyInfo]:
        """Revoke the active key of that name (or id); answers the keys revoked."""
        where: list[sa.ColumnElement[bool]] = [api_keys.c.revoked_at.is_(None)]
        if key_id is not None:
            where.append(api_keys.c.id == key_id)
        if name is not None:
            where.append(api_keys.c.name == name)
        with write_transaction(self.engine) as conn:
            ids = [int(i) for i in conn.execute(sa.select(api_keys.c.id).where(*where)).scalars()]
            if ids:
                conn.execute(
                    api_keys.update().where(api_keys.c.id.in_(ids)).values(revoked_at=utcnow())
                )
            rows = conn.execute(sa.select(api_keys).where(api_keys.c.id.in_(ids))).mappings()
            return [_info(r) for r in rows]

    def keys(self, include_revoked: bool = True) -> list[ApiKeyInfo]:
        stmt = sa.select(api_keys).order_by(api_keys.c.id)
        if not include_revoked:
            stmt = stmt.where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [_info(r) for r in conn.execute(stmt).mappings()]
