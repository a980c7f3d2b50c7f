"""The /v3/company/{realmId}/... API: faults, auth, throttling, idempotency, then the entities."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from .config import SimulatorConfig
from .customers import Customers
from .errors import (
    ApiError,
    authentication_body,
    qbo_time,
    query_error,
    system_fault,
    throttled,
    throttled_xml,
    validation,
)
from .faults import FaultInjector, Throttler
from .messages import Request, Response, json_response
from .oauth import OAuthServer
from .stats import RequestRecord, Stats
from .store import Store

log = logging.getLogger("qbo_simulator")

API_PATH = re.compile(r"^/v3/company/([^/]+)/?(.*)$")


def _with_time(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "time": qbo_time()}


def _error_response(err: ApiError) -> Response:
    return json_response(err.status, err.body())


def _unsupported_operation(what: str) -> ApiError:
    return validation("500", "Unsupported Operation", f"Operation {what} is not supported.")


class Api:
    def __init__(
        self,
        store: Store,
        config: SimulatorConfig,
        faults: FaultInjector,
        throttler: Throttler,
        stats: Stats,
        oauth: OAuthServer,
    ) -> None:
        self.store = store
        self.config = config
        self.faults = faults
        self.throttler = throttler
        self.stats = stats
        self.oauth = oauth
        self.customers = Customers(store, config)

    @staticmethod
    def handles(path: str) -> bool:
        return API_PATH.match(path) is not None

    def handle(self, req: Request) -> Response:
        started = time.time()
        match = API_PATH.match(req.path)
        assert match is not None
        realm, rest = match.group(1), [p for p in match.group(2).split("/") if p]
        replayed = False
        try:
            response, replayed = self._pipeline(req, realm, rest)
        except Exception:  # a simulator bug must still look like a QBO SystemFault
            log.exception("simulator error on %s %s", req.method, req.path)
            response = _error_response(system_fault(500))
        self.stats.record(
            RequestRecord(
                method=req.method,
                path=req.path,
                params=dict(req.params),
                status=response.status,
                realm=realm,
                time=started,
                had_authorization=bool(req.header("Authorization")),
                dropped=response.drop,
                replayed=replayed,
                duration_ms=round((time.time() - started) * 1000, 3),
            )
        )
        suffix = " (dropped)" if response.drop else ""
        log.debug("%s %s -> %s%s", req.method, req.path, response.status, suffix)
        return response

    def _reject(self, response: Response) -> tuple[Response, bool]:
        time.sleep(self.faults.latency_s())
        return response, False

    def _throttled(self) -> Response:
        """429 code 3001: JSON, or QBO's XML form; a Retry-After header only when configured."""
        faults = self.faults.faults
        if faults.xml_throttle_body or self.config.xml_throttle_body:
            response = Response(429, throttled_xml(), content_type="application/xml")
        else:
            response = _error_response(throttled())
        retry_after = faults.retry_after_s
        if retry_after is None:
            retry_after = self.config.retry_after_s
        if retry_after is not None:
            # Whole seconds are what HTTP allows; a fraction is sent as is so tests stay fast.
            seconds = float(retry_after)
            response.headers["Retry-After"] = (
                str(int(seconds)) if seconds.is_integer() else f"{seconds:g}"
            )
        return response

    def _pipeline(self, req: Request, realm: str, rest: list[str]) -> tuple[Response, bool]:
        if self.faults.faults.api_down:
            self.stats.bump("api_down_answers")
            if self.faults.faults.down_mode == "drop":
                return Response(503, drop=True), False
            return self._reject(_error_response(system_fault(503)))
        status = self.faults.server_error()
        if status is not None:
            self.stats.bump("server_errors_sent")
            return self._reject(_error_response(system_fault(status)))
        problem = self.oauth.access_problem(req.header("Authorization"), realm)
        if problem is not None:
            self.stats.bump("unauthorized_count")
            return self._reject(json_response(401, authentication_body(problem)))
        is_batch = req.method == "POST" and rest == ["batch"]
        if self.faults.storm_active() or not self.throttler.acquire(realm, is_batch):
            self.stats.bump("throttled_count")
            return self._reject(self._throttled())
        try:
            time.sleep(self.faults.latency_s())
            return self._route(req, realm, rest)
        finally:
            self.throttler.release(realm)

    def _wants_custom_fields(self, req: Request) -> bool:
        """include=enhancedAllCustomFields, honoured from minorversion 70 on (as QBO documents);
        without it Customer custom fields are neither written nor returned."""
        if "enhancedallcustomfields" not in req.params.get("include", "").lower():
            return False
        try:
            minor = int(req.params.get("minorversion", "0"))
        except ValueError:
            return False
        return minor >= self.config.custom_fields_min_minorversion

    def _refuse_query(self, text: str) -> None:
        refused = self.faults.faults.refuse_query_containing
        if refused and refused in text:
            raise query_error(f'Encountered " "{refused}" " the parser cannot read.')

    def _route(self, req: Request, realm: str, rest: list[str]) -> tuple[Response, bool]:
        include = self._wants_custom_fields(req)
        method = req.method
        entity = rest[0].lower() if rest else ""
        try:
            if entity == "customer" and method == "POST" and len(rest) == 1:
                return self._customer_post(req, realm, include)
            if entity == "customer" and method == "GET" and len(rest) == 2:
                record = self.customers.get(realm, rest[1])
                body = {"Customer": self.customers.output(record, include)}
                return json_response(200, _with_time(body)), False
            if entity == "query" and len(rest) == 1 and method in ("GET", "POST"):
                text = req.params.get("query", "")
                if method == "POST" and req.body:
                    text = req.body.decode("utf-8", "replace")
                self._refuse_query(text)
                answer = self.customers.query(realm, text, include)
                return json_response(200, _with_time({"QueryResponse": answer})), False
            if entity == "batch" and method == "POST" and len(rest) == 1:
                return self._batch(req, realm, include)
            if entity == "companyinfo" and method == "GET" and len(rest) == 2:
                if rest[1] != realm:
                    raise validation("610", "Object Not Found", "Object Not Found : CompanyInfo")
                body = {"CompanyInfo": self.customers.company_info(realm)}
                return json_response(200, _with_time(body)), False
            raise _unsupported_operation(f"{method} /{'/'.join(rest)}")
        except ApiError as err:
            return _error_response(err), False

    # -- writes: idempotent on requestid ---------------------------------------------------

    def _idempotent(
        self, req: Request, realm: str, work: Callable[[], tuple[Response, bool]]
    ) -> tuple[Response, bool]:
        """Runs `work` once per (realm, requestid); a repeat gets the first answer byte for byte.

        `work` returns (response, droppable); the cached answer is stored before any drop so a
        replay after a lost answer returns what was committed.
        """
        requestid = req.params.get("requestid")
        longest = 36 if req.path.rstrip("/").endswith("/batch") else 50
        if requestid and len(requestid) > longest:
            detail = f"requestid may be at most {longest} characters, not {len(requestid)}"
            return _error_response(validation("2500", "Invalid requestid", detail)), False
        with self.store.lock:
            if requestid:
                cached = self.store.get_replay(realm, requestid)
                if cached is not None:
                    self.stats.bump("requestid_replays")
                    return Response(cached[0], cached[1]), True
            response, droppable = work()
            if requestid:
                now = time.time()
                self.store.save_replay(realm, requestid, response.status, response.body, now)
        if droppable and response.status == 200 and self.faults.drop():
            self.stats.bump("dropped_responses")
            response.drop = True
        return response, False

    @staticmethod
    def _json_body(req: Request) -> Any:
        try:
            return req.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise validation(
                "2010",
                "Request has invalid or unsupported property",
                f"Unable to parse the request body as JSON: {exc}",
            ) from exc

    def _customer_post(self, req: Request, realm: str, include: bool) -> tuple[Response, bool]:
        def work() -> tuple[Response, bool]:
            try:
                created, record = self.customers.save(realm, self._json_body(req), include)
            except ApiError as err:
                return _error_response(err), False
            body = {"Customer": self.customers.output(record, include)}
            return json_response(200, _with_time(body)), created

        return self._idempotent(req, realm, work)

    def _batch(self, req: Request, realm: str, include: bool) -> tuple[Response, bool]:
        def work() -> tuple[Response, bool]:
            try:
                items = self._batch_items(req)
            except ApiError as err:
                return _error_response(err), False
            with self.store.transaction():
                answers = [self._batch_item(realm, item, include) for item in items]
            # QBO does not promise the request order: answers go back shuffled, so clients
            # must match them to requests by bId, never by position.
            self.faults.shuffle(answers)
            return json_response(200, _with_time({"BatchItemResponse": answers})), True

        return self._idempotent(req, realm, work)

    def _batch_items(self, req: Request) -> list[dict[str, Any]]:
        data = self._json_body(req)
        items = data.get("BatchItemRequest") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise validation(
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter BatchItemRequest is missing in the request",
            )
        limit = self.config.max_batch_items
        if len(items) > limit:
            raise validation(
                "1040",
                "Batch size exceeds allowed limit",
                f"Batch size exceeds the allowed limit: {len(items)} items supplied, at most "
                f"{limit} are allowed.",
            )
        seen: set[str] = set()
        for item in items:
            bid = item.get("bId") if isinstance(item, dict) else None
            if bid in (None, ""):
                raise validation(
                    "2020",
                    "Required param missing, need to supply the required value for the API",
                    "Required parameter bId is missing in a BatchItemRequest",
                )
            if str(bid) in seen:
                raise validation("2010", "Duplicate bId", f"bId {bid} is used more than once")
            seen.add(str(bid))
        return items

    def _batch_item(self, realm: str, item: dict[str, Any], include: bool) -> dict[str, Any]:
        bid = str(item["bId"])
        try:
            if "Query" in item:
                self._refuse_query(str(item["Query"]))
                answer = self.customers.query(realm, str(item["Query"]), include)
                return {"bId": bid, "QueryResponse": answer}
            if "Customer" in item:
                operation = str(item.get("operation", "")).lower()
                if operation == "create":
                    record = self.customers.create(realm, item["Customer"], include)
                elif operation == "update":
                    record = self.customers.update(realm, item["Customer"], include)
                else:
                    raise _unsupported_operation(f"{operation or '(none)'} on Customer")
                return {"bId": bid, "Customer": self.customers.output(record, include)}
            entities = [k for k in item if k not in ("bId", "operation", "optionsData")]
            raise _unsupported_operation(f"batch item {', '.join(entities) or '(empty)'}")
        except ApiError as err:
            return {"bId": bid, "Fault": err.fault()}
