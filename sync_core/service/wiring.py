"""Build the QuickBooks side from the settings: where QuickBooks is, the OAuth connection (with
its tokens kept in the store), and clients for the connected company."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

import sqlalchemy as sa

from sync_core.demo import embedded as demo
from sync_core.domain.secret import Secret
from sync_core.quickbooks.client import QuickBooksClient, RetryPolicy
from sync_core.quickbooks.errors import NotConnectedError, QuickBooksError
from sync_core.quickbooks.limiter import Limits, limiter_for
from sync_core.quickbooks.oauth import QuickBooksConnection
from sync_core.settings import Settings, SettingsError
from sync_core.store.audit import AuditLog
from sync_core.store.rate_windows import DatabaseWindows
from sync_core.store.tokens import TokenCipher, TokenStore


@dataclass(frozen=True)
class Endpoints:
    """Where QuickBooks is for this configuration (the embedded simulator's port is dynamic)."""

    api_base_url: str
    discovery_url: str
    client_id: str
    client_secret: Secret
    embedded_simulator: object | None = None


class QuickBooksWiring:
    def __init__(self, settings: Settings, store: sa.Engine, audit: AuditLog) -> None:
        self.settings = settings
        self.store = store
        self.audit = audit
        self.bootstrap_error: str | None = None
        self._lock = threading.Lock()

    @cached_property
    def endpoints(self) -> Endpoints:
        s = self.settings
        if s.uses_simulator and not (s.qbo_api_base_url and s.qbo_discovery_url):
            simulator = demo.embedded_simulator(s)
            return Endpoints(
                api_base_url=simulator.base_url,
                discovery_url=simulator.discovery_url,
                client_id=simulator.config.client_id,
                client_secret=Secret(simulator.config.client_secret),
                embedded_simulator=simulator,
            )
        if not s.api_base_url or not s.discovery_url:
            raise SettingsError("QBO_API_BASE_URL and QBO_DISCOVERY_URL are needed")
        default_id, default_secret = ("", "")
        if s.uses_simulator:  # an external simulator started with its default credentials
            default_id, default_secret = ("simulator-client-id", "simulator-client-secret")
        client_id = s.qbo_client_id or default_id
        secret = s.qbo_client_secret if s.qbo_client_secret else Secret(default_secret)
        if not client_id or not secret:
            raise SettingsError(
                "QBO_CLIENT_ID and QBO_CLIENT_SECRET are needed for QuickBooks "
                f"({s.qbo_environment}): see README, Configuration"
            )
        return Endpoints(s.api_base_url, s.discovery_url, client_id, secret)

    def _token_key(self) -> Secret:
        if self.settings.qbo_token_key:
            return self.settings.qbo_token_key
        if self.settings.uses_simulator:
            return demo.demo_token_key(self.settings)
        raise SettingsError(
            "QBO_TOKEN_KEY is needed to keep QuickBooks tokens encrypted: "
            "generate one with `python -m sync_core token-key`"
        )

    @cached_property
    def connection(self) -> QuickBooksConnection:
        endpoints = self.endpoints
        tokens = TokenStore(
            self.store, TokenCipher(self._token_key()), self.settings.qbo_environment
        )
        connection = QuickBooksConnection(
            environment=self.settings.qbo_environment,
            client_id=endpoints.client_id,
            client_secret=endpoints.client_secret,
            redirect_uri=self.settings.qbo_redirect_uri,
            discovery_url=endpoints.discovery_url,
            store=tokens,
        )
        self._bootstrap(connection, endpoints)
        return connection

    def _bootstrap(self, connection: QuickBooksConnection, endpoints: Endpoints) -> None:
        """Headless connection: QBO_REFRESH_TOKEN + QBO_REALM_ID, or the embedded simulator."""
        if connection.store.load() is not None:
            return
        s = self.settings
        try:
            if s.qbo_refresh_token and s.qbo_realm_id:
                connection.bootstrap(s.qbo_refresh_token, s.qbo_realm_id)
            elif endpoints.embedded_simulator is not None:
                simulator = endpoints.embedded_simulator
                connection.bootstrap(
                    Secret(simulator.issue_refresh_token()),  # type: ignore[attr-defined]
                    simulator.config.realm_id,  # type: ignore[attr-defined]
                )
        except QuickBooksError as exc:
            self.bootstrap_error = exc.describe()

    @property
    def limits(self) -> Limits:
        s = self.settings
        return Limits(
            requests_per_minute=s.qbo_requests_per_minute,
            batch_requests_per_minute=s.qbo_batch_requests_per_minute,
            max_concurrent=s.qbo_max_concurrent,
            window_margin_s=s.qbo_limit_window_margin_s,
            window_s=s.qbo_limit_window_s,
        )

    @cached_property
    def windows(self) -> DatabaseWindows:
        """QuickBooks' request windows, shared by every process through the store."""
        return DatabaseWindows(self.store)

    def client(self, retry: RetryPolicy | None = None) -> QuickBooksClient:
        """A client for the connected company; raises NotConnectedError when there is none."""
        connection = self.connection
        status = connection.status()
        if not status.connected or not status.realm_id:
            raise NotConnectedError(
                "QuickBooks is not connected: connect on the QuickBooks page or run "
                "`python -m sync_core connect`"
            )
        return QuickBooksClient(
            self.endpoints.api_base_url,
            status.realm_id,
            connection,
            limiter=limiter_for(status.realm_id, self.limits, self.windows),
            audit=self.audit,
            minor_version=self.settings.qbo_minor_version,
            connect_timeout_s=self.settings.qbo_connect_timeout_s,
            read_timeout_s=self.settings.qbo_read_timeout_s,
            retry=retry,
            include_custom_fields=bool(self.settings.qbo_custom_fields),
        )
