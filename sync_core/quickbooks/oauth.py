"""The OAuth 2.0 connection to a QuickBooks company, through Intuit's ``intuit-oauth``.

It authorises (URL with a random ``state`` kept server-side, callback that checks it), bootstraps
headlessly from a configured refresh token, hands out access tokens to the client, refreshes
them, reports status and disconnects. Nothing here logs or returns a token except
:meth:`QuickBooksConnection.access_token` to the client.

A refresh never holds a database lock or transaction across the network: the process that
refreshes takes a short lease on the connection (one transaction), calls Intuit with no
transaction open, and writes the new tokens at once (another). Others wait for the lease and use
its result. A process killed at any point leaves either the old tokens or the new ones stored,
never a half-written row, and never blocks the database. (Intuit rotates a refresh token at most
about once a day; only a kill in the milliseconds between such a rotating answer and its write
could lose one: the write is the first thing done with the answer.)

The intuit-oauth client reads Intuit's discovery document when it is built, so it is built once
per process and configuration, and used under a lock (it keeps the last answer's tokens).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from requests import RequestException

from sync_core import defaults
from sync_core.domain.clock import utcnow
from sync_core.domain.secret import Secret
from sync_core.quickbooks.errors import AuthenticationError, NetworkError, NotConnectedError
from sync_core.quickbooks.ports import StoredConnection, TokenRepository, TokenSet

STATE_TTL = dt.timedelta(seconds=defaults.OAUTH_STATE_TTL_S)
REFRESH_MARGIN = dt.timedelta(seconds=defaults.TOKEN_REFRESH_MARGIN_S)
# A refresh lease outlives the HTTP call it covers (its timeout) with room to write the answer.
REFRESH_LEASE = dt.timedelta(seconds=2 * defaults.OAUTH_HTTP_TIMEOUT_S + 5)
EXPIRY_WARNING = dt.timedelta(days=14)  # a refresh token ending sooner than this is said


def this_process() -> str:
    """Who holds a refresh lease: host and pid, read at call time (a forked child is not its
    parent)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class OAuthStateError(AuthenticationError):
    """The redirect's ``state`` is not one we issued (or it expired): possible CSRF."""

    kind = "oauth_state"


class _TimeoutAuthClient(AuthClient):
    """intuit-oauth's client, with a timeout on every HTTP call it makes."""

    timeout_s = defaults.OAUTH_HTTP_TIMEOUT_S

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, **kwargs)


_clients: dict[tuple[str, str, str, str], tuple[AuthClient, threading.Lock]] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class ConnectionStatus:
    connected: bool
    environment: str
    realm_id: str | None = None
    access_expires_at: dt.datetime | None = None
    refresh_expires_at: dt.datetime | None = None
    connected_at: dt.datetime | None = None
    refreshed_at: dt.datetime | None = None
    last_error: str | None = None
    # Intuit refused the refresh token: nothing works until someone connects again
    refresh_refused_at: dt.datetime | None = None
    disconnected_at: dt.datetime | None = None  # an operator disconnected on purpose

    @property
    def renewal_needed(self) -> bool:
        return self.connected and self.refresh_refused_at is not None

    @property
    def expires_soon(self) -> bool:
        """The refresh token ends within 14 days (it lives 100 days from its last use, and
        five years at most): someone must connect again before then."""
        if not self.connected or self.refresh_expires_at is None:
            return False
        return self.refresh_expires_at - utcnow() < EXPIRY_WARNING

    def as_dict(self) -> dict[str, object]:
        return {
            "connected": self.connected,
            "environment": self.environment,
            "realm_id": self.realm_id,
            "access_token_expires_at": self.access_expires_at,
            "refresh_token_expires_at": self.refresh_expires_at,
            "connected_at": self.connected_at,
            "refreshed_at": self.refreshed_at,
            "last_error": self.last_error,
            "renewal_needed": self.renewal_needed,
            "refresh_refused_at": self.refresh_refused_at,
            "expires_soon": self.expires_soon,
            "disconnected_at": self.disconnected_at,
        }


def _auth_error_text(exc: AuthClientError) -> str:
    try:
        error = json.loads(exc.content or b"{}").get("error", "")
    except (ValueError, AttributeError):
        error = ""
    return f"HTTP {exc.status_code}" + (f" {error}" if error else "")


class QuickBooksConnection:
    def __init__(
        self,
        *,
        environment: str,
        client_id: str,
        client_secret: Secret,
        redirect_uri: str,
        discovery_url: str,
        store: TokenRepository,
        http_timeout_s: float = defaults.OAUTH_HTTP_TIMEOUT_S,
    ) -> None:
        self.environment = environment
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.discovery_url = discovery_url
        self.store = store
        self.http_timeout_s = http_timeout_s
        self._cached: StoredConnection | None = None
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one refresh at a time in this process

    @contextmanager
    def _intuit(self) -> Iterator[AuthClient]:
        """The process's intuit-oauth client for this configuration, held exclusively."""
        key = (self.client_id, self.client_secret.reveal(), self.redirect_uri, self.discovery_url)
        with _clients_lock:
            entry = _clients.get(key)
            if entry is None:
                _TimeoutAuthClient.timeout_s = self.http_timeout_s
                try:
                    client = _TimeoutAuthClient(
                        self.client_id,
                        self.client_secret.reveal(),
                        self.redirect_uri,
                        environment=self.discovery_url,
                    )
                except (AuthClientError, RequestException, ValueError) as exc:
                    raise NetworkError(
                        f"Cannot read Intuit's OAuth discovery document at {self.discovery_url} "
                        f"({type(exc).__name__})"
                    ) from None
                entry = _clients[key] = (client, threading.Lock())
        client, lock = entry
        with lock:
            yield client

    # ------------------------------------------------------------ authorise

    def authorization_url(self) -> str:
        """The URL to send the operator to; its ``state`` is remembered for the callback."""
        state = secrets.token_urlsafe(24)
        with self._intuit() as client:
            url = client.get_authorization_url([Scopes.ACCOUNTING], state_token=state)
        self.store.remember_state(state)
        return str(url)

    def _consume_state(self, state: str | None) -> None:
        if not state:
            raise OAuthStateError("The answer from Intuit has no state: start the connection again")
        if not self.store.consume_state(state, STATE_TTL):
            raise OAuthStateError(
                "The answer from Intuit does not match a connection this app started "
                "(state mismatch or expired): start the connection again"
            )

    def complete_authorization(self, code: str, state: str, realm_id: str) -> ConnectionStatus:
        """The callback: check ``state``, exchange the code, store tokens and realm."""
        self._consume_state(state)
        if not code or not realm_id:
            raise AuthenticationError("The answer from Intuit lacks the code or the realmId")
        try:
            with self._intuit() as client:
                client.get_bearer_token(code, realm_id=realm_id)
                tokens = self._tokens_of(client)
        except AuthClientError as exc:
            raise AuthenticationError(
                f"Intuit refused the authorisation code ({_auth_error_text(exc)}): start again"
            ) from None
        self._remember(self.store.save_connection(realm_id, tokens))
        return self.status()

    def complete_from_redirect(self, redirect_url: str) -> ConnectionStatus:
        """The CLI path: the operator pastes the URL the browser was sent back to."""
        params = {k: v[0] for k, v in parse_qs(urlparse(redirect_url.strip()).query).items()}
        if params.get("error"):
            raise AuthenticationError(f"Intuit answered {params['error']}: nothing was connected")
        return self.complete_authorization(
            params.get("code", ""), params.get("state", ""), params.get("realmId", "")
        )

    def bootstrap(self, refresh_token: Secret, realm_id: str) -> ConnectionStatus:
        """The headless path: a refresh token and realm from configuration become a connection.

        Only when this environment never had a connection: a stored one holds a newer refresh
        token than the configured one, which rotation has made useless, and one an operator
        disconnected stays disconnected (the configured token does not undo it).
        """
        if self.store.load() is not None or self.store.disconnected_at() is not None:
            return self.status()
        try:
            with self._intuit() as client:
                client.refresh(refresh_token=refresh_token.reveal())
                tokens = self._tokens_of(client)
        except AuthClientError as exc:
            raise AuthenticationError(
                f"QuickBooks refused QBO_REFRESH_TOKEN ({_auth_error_text(exc)}): "
                "connect interactively or configure a fresh refresh token"
            ) from None
        self._remember(self.store.save_connection(realm_id, tokens))
        return self.status()

    @staticmethod
    def _tokens_of(client: AuthClient) -> TokenSet:
        return TokenSet.from_answer(
            client.access_token,
            client.expires_in,
            client.refresh_token,
            client.x_refresh_token_expires_in,
        )

    # ------------------------------------------------------------ tokens

    def _remember(self, stored: StoredConnection | None) -> None:
        with self._lock:
            self._cached = stored

    @property
    def realm_id(self) -> str:
        stored = self._cached or self.store.load()
        if stored is None:
            raise NotConnectedError("QuickBooks is not connected")
        return stored.realm_id

    def access_token(self) -> str:
        stored = self._cached
        if stored is None or stored.tokens.access_expires_at - REFRESH_MARGIN <= utcnow():
            stored = self.store.load()
            self._remember(stored)
        if stored is None:
            raise NotConnectedError("QuickBooks is not connected")
        if stored.tokens.access_expires_at - REFRESH_MARGIN <= utcnow():
            return self.refresh_access_token(rejected=stored.tokens.access_token.reveal())
        return stored.tokens.access_token.reveal()

    def refresh_access_token(self, rejected: str) -> str:
        """A new access token; ``rejected`` is the one QuickBooks refused (or that expired).

        If another process already replaced ``rejected``, its token is used. Otherwise this
        process takes the refresh lease, calls Intuit with no transaction open, and writes the
        rotated refresh token before the new access token is used.
        """
        with self._refreshing:
            deadline = time.monotonic() + REFRESH_LEASE.total_seconds()
            while True:
                claim = self.store.claim_refresh(rejected, REFRESH_LEASE, this_process())
                current = claim.current
                if current is None:
                    raise NotConnectedError("QuickBooks is not connected")
                fresh = current.tokens.access_expires_at - REFRESH_MARGIN > utcnow()
                if current.tokens.access_token.reveal() != rejected and fresh:
                    self._remember(current)
                    return current.tokens.access_token.reveal()
                if claim.granted:
                    break
                if time.monotonic() > deadline:
                    raise NetworkError(
                        "Another process is renewing the QuickBooks access token and has not "
                        "finished: try again in a minute"
                    )
                time.sleep(0.2)  # another process holds the lease: use its answer
            return self._refresh(current)

    def _refresh(self, current: StoredConnection) -> str:
        try:
            with self._intuit() as client:
                client.refresh(refresh_token=current.tokens.refresh_token.reveal())
                tokens = self._tokens_of(client)
        except AuthClientError as exc:
            failure = f"Token refresh refused ({_auth_error_text(exc)})"
            self.store.release_refresh(
                this_process(), refused=failure + ": connect QuickBooks again"
            )
            self._remember(None)
            raise AuthenticationError(
                f"{failure}: the QuickBooks connection must be renewed (connect again)"
            ) from None
        except RequestException as exc:
            self.store.release_refresh(this_process())
            raise NetworkError(f"Token refresh got no answer ({type(exc).__name__})") from None
        stored = self.store.finish_refresh(tokens, this_process())  # first thing: the write
        self._remember(stored)
        return stored.tokens.access_token.reveal()

    # ------------------------------------------------------------ status

    def status(self) -> ConnectionStatus:
        stored = self.store.load()
        self._remember(stored)
        if stored is None:
            return ConnectionStatus(
                connected=False,
                environment=self.environment,
                disconnected_at=self.store.disconnected_at(),
            )
        return ConnectionStatus(
            connected=True,
            environment=self.environment,
            realm_id=stored.realm_id,
            access_expires_at=stored.tokens.access_expires_at,
            refresh_expires_at=stored.tokens.refresh_expires_at,
            connected_at=stored.connected_at,
            refreshed_at=stored.refreshed_at,
            last_error=stored.last_error,
            refresh_refused_at=stored.refresh_refused_at,
        )

    def disconnect(self) -> str | None:
        """Revoke the refresh token at Intuit and forget the connection. Answers a warning when
        Intuit could not be told (the local connection is removed all the same)."""
        stored = self.store.load()
        warning = None
        if stored is not None:
            try:
                with self._intuit() as client:
                    client.revoke(token=stored.tokens.refresh_token.reveal())
            except (AuthClientError, NetworkError, RequestException) as exc:
                warning = f"Intuit did not confirm the revocation ({type(exc).__name__})"
        self.store.disconnect()
        self._remember(None)
        return warning
