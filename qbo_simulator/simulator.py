"""QuickBooksSimulator: wires store, OAuth, API, faults and admin endpoints to an HTTP server."""

from __future__ import annotations

import logging
import threading
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
    ) -> None:
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

    def issue_refresh_token(self, realm_id: str | None = None) -> str:
        return self.oauth.issue_refresh_token(realm_id or self.config.realm_id)

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
            realm = str(data.get("realm_id") or self.config.realm_id)
            token = self.issue_refresh_token(realm)
            return json_response(200, {"refresh_token": token, "realm_id": realm})
        return json_response(404, {"error": "unknown admin endpoint"})
