"""QuickBooksSimulator: wires store, OAuth, API, faults and admin endpoints to an HTTP server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from .api import Api
from .config import Faults, SimulatorConfig
from .faults import FaultInjector, Throttler
from .messages import Request, Response, json_response
from .oauth import DISCOVERY_PATHS, OAuthServer
from .server import SimulatorHTTPServer
from .stats import SimulatorState, Stats
from .store import Store

log = logging.getLogger("qbo_simulator")

ADMIN_PREFIX = "/_simulator/"
DEFAULT_STATE_CUSTOMER_LIMIT = 1000


class QuickBooksSimulator:
    def __init__(
        self,
        config: SimulatorConfig | None = None,
        store_path: Path | str | None = None,
        faults: Faults | None = None,
        customers: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        """`customers`: QBO Customer JSON to start the company with (see load_customers); a
        store file that already holds customers for the realm keeps them and loads none."""
        self.config = config or SimulatorConfig()
        self.store = Store(store_path)
        self._faults = FaultInjector(faults)
        self.stats = Stats()
        self.throttler = Throttler(self.config)
        self.oauth = OAuthServer(self.store, self.config, self._faults, self.stats)
        self.api = Api(
            self.store, self.config, self._faults, self.throttler, self.stats, self.oauth
        )
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        if customers:
            if self.store.count_customers(self.config.realm_id) > 0:
                log.warning("store already holds customers: the given customers were not loaded")
            else:
                try:
                    self.load_customers(list(customers))
                except BaseException:
                    self.store.close()
                    raise

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> QuickBooksSimulator:
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self._server = SimulatorHTTPServer((host, port), self.dispatch)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits at most this long
            name="qbo-simulator",
            daemon=True,
        )
        self._thread.start()
        log.info("QuickBooks simulator listening on %s", self.base_url)
        return self

    def serve_forever(self) -> None:
        """Blocks until stop() is called from another thread (or KeyboardInterrupt)."""
        if self._thread is None:
            raise RuntimeError("call start() first")
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self.store.close()

    def __enter__(self) -> QuickBooksSimulator:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator not started")
        host = str(self._server.server_address[0])
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}{DISCOVERY_PATHS[0]}"

    # -- controls ----------------------------------------------------------------------------

    def issue_refresh_token(
        self,
        realm_id: str | None = None,
        lifetime_s: float | None = None,
        hard_lifetime_s: float | None = None,
    ) -> str:
        """A refresh token of a new grant (a connection). `lifetime_s` overrides how long this
        token lives, `hard_lifetime_s` how long the grant may last at most."""
        return self.oauth.issue_refresh_token(
            realm_id or self.config.realm_id, lifetime_s, hard_lifetime_s
        )

    def revoke_all(self, realm_id: str | None = None) -> int:
        """Disconnects every grant of the realm from outside (as the company's admin would):
        the next refresh answers 400 invalid_grant, API calls 401. Returns how many grants were
        live. A token from issue_refresh_token() afterwards is a fresh connection."""
        return self.oauth.revoke_all(realm_id or self.config.realm_id)

    # -- the company's customers, from outside the API ---------------------------------------

    def load_customers(
        self,
        customers: Sequence[dict[str, Any]],
        realm_id: str | None = None,
        define_custom_fields: bool = True,
    ) -> int:
        """Adds existing customers (QBO Customer JSON, as in customers.json) in one transaction.

        Their Ids, SyncTokens, MetaData, Active, Balance and CustomField entries are kept; later
        creates get Ids above the highest. Raises ValueError (loading none) on an Id or
        DisplayName clash. CustomField DefinitionIds become company custom field definitions
        (config.custom_field_definitions) unless `define_custom_fields` is False.
        """
        realm = realm_id or self.config.realm_id
        return self.api.customers.load(realm, list(customers), define_custom_fields)

    def edit_customer(
        self, customer_id: str | int, realm_id: str | None = None, **changes: Any
    ) -> dict[str, Any]:
        """Changes a customer as finance staff would in QuickBooks (no SyncToken needed):
        e.g. edit_customer("58", Notes="Paid", PrimaryPhone="0788...", Active=False,
        Balance=120.5). SyncToken goes up, MetaData.LastUpdatedTime moves on; None removes a
        field. KeyError for an unknown Id, ValueError for a clashing DisplayName."""
        return self.api.customers.edit(realm_id or self.config.realm_id, customer_id, changes)

    def deactivate_customer(
        self, customer_id: str | int, realm_id: str | None = None
    ) -> dict[str, Any]:
        """Makes a customer inactive (it keeps its DisplayName), as deleting one in QBO does."""
        return self.edit_customer(customer_id, realm_id, Active=False)

    def get_customer(
        self, customer_id: str | int, realm_id: str | None = None
    ) -> dict[str, Any] | None:
        """The stored customer (custom fields included), or None."""
        try:
            cid = int(str(customer_id))
        except ValueError:
            return None
        return self.store.get_customer(realm_id or self.config.realm_id, cid)

    @property
    def faults(self) -> Faults:
        return self._faults.faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._faults.set(value)

    def set_faults(self, **changes: Any) -> Faults:
        """Changes only the given Faults fields; takes effect on the next request."""
        return self._faults.update(**changes)

    def inspect(
        self, realm_id: str | None = None, customer_limit: int | None = None
    ) -> SimulatorState:
        realm = realm_id or self.config.realm_id
        with self.store.lock:
            customers = self.store.all_customers(realm, customer_limit)
            count = self.store.count_customers(realm)
        return self.stats.snapshot(customers, count)

    def reset(self) -> None:
        """Forgets customers, cached requestid answers, the request log, counters, throttle
        windows and faults. Config and OAuth grants stay, so connected clients stay connected."""
        self.store.reset_data()
        self.stats.reset()
        self.throttler.reset()
        self._faults.set(Faults())

    # -- HTTP dispatch -----------------------------------------------------------------------

    def dispatch(self, req: Request) -> Response:
        if self._stopped:
            return Response(503, drop=True)
        if self.api.handles(req.path):
            return self.api.handle(req)
        if self.oauth.handles(req.path):
            host = req.header("Host")
            base = f"http://{host}" if host else self.base_url
            return self.oauth.handle(req, base)
        if req.path.startswith(ADMIN_PREFIX):
            return self._admin(req)
        return json_response(404, {"error": "not_found", "path": req.path})

    def _admin(self, req: Request) -> Response:
        action = req.path[len(ADMIN_PREFIX) :].strip("/")
        try:
            data = req.json() if req.body else {}
        except ValueError:
            return json_response(400, {"error": "body must be JSON"})
        try:
            return self._admin_action(req, action, data)
        except KeyError as exc:
            return json_response(404, {"error": str(exc.args[0]) if exc.args else "not found"})
        except (ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})

    def _admin_action(self, req: Request, action: str, data: Any) -> Response:
        parts = action.split("/")
        realm = req.params.get("realm_id") or None
        if action == "customers/load" and req.method == "POST":
            # Body: a list of customers, or {"customers": [...], "realm_id": "..."}.
            if isinstance(data, dict):
                realm = str(data.get("realm_id") or realm or "") or None
                data = data.get("customers")
            if not isinstance(data, list):
                raise ValueError('body must be a list of customers or {"customers": [...]}')
            realm = realm or self.config.realm_id
            loaded = self.load_customers(data, realm)
            next_id = self.store.peek_next_customer_id(realm)
            return json_response(200, {"loaded": loaded, "realm_id": realm, "next_id": next_id})
        if len(parts) in (2, 3) and parts[0] == "customers" and parts[1] != "load":
            return self._admin_customer(req, parts[1], parts[2:], data, realm)
        if not isinstance(data, dict):
            return json_response(400, {"error": "body must be a JSON object"})
        if action == "state" and req.method == "GET":
            limit = int(req.params.get("customer_limit", DEFAULT_STATE_CUSTOMER_LIMIT))
            state = self.inspect(req.params.get("realm_id"), limit)
            return json_response(200, state.to_dict())
        if action == "faults" and req.method in ("GET", "POST"):
            if req.method == "POST":
                known = {f.name for f in fields(Faults)}
                unknown = sorted(set(data) - known)
                if unknown:
                    return json_response(400, {"error": f"unknown fault fields: {unknown}"})
                self.set_faults(**data)
            return json_response(200, asdict(self.faults))
        if action == "reset" and req.method == "POST":
            self.reset()
            return json_response(200, {"ok": True})
        if action == "refresh-token" and req.method == "POST":
            realm = str(data.get("realm_id") or realm or self.config.realm_id)
            token = self.issue_refresh_token(
                realm, _number(data.get("lifetime_s")), _number(data.get("hard_lifetime_s"))
            )
            return json_response(200, {"refresh_token": token, "realm_id": realm})
        if action == "revoke" and req.method == "POST":
            realm = str(data.get("realm_id") or realm or self.config.realm_id)
            return json_response(200, {"revoked": self.revoke_all(realm), "realm_id": realm})
        return json_response(404, {"error": "unknown admin endpoint"})

    def _admin_customer(
        self, req: Request, raw_id: str, rest: list[str], data: Any, realm: str | None
    ) -> Response:
        """GET customers/{id}; POST customers/{id}/edit (body: the changes);
        POST customers/{id}/deactivate."""
        if not rest and req.method == "GET":
            customer = self.get_customer(raw_id, realm)
            if customer is None:
                raise KeyError(f"no Customer Id={raw_id}")
            return json_response(200, {"Customer": customer})
        if rest == ["edit"] and req.method == "POST":
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object of the fields to change")
            return json_response(200, {"Customer": self.edit_customer(raw_id, realm, **data)})
        if rest == ["deactivate"] and req.method == "POST":
            return json_response(200, {"Customer": self.deactivate_customer(raw_id, realm)})
        return json_response(404, {"error": "unknown admin endpoint"})


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
