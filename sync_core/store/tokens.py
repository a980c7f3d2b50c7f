"""QuickBooks tokens at rest: one row per environment, tokens encrypted with Fernet.

Refresh tokens rotate and only the newest works, so losing one disconnects the company. A
refresh therefore happens inside :meth:`TokenStore.refresh_lock`: the row is locked (``SELECT
... FOR UPDATE`` on MariaDB, ``BEGIN IMMEDIATE`` on SQLite), re-read, and the new tokens are
written and committed before anyone uses the new access token. A second process refreshing at
the same moment waits for the lock, then finds the row already refreshed and uses that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Connection, Engine

from sync_core.database import write_transaction
from sync_core.domain.clock import utcnow
from sync_core.domain.secret import Secret
from sync_core.quickbooks.ports import StoredConnection, TokenSet
from sync_core.settings import SettingsError
from sync_core.store.tables import oauth_connections, oauth_states


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


class RefreshSession:
    """The locked row during a refresh: read :attr:`current`, then :meth:`save` the new tokens."""

    def __init__(self, store: TokenStore, conn: Connection, current: StoredConnection | None):
        self._store = store
        self._conn = conn
        self.current = current

    def save(self, tokens: TokenSet) -> StoredConnection:
        assert self.current is not None
        values = self._store._token_values(tokens)
        self._conn.execute(
            oauth_connections.update()
            .where(oauth_connections.c.environment == self._store.environment)
            .values(
                **values,
                version=oauth_connections.c.version + 1,
                refreshed_at=utcnow(),
                last_error=None,
            )
        )
        saved = self._store._read(self._conn)
        assert saved is not None
        self.current = saved
        return saved


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
        stmt = sa.select(oauth_connections).where(
            oauth_connections.c.environment == self.environment
        )
        if for_update and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
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

    @contextmanager
    def refresh_lock(self) -> Iterator[RefreshSession]:
        """Hold the connection row locked; what :meth:`RefreshSession.save` writes is committed
        when the block ends without an error, before the caller can use the new token."""
        with write_transaction(self.engine) as conn:
            yield RefreshSession(self, conn, self._read(conn, for_update=True))

    def record_error(self, message: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                oauth_connections.update()
                .where(oauth_connections.c.environment == self.environment)
                .values(last_error=message[:2000])
            )

    def delete(self) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                oauth_connections.delete().where(
                    oauth_connections.c.environment == self.environment
                )
            )

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
