"""Intuit OAuth 2.0: discovery, simulated consent, token endpoint with rotation, revocation.

Tokens are random opaque strings; only their SHA-256 digests are stored, so a store file holds
nothing a reader could use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .config import SimulatorConfig
from .faults import FaultInjector
from .messages import Request, Response, json_response
from .stats import Stats
from .store import Store

AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
JWKS_PATH = "/op/v1/jwks"
ISSUER_PATH = "/op/v1"
DISCOVERY_PATHS = (
    "/.well-known/openid_configuration",
    "/.well-known/openid_sandbox_configuration",
)
CODE_LIFETIME_S = 600
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _oauth_error(status: int, error: str, description: str = "") -> Response:
    body: dict[str, Any] = {"error": error}
    if description:
        body["error_description"] = description
    return json_response(status, body, NO_STORE)


class OAuthServer:
    def __init__(
        self, store: Store, config: SimulatorConfig, faults: FaultInjector, stats: Stats
    ) -> None:
        self.store = store
        self.config = config
        self.faults = faults
        self.stats = stats

    @staticmethod
    def handles(path: str) -> bool:
        path = path.rstrip("/") or "/"
        return path in (
            AUTHORIZE_PATH,
            TOKEN_PATH,
            REVOKE_PATH,
            USERINFO_PATH,
            JWKS_PATH,
            *DISCOVERY_PATHS,
        )

    def handle(self, req: Request, base_url: str) -> Response:
        path = req.path.rstrip("/")
        if path in DISCOVERY_PATHS and req.method == "GET":
            return json_response(200, self.discovery(base_url))
        if path == AUTHORIZE_PATH and req.method == "GET":
            return self.authorize(req)
        if path == TOKEN_PATH and req.method == "POST":
            return self.token(req)
        if path == REVOKE_PATH and req.method == "POST":
            return self.revoke(req)
        if path == USERINFO_PATH and req.method == "GET":
            return self.userinfo(req)
        if path == JWKS_PATH and req.method == "GET":
            return json_response(200, {"keys": []})
        return json_response(405, {"error": "method_not_allowed"})

    @staticmethod
    def discovery(base_url: str) -> dict[str, Any]:
        return {
            "issuer": base_url + ISSUER_PATH,
            "authorization_endpoint": base_url + AUTHORIZE_PATH,
            "token_endpoint": base_url + TOKEN_PATH,
            "userinfo_endpoint": base_url + USERINFO_PATH,
            "revocation_endpoint": base_url + REVOKE_PATH,
            "jwks_uri": base_url + JWKS_PATH,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": [
                "openid",
                "email",
                "profile",
                "address",
                "phone",
                "com.intuit.quickbooks.accounting",
                "com.intuit.quickbooks.payment",
            ],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }

    # -- consent -----------------------------------------------------------------------------

    def authorize(self, req: Request) -> Response:
        """Simulated consent: no page, the user always approves the configured company."""
        p = req.params
        if not hmac.compare_digest(p.get("client_id", ""), self.config.client_id):
            return _oauth_error(400, "invalid_client", "Unknown client_id")
        redirect_uri = p.get("redirect_uri", "")
        if not redirect_uri:
            return _oauth_error(400, "invalid_request", "redirect_uri is required")
        answer: dict[str, str] = {}
        if p.get("response_type") != "code":
            answer["error"] = "unsupported_response_type"
        elif not p.get("scope", "").strip():
            answer["error"] = "invalid_scope"
        else:
            code = secrets.token_urlsafe(32)
            self.store.save_code(
                digest(code),
                self.config.realm_id,
                redirect_uri,
                p["scope"],
                time.time() + CODE_LIFETIME_S,
            )
            answer["code"] = code
        if "state" in p:
            answer["state"] = p["state"]
        if "code" in answer:
            answer["realmId"] = self.config.realm_id
        sep = "&" if "?" in redirect_uri else "?"
        return Response(302, headers={"Location": redirect_uri + sep + urlencode(answer)})

    # -- tokens ------------------------------------------------------------------------------

    def _client_ok(self, req: Request, form: dict[str, str]) -> bool:
        auth = req.header("Authorization")
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if auth[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            client_id, _, secret = decoded.partition(":")
        return hmac.compare_digest(client_id, self.config.client_id) and hmac.compare_digest(
            secret, self.config.client_secret
        )

    def _issue(self, family: str, refresh: bool = True) -> dict[str, Any]:
        now = time.time()
        access = secrets.token_urlsafe(48)
        self.store.add_access_token(
            digest(access), family, now, now + self.config.access_token_lifetime_s
        )
        answer: dict[str, Any] = {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": self.config.access_token_lifetime_s,
        }
        if refresh:
            token = secrets.token_urlsafe(48)
            self.store.add_refresh_token(
                digest(token), family, now, now + self.config.refresh_token_lifetime_s
            )
            answer["refresh_token"] = token
            answer["x_refresh_token_expires_in"] = self.config.refresh_token_lifetime_s
        return answer

    def new_family(self, realm: str) -> str:
        family = secrets.token_hex(16)
        self.store.create_family(family, realm, time.time())
        return family

    def issue_refresh_token(self, realm: str | None = None) -> str:
        """A connection made without the browser step (demo, headless, tests)."""
        with self.store.transaction():
            family = self.new_family(realm or self.config.realm_id)
            token = secrets.token_urlsafe(48)
            now = time.time()
            self.store.add_refresh_token(
                digest(token), family, now, now + self.config.refresh_token_lifetime_s
            )
        return token

    def token(self, req: Request) -> Response:
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        if not self._client_ok(req, form):
            return _oauth_error(401, "invalid_client")
        grant = form.get("grant_type", "")
        with self.store.transaction():
            if grant == "authorization_code":
                return self._grant_code(form)
            if grant == "refresh_token":
                return self._grant_refresh(form)
        return _oauth_error(400, "unsupported_grant_type")

    def _grant_code(self, form: dict[str, str]) -> Response:
        found = self.store.take_code(digest(form.get("code", "")))
        if found is None:
            return _oauth_error(400, "invalid_grant")
        realm, redirect_uri, expires_at, used = found
        if used or time.time() > expires_at or form.get("redirect_uri") != redirect_uri:
            return _oauth_error(400, "invalid_grant")
        return json_response(200, self._issue(self.new_family(realm)), NO_STORE)

    def _grant_refresh(self, form: dict[str, str]) -> Response:
        info = self.store.refresh_token_info(digest(form.get("refresh_token", "")))
        if info is None:
            return _oauth_error(400, "invalid_grant")
        family, _realm, expires_at, current, revoked = info
        if revoked or not current or time.time() > expires_at:
            return _oauth_error(400, "invalid_grant")
        self.stats.bump("refreshes")
        return json_response(200, self._issue(family), NO_STORE)

    def revoke(self, req: Request) -> Response:
        form: dict[str, str] = {}
        if "json" in req.header("Content-Type").lower():
            try:
                data = json.loads(req.body.decode("utf-8") or "{}")
            except (ValueError, UnicodeDecodeError):
                data = {}
            if isinstance(data, dict):
                form = {k: str(v) for k, v in data.items()}
        else:
            form = dict(parse_qsl(req.body.decode("utf-8", "replace")))
        if not self._client_ok(req, form):
            return _oauth_error(401, "invalid_client")
        token_hash = digest(form.get("token", ""))
        refresh = self.store.refresh_token_info(token_hash)
        access = self.store.access_token_info(token_hash) if refresh is None else None
        family = refresh[0] if refresh else access[0] if access else None
        if family is not None:
            self.store.revoke_family(family)
        # RFC 7009: an unknown token is answered 200 too.
        return Response(200, headers=NO_STORE)

    # -- bearer checks -------------------------------------------------------------------------

    def access_problem(self, authorization: str, realm: str | None) -> str | None:
        """None when the bearer token may call this realm, else the 401 detail."""
        if not authorization:
            return "Authorization header missing"
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "Authorization header must be a Bearer token"
        info = self.store.access_token_info(digest(token.strip()))
        if info is None:
            return "Token invalid"
        _family, token_realm, issued_at, expires_at, revoked = info
        now = time.time()
        if revoked:
            return "Token revoked"
        if now > expires_at:
            return "Token expired"
        ttl = self.faults.faults.access_token_ttl_s
        if ttl is not None and now - issued_at > ttl:
            return "Token expired"
        if realm is not None and token_realm != realm:
            return "Token is not valid for this company (realmId)"
        return None

    def userinfo(self, req: Request) -> Response:
        if self.access_problem(req.header("Authorization"), None):
            return _oauth_error(401, "invalid_token")
        return json_response(
            200,
            {
                "sub": digest(self.config.client_id)[:36],
                "email": "admin@example.com",
                "emailVerified": True,
                "givenName": "Sandbox",
                "familyName": "Admin",
            },
        )
