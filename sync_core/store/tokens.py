"""QuickBooks tokens at rest: one row per environment, tokens encrypted with Fernet.

Refresh tokens rotate and only the newest works, so losing one disconnects the company. A
refresh therefore happens inside :meth:`TokenStore.refresh_lock`: the row is locked (``SELECT
... FOR UPDATE`` on MariaDB, ``BEGIN IMMEDIATE`` on SQLite), re-read, and the new tokens are
written and committed before anyone uses the new access token. A second process refreshing at
the same moment waits for the lock, then finds the row already refreshed and uses that.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Connection, Engine

from sync_core.database import write_transaction
from sync_core.domain.clock import utcnow
from sync_core.domain.secret import Secret
from sync_core.quickbooks.ports import RefreshClaim, StoredConnection, TokenSet
from sync_core.settings import SettingsError
from sync_core.store.locks import HOST, process_alive
from sync_core.store.tables import oauth_connections, oauth_states


def _lease_alive(holder: str) -> bool:
    """A lease held by a process of this host that no longer runs (killed mid-refresh) is
    taken over at once rather than waited out."""
    host, _, pid = holder.rpartition(":")
    if host == HOST and pid.isdigit():
        return process_alive(int(pid))
    return True


class TokenKeyError(SettingsError):
    """QBO_TOKEN_KEY is malformed, or is not the key the stored tokens were encrypted with."""


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    def __init__(self, key: Secret | str) -> None:
        raw = key.reveal() if isinstance(key, Secret) else key
        if not raw:
            raise TokenKeyError(
                "QBO_TOKEN_KEY is not set: generate one with `python -m sync_core token-key`"
            )
        try:
            self._fernet = Fernet(raw.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise TokenKeyError(
                "QBO_TOKEN_KEY is not a valid key (32 url-safe base64-encoded bytes): "
                "generate one with `python -m sync_core token-key`"
            ) from None

    def encrypt(self, value: Secret) -> str:
        return self._fernet.encrypt(value.reveal().encode("utf-8")).decode("ascii")

    def decrypt(self, value: str) -> Secret:
        try:
            return Secret(self._fernet.decrypt(value.encode("ascii")).decode("utf-8"))
        except InvalidToken:
            raise TokenKeyError(
                "The stored QuickBooks tokens cannot be decrypted with this QBO_TOKEN_KEY: "
                "set the key they were saved with, or disconnect and connect again"
            ) from None


class TokenStore:
    def __init__(self, engine: Engine, cipher: TokenCipher, environment: str) -> None:
        self.engine = engine
        self.cipher = cipher
        self.environment = environment

    def _token_values(self, tokens: TokenSet) -> dict:
        return {
            "access_token_enc": self.cipher.encrypt(tokens.access_token),
            "access_expires_at": tokens.access_expires_at,
            "refresh_token_enc": self.cipher.encrypt(tokens.refresh_token),
            "refresh_expires_at": tokens.refresh_expires_at,
        }

    def _read(self, conn: Connection, *, for_update: bool = False) -> StoredConnection | None:
        """The stored connection (None when there is none, or it was disconnected)."""
        row = self._row(conn, for_update=for_update)
        if row is None or row["disconnected_at"] is not None:
            return None
        return StoredConnection(
            environment=row["environment"],
            realm_id=row["realm_id"],
            tokens=TokenSet(
                access_token=(
                    self.cipher.decrypt(row["access_token_enc"])
                    if row["access_token_enc"]
                    else Secret("")
                ),
                access_expires_at=row["access_expires_at"] or dt.datetime.min,
                refresh_token=self.cipher.decrypt(row["refresh_token_enc"]),
                refresh_expires_at=row["refresh_expires_at"],
            ),
            version=int(row["version"]),
            connected_at=row["connected_at"],
            refreshed_at=row["refreshed_at"],
            last_error=row["last_error"],
            refresh_refused_at=row["refresh_refused_at"],
        )

    def _row(self, conn: Connection, *, for_update: bool = False) -> sa.RowMapping | None:
        stmt = sa.select(oauth_connections).where(
            oauth_connections.c.environment == self.environment
        )
        if for_update and conn.dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE did it
            stmt = stmt.with_for_update()
        return conn.execute(stmt).mappings().first()

    def _update(self, conn: Connection, **values: object) -> None:
        conn.execute(
            oauth_connections.update()
            .where(oauth_connections.c.environment == self.environment)
            .values(**values)
        )

    def load(self) -> StoredConnection | None:
        with self.engine.connect() as conn:
            return self._read(conn)

    def save_connection(self, realm_id: str, tokens: TokenSet) -> StoredConnection:
        """A new connection (after authorisation or bootstrap) replaces any earlier one."""
        now = utcnow()
        with write_transaction(self.engine) as conn:
            conn.execute(
                oauth_connections.delete().where(
                    oauth_connections.c.environment == self.environment
                )
            )
            conn.execute(
                oauth_connections.insert().values(
                    environment=self.environment,
                    realm_id=realm_id,
                    version=1,
                    connected_at=now,
                    refreshed_at=now,
                    **self._token_values(tokens),
                )
            )
            stored = self._read(conn)
        assert stored is not None
        return stored

    # ------------------------------------------------------------ refreshing

    def claim_refresh(self, rejected: str, lease: dt.timedelta, holder: str) -> RefreshClaim:
        now = utcnow()
        with write_transaction(self.engine) as conn:
            row = self._row(conn, for_update=True)
            current = self._read(conn)
            if row is None or current is None:
                return RefreshClaim(None, False)
            fresh = current.tokens.access_expires_at > now
            if current.tokens.access_token.reveal() != rejected and fresh:
                return RefreshClaim(current, False)  # another refresh already answered
            until, by = row["refresh_lease_until"], row["refresh_lease_holder"]
            if until is not None and until > now and by and by != holder and _lease_alive(by):
                return RefreshClaim(current, False)  # another process is refreshing
            self._update(conn, refresh_lease_until=now + lease, refresh_lease_holder=holder)
        return RefreshClaim(current, True)

    def finish_refresh(self, tokens: TokenSet, holder: str) -> StoredConnection:
        with write_transaction(self.engine) as conn:
            self._update(
                conn,
                **self._token_values(tokens),
                version=oauth_connections.c.version + 1,
                refreshed_at=utcnow(),
                last_error=None,
                refresh_refused_at=None,
                refresh_lease_until=None,
                refresh_lease_holder=None,
            )
            stored = self._read(conn)
        assert stored is not None
        return stored

    def release_refresh(self, holder: str, refused: str | None = None) -> None:
        values: dict[str, object] = {"refresh_lease_until": None, "refresh_lease_holder": None}
        if refused is not None:
            values.update(last_error=refused[:2000], refresh_refused_at=utcnow())
        with write_transaction(self.engine) as conn:
            conn.execute(
                oauth_connections.update()
                .where(
                    oauth_connections.c.environment == self.environment,
                    oauth_connections.c.refresh_lease_holder == holder,
                )
                .values(**values)
            )

    # ------------------------------------------------------------ disconnecting

    def disconnect(self) -> None:
        """Tokens forgotten; the row stays as the memory that an operator disconnected, so a
        configured QBO_REFRESH_TOKEN never reconnects behind their back."""
        with write_transaction(self.engine) as conn:
            if self._row(conn) is None:
                return
            self._update(
                conn,
                access_token_enc=None,
                refresh_token_enc="",
                disconnected_at=utcnow(),
                refresh_lease_until=None,
                refresh_lease_holder=None,
            )

    def disconnected_at(self) -> dt.datetime | None:
        with self.engine.connect() as conn:
            row = self._row(conn)
        return None if row is None else row["disconnected_at"]

    # ------------------------------------------------------------ authorisations in flight

    def remember_state(self, state: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                oauth_states.delete().where(
                    oauth_states.c.created_at < utcnow() - dt.timedelta(days=1)
                )
            )
            conn.execute(
                oauth_states.insert().values(
                    state=state, environment=self.environment, created_at=utcnow()
                )
            )

    def consume_state(self, state: str, max_age: dt.timedelta) -> bool:
        with write_transaction(self.engine) as conn:
            deleted = conn.execute(
                oauth_states.delete().where(
                    oauth_states.c.state == state,
                    oauth_states.c.environment == self.environment,
                    oauth_states.c.created_at >= utcnow() - max_age,
                )
            ).rowcount
        return deleted == 1
