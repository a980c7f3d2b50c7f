"""The OAuth 2.0 connection to a QuickBooks company, through Intuit's ``intuit-oauth``.

It authorises (URL with a random ``state`` kept server-side, callback that checks it), bootstraps
headlessly from a configured refresh token, hands out access tokens to the client, refreshes
them (persisting the rotated refresh token first, see :mod:`token_store`), reports status and
disconnects. Nothing here logs or returns a token except :meth:`access_token` to the client.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
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


class OAuthStateError(AuthenticationError):
    """The redirect's ``state`` is not one we issued (or it expired): possible CSRF."""

    kind = "oauth_state"


class _TimeoutAuthClient(AuthClient):
    """intuit-oauth's client, with a timeout on every HTTP call it makes."""

    timeout_s = 15.0

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, **kwargs)


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

    def _auth_client(self) -> AuthClient:
        _TimeoutAuthClient.timeout_s = self.http_timeout_s
        try:
            return _TimeoutAuthClient(
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

    # ------------------------------------------------------------ authorise

    def authorization_url(self) -> str:
        """The URL to send the operator to; its ``state`` is remembered for the callback."""
        state = secrets.token_urlsafe(24)
        url = self._auth_client().get_authorization_url([Scopes.ACCOUNTING], state_token=state)
        self.store.remember_state(state)
        return url

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
        client = self._auth_client()
        try:
            client.get_bearer_token(code, realm_id=realm_id)
        except AuthClientError as exc:
            raise AuthenticationError(
                f"Intuit refused the authorisation code ({_auth_error_text(exc)}): start again"
            ) from None
        self._remember(self.store.save_connection(realm_id, self._tokens_of(client)))
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

        Only when nothing is stored yet: a stored connection holds a newer refresh token than
        the configured one, which rotation has made useless.
        """
        if self.store.load() is not None:
            return self.status()
        client = self._auth_client()
        try:
            client.refresh(refresh_token=refresh_token.reveal())
        except AuthClientError as exc:
            raise AuthenticationError(
                f"QuickBooks refused QBO_REFRESH_TOKEN ({_auth_error_text(exc)}): "
                "connect interactively or configure a fresh refresh token"
            ) from None
        self._remember(self.store.save_connection(realm_id, self._tokens_of(client)))
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

        Under the row lock: if another process already replaced ``rejected``, use its token;
        otherwise refresh and commit the rotated refresh token before returning.
        """
        failure: str | None = None
        with self.store.refresh_lock() as session:
            current = session.current
            if current is None:
                raise NotConnectedError("QuickBooks is not connected")
            fresh = current.tokens.access_expires_at - REFRESH_MARGIN > utcnow()
            if current.tokens.access_token.reveal() != rejected and fresh:
                self._remember(current)
                return current.tokens.access_token.reveal()
            client = self._auth_client()
            try:
                client.refresh(refresh_token=current.tokens.refresh_token.reveal())
            except AuthClientError as exc:
                failure = f"Token refresh refused ({_auth_error_text(exc)})"
            except RequestException as exc:
                raise NetworkError(f"Token refresh got no answer ({type(exc).__name__})") from None
            else:
                stored = session.save(self._tokens_of(client))
        if failure is not None:
            self.store.record_error(failure + ": connect QuickBooks again")
            self._remember(None)
            raise AuthenticationError(f"{failure}: the QuickBooks connection must be renewed")
        self._remember(stored)
        return stored.tokens.access_token.reveal()

    # ------------------------------------------------------------ status

    def status(self) -> ConnectionStatus:
        stored = self.store.load()
        self._remember(stored)
        if stored is None:
            return ConnectionStatus(connected=False, environment=self.environment)
        return ConnectionStatus(
            connected=True,
            environment=self.environment,
            realm_id=stored.realm_id,
            access_expires_at=stored.tokens.access_expires_at,
            refresh_expires_at=stored.tokens.refresh_expires_at,
            connected_at=stored.connected_at,
            refreshed_at=stored.refreshed_at,
            last_error=stored.last_error,
        )

    def disconnect(self) -> str | None:
        """Revoke the refresh token at Intuit and forget the connection. Answers a warning when
        Intuit could not be told (the local connection is removed all the same)."""
        stored = self.store.load()
        warning = None
        if stored is not None:
            try:
                self._auth_client().revoke(token=stored.tokens.refresh_token.reveal())
            except (AuthClientError, NetworkError, RequestException) as exc:
                warning = f"Intuit did not confirm the revocation ({type(exc).__name__})"
        self.store.delete()
        self._remember(None)
        return warning
