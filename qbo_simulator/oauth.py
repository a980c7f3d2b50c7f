"""Intuit OAuth 2.0: discovery, simulated consent, token endpoint with rotation, revocation.

Tokens are random opaque strings; only their SHA-256 digests are stored, so a store file holds
nothing a reader could use.

Refresh tokens, as implemented here:
- a refresh answers a new refresh token (every time, or once the presented one is
  `refresh_token_rotation_s` old, as Intuit does about daily; before that the same one comes
  back); only the newest of a grant works, an older one gets 400 invalid_grant at once (no
  grace period; the grant itself stays alive);
- a refresh token expires `refresh_token_lifetime_s` after it was issued (each use issues a new
  one, so the lifetime rolls), and never beyond the grant's hard limit
  (`refresh_token_hard_lifetime_s` after the first authorisation);
- answers carry `x_refresh_token_expires_in` (the sooner of the two) and, unless
  `report_refresh_token_hard_expiry` is off, `x_refresh_token_hard_expires_in`.
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
        if path in (TOKEN_PATH, REVOKE_PATH) and self.faults.faults.token_endpoint_down:
            self.stats.bump("token_endpoint_down_answers")
            if self.faults.faults.down_mode == "drop":
                return Response(503, drop=True)
            return _oauth_error(503, "temporarily_unavailable", "Service Unavailable")
        if path in DISCOVERY_PATHS and req.method == "GET":
            self.stats.bump("discovery_fetches")
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

    def _refresh_expiry(
        self, now: float, hard_expires_at: float, lifetime_s: float | None
    ) -> float:
        lifetime = self.config.refresh_token_lifetime_s if lifetime_s is None else lifetime_s
        return min(now + lifetime, hard_expires_at)

    def _issue(
        self, family: str, hard_expires_at: float, keep_refresh: str | None = None
    ) -> dict[str, Any]:
        now = time.time()
        access = secrets.token_urlsafe(48)
        self.store.add_access_token(
            digest(access), family, now, now + self.config.access_token_lifetime_s
        )
        expires_at = self._refresh_expiry(now, hard_expires_at, None)
        if keep_refresh is None:
            token = secrets.token_urlsafe(48)
            self.store.add_refresh_token(digest(token), family, now, expires_at)
        else:
            token = keep_refresh
            self.store.extend_refresh_token(digest(token), expires_at)
        answer: dict[str, Any] = {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": self.config.access_token_lifetime_s,
            "refresh_token": token,
            "x_refresh_token_expires_in": max(0, round(expires_at - now)),
        }
        if self.config.report_refresh_token_hard_expiry:
            answer["x_refresh_token_hard_expires_in"] = max(0, round(hard_expires_at - now))
        return answer

    def new_family(self, realm: str, hard_lifetime_s: float | None = None) -> tuple[str, float]:
        """A new grant (one authorisation) and the hard limit none of its tokens outlives."""
        family = secrets.token_hex(16)
        now = time.time()
        hard = self.config.refresh_token_hard_lifetime_s
        hard_expires_at = now + (hard if hard_lifetime_s is None else hard_lifetime_s)
        self.store.create_family(family, realm, now, hard_expires_at)
        return family, hard_expires_at

    def issue_refresh_token(
        self,
        realm: str | None = None,
        lifetime_s: float | None = None,
        hard_lifetime_s: float | None = None,
    ) -> str:
        """A connection made without the browser step (demo, headless, tests).

        `lifetime_s` overrides how long this first refresh token lives; `hard_lifetime_s` how
        long the whole grant may last (later refreshes never outlive it).
        """
        with self.store.transaction():
            family, hard_expires_at = self.new_family(
                realm or self.config.realm_id, hard_lifetime_s
            )
            token = secrets.token_urlsafe(48)
            now = time.time()
            expires_at = self._refresh_expiry(now, hard_expires_at, lifetime_s)
            self.store.add_refresh_token(digest(token), family, now, expires_at)
        return token

    def revoke_all(self, realm: str | None = None) -> int:
        """Revokes every grant of the realm, as when the company disconnects the app: refreshes
        then answer invalid_grant and API calls 401. Returns how many live grants there were."""
        return self.store.revoke_realm(realm or self.config.realm_id)

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
        family, hard_expires_at = self.new_family(realm)
        return json_response(200, self._issue(family, hard_expires_at), NO_STORE)

    def _grant_refresh(self, form: dict[str, str]) -> Response:
        info = self.store.refresh_token_info(digest(form.get("refresh_token", "")))
        if info is None:
            return _oauth_error(400, "invalid_grant")
        hard_expires_at = info.hard_expires_at
        if hard_expires_at is None:  # a grant from a store written before hard limits
            hard_expires_at = info.family_created + self.config.refresh_token_hard_lifetime_s
        now = time.time()
        if info.revoked or not info.current or now > min(info.expires_at, hard_expires_at):
            return _oauth_error(400, "invalid_grant")
        self.stats.bump("refreshes")
        rotation = self.config.refresh_token_rotation_s
        keep = form["refresh_token"] if rotation > 0 and now - info.issued_at < rotation else None
        return json_response(200, self._issue(info.family, hard_expires_at, keep), NO_STORE)

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
        family = refresh.family if refresh else access[0] if access else None
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
