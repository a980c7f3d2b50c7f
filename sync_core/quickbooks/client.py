"""QuickBooks Online Accounting API client for Customers: create, read, sparse update, query,
batch. Over ``requests``; retries with tenacity; limits per realm; every call audited.

Every call carries ``minorversion``; every POST carries a ``requestid`` (QuickBooks answers a
repeated requestid with its first answer, so a retried create is never a second customer).
Failures become the typed errors of :mod:`sync_core.quickbooks.errors`. 429, 5xx and no answer
are retried with bounded exponential backoff and jitter; a 401 leads to one token refresh and
one repeat.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from sync_core import defaults
from sync_core.quickbooks import query as q
from sync_core.quickbooks.errors import (
    AuthenticationError,
    NetworkError,
    QueryError,
    QuickBooksError,
    ThrottledError,
    error_from_fault,
    error_from_response,
    fault_from_xml,
    retry_after_seconds,
)
from sync_core.quickbooks.limiter import Lane, Limits, RealmLimiter, limiter_for
from sync_core.quickbooks.ports import AuditEntry, Auditor, CallContext, TokenProvider

MAX_BATCH_ITEMS = defaults.MAX_BATCH_ITEMS
THROTTLE_WAIT_MAX_S = 300.0  # a Retry-After longer than this is capped (and retried again)
USER_AGENT = "mis-quickbooks-customer-sync/0.1"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0


@dataclass
class NameSearch:
    found: list[dict[str, Any]] = field(default_factory=list)
    unsearchable: set[str] = field(default_factory=set)  # names QuickBooks refused to search


@dataclass(frozen=True)
class BatchItemResult:
    bid: str
    entity: dict[str, Any] | None = None  # the Customer, for create/update items
    query: dict[str, Any] | None = None  # the QueryResponse, for query items
    error: QuickBooksError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def new_requestid() -> str:
    return uuid.uuid4().hex


class QuickBooksClient:
    def __init__(
        self,
        base_url: str,
        realm_id: str,
        tokens: TokenProvider,
        *,
        limits: Limits | None = None,
        limiter: RealmLimiter | None = None,
        audit: Auditor | None = None,
        minor_version: int = defaults.MINOR_VERSION,
        connect_timeout_s: float = defaults.CONNECT_TIMEOUT_S,
        read_timeout_s: float = defaults.READ_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        include_custom_fields: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.realm_id = realm_id
        self.tokens = tokens
        self.limiter = limiter or limiter_for(realm_id, limits or Limits())
        self.audit = audit
        self.minor_version = minor_version
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.retry = retry or RetryPolicy()
        self._backoff = wait_random_exponential(
            multiplier=self.retry.initial_wait_s, max=self.retry.max_wait_s
        )
        self.include_custom_fields = include_custom_fields
        self._local = threading.local()

    # ------------------------------------------------------------------ HTTP

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            size = self.limiter.limits.max_concurrent
            session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=size))
            session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=size))
            self._local.session = session
        return session

    def _url(self, path: str) -> str:
        return f"{self.base_url}/v3/company/{self.realm_id}/{path}"

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, str],
        token: Callable[[], str],
        json_body: Any,
        text_body: str | None,
        lane: Lane,
        context: CallContext,
        attempt: int,
    ) -> Any:
        """One HTTP request. The access token is taken only once the limiter lets the request
        go: a wait for QuickBooks' limit can outlast an access token."""
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if text_body is not None:
            headers["Content-Type"] = "application/text"
        elif json_body is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        status = None
        tid = None
        error: QuickBooksError | None = None
        body: Any = None
        try:
            with self.limiter.slot(lane):
                headers["Authorization"] = f"Bearer {token()}"
                response = self._session().request(
                    method,
                    self._url(path),
                    params=params,
                    json=json_body,
                    data=text_body.encode("utf-8") if text_body is not None else None,
                    headers=headers,
                    timeout=self.timeout,
                )
            status = response.status_code
            tid = response.headers.get("intuit_tid")
            try:
                body = response.json()
            except ValueError:
                body = fault_from_xml(response.text)  # throttle answers come as XML
            if status >= 400:
                error = error_from_response(status, body, tid)
                if isinstance(error, ThrottledError):
                    error.retry_after_s = retry_after_seconds(response.headers.get("Retry-After"))
            elif isinstance(body, Mapping) and (body.get("Fault") or body.get("fault")):
                error = error_from_fault(body.get("Fault") or body.get("fault"), status, tid)
            elif body is None:
                error = NetworkError("QuickBooks answered without a JSON body", status=status)
        except requests.Timeout:
            error = NetworkError(f"No answer from QuickBooks within {self.timeout[1]:g} s")
        except requests.ConnectionError as exc:
            reason = type(getattr(exc, "args", [None])[0] or exc).__name__
            error = NetworkError(f"Connection to QuickBooks failed or dropped ({reason})")
        duration_ms = int((time.monotonic() - started) * 1000)
        if self.audit is not None:
            summary = error.describe() if error else _batch_fault_summary(body)
            self.audit.record(
                AuditEntry(
                    operation=operation,
                    records=context.records,
                    requestid=params.get("requestid"),
                    http_status=status,
                    error_code=(error.code or error.kind) if error else None,
                    error_message=summary,
                    intuit_tid=tid,
                    duration_ms=duration_ms,
                    attempt=attempt,
                    run_id=context.run_id,
                )
            )
        if error is not None:
            raise error
        return body

    def _request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        text_body: str | None = None,
        requestid: str | None = None,
        lane: Lane = Lane.REQUEST,
        context: CallContext | None = None,
    ) -> Any:
        all_params = {"minorversion": str(self.minor_version), **(params or {})}
        if method == "POST":
            all_params["requestid"] = requestid or new_requestid()
        context = context or CallContext()
        state = {"attempt": 0}

        def attempt_once() -> Any:
            """One try: a refused access token is refreshed once and the call repeated; a
            token refused right after its refresh means the connection itself is gone. (A later
            try may refresh again: under long throttling waits a token can expire twice.)"""
            state["attempt"] += 1
            carried: list[str] = []

            def current_token() -> str:
                carried.append(self.tokens.access_token())
                return carried[-1]

            kwargs = {
                "operation": operation,
                "params": all_params,
                "json_body": json_body,
                "text_body": text_body,
                "lane": lane,
                "context": context,
            }
            try:
                return self._send_once(
                    method, path, token=current_token, attempt=state["attempt"], **kwargs
                )
            except AuthenticationError:
                if not carried:  # no token could be had at all: not a refusal to retry
                    raise
                fresh = self.tokens.refresh_access_token(rejected=carried[-1])
                state["attempt"] += 1
                return self._send_once(
                    method, path, token=lambda: fresh, attempt=state["attempt"], **kwargs
                )

        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, QuickBooksError) and e.retryable),
            wait=self._wait_before_retry,
            stop=stop_after_attempt(self.retry.attempts),
            reraise=True,
        )
        return retrying(attempt_once)

    def _wait_before_retry(self, retry_state: RetryCallState) -> float:
        """After a 429: QuickBooks' Retry-After when it sends one, else the minute Intuit
        advises (the limiter's window, which tests shrink); otherwise exponential backoff with
        jitter."""
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, ThrottledError):
            if error.retry_after_s is not None:
                return max(0.0, min(error.retry_after_s, THROTTLE_WAIT_MAX_S))
            return self.limiter.limits.window_s
        return float(self._backoff(retry_state))

    def _customer_params(self, *, read: bool = False) -> dict[str, str]:
        """Custom field values come back only when asked for: always on reads (the earlier
        integration identified students by a RegNo custom field), on writes when the product
        writes some."""
        if read or self.include_custom_fields:
            return {"include": "enhancedAllCustomFields"}
        return {}

    # ------------------------------------------------------------- Customers

    def create_customer(
        self,
        customer: Mapping[str, Any],
        *,
        requestid: str | None = None,
        context: CallContext | None = None,
        lane: Lane = Lane.REQUEST,
    ) -> dict[str, Any]:
        """One create. A run's single creates go as :attr:`Lane.SPARE`: they spend only the
        allowance batches and look-ups leave."""
        body = self._request(
            "POST",
            "customer",
            operation="customer.create",
            params=self._customer_params(),
            json_body=dict(customer),
            requestid=requestid,
            lane=lane,
            context=context,
        )
        return body["Customer"]

    def get_customer(self, customer_id: str, *, context: CallContext | None = None) -> dict:
        body = self._request(
            "GET",
            f"customer/{customer_id}",
            operation="customer.read",
            params=self._customer_params(read=True),
            context=context,
        )
        return body["Customer"]

    def update_customer(
        self,
        customer_id: str,
        sync_token: str,
        changes: Mapping[str, Any],
        *,
        requestid: str | None = None,
        context: CallContext | None = None,
        lane: Lane = Lane.REQUEST,
    ) -> dict[str, Any]:
        """Sparse update: only ``changes`` are touched."""
        payload = {**changes, "Id": str(customer_id), "SyncToken": str(sync_token), "sparse": True}
        body = self._request(
            "POST",
            "customer",
            operation="customer.update",
            params=self._customer_params(),
            json_body=payload,
            requestid=requestid,
            lane=lane,
            context=context,
        )
        return body["Customer"]

    # ----------------------------------------------------------------- Query

    def query(self, statement: str, *, context: CallContext | None = None) -> dict[str, Any]:
        """Run one query statement; answers the ``QueryResponse`` object."""
        body = self._request(
            "POST",
            "query",
            operation="query",
            params=self._customer_params(read=True),
            text_body=statement,
            context=context,
        )
        return body.get("QueryResponse") or {}

    def query_customers(
        self, where: str | None = None, *, context: CallContext | None = None
    ) -> Iterator[dict[str, Any]]:
        """All customers matching ``where``, 1,000 per request."""
        start = 1
        while True:
            page = self.query(q.select_customers(where, start, q.MAX_RESULTS), context=context)
            customers = page.get("Customer") or []
            yield from customers
            if len(customers) < q.MAX_RESULTS:
                return
            start += len(customers)

    def count_customers(self, where: str | None = None) -> int:
        return int(self.query(q.count_customers(where)).get("totalCount", 0))

    def find_customers_by_display_name(
        self, names: Sequence[str], *, context: CallContext | None = None, chunk: int = 50
    ) -> list[dict[str, Any]]:
        """Customers holding any of ``names`` (inactive ones too). A name QuickBooks' query
        parser refuses is left out (see :meth:`search_display_names`)."""
        return self.search_display_names(names, context=context, chunk=chunk).found

    def search_display_names(
        self, names: Sequence[str], *, context: CallContext | None = None, chunk: int = 50
    ) -> NameSearch:
        """One query per ``chunk`` names. When QuickBooks refuses a query (its parser chokes on
        one name), the chunk is halved until the names it refuses are alone: one odd name
        never blinds the look-up of its neighbours."""
        names = [n for n in dict.fromkeys(names) if n]
        result = NameSearch()
        for i in range(0, len(names), chunk):
            self._search(names[i : i + chunk], context, result)
        return result

    def _search(self, names: list[str], context: CallContext | None, result: NameSearch) -> None:
        # inactive customers still hold their name, but queries hide them unless asked
        where = f"{q.display_name_in(names)} AND Active IN (true, false)"
        try:
            result.found.extend(self.query_customers(where, context=context))
        except QueryError:
            if len(names) == 1:
                result.unsearchable.add(names[0])
                return
            middle = len(names) // 2
            self._search(names[:middle], context, result)
            self._search(names[middle:], context, result)

    # ----------------------------------------------------------------- Batch

    def batch(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        requestid: str | None = None,
        context: CallContext | None = None,
    ) -> dict[str, BatchItemResult]:
        """Up to 30 items; answers keyed by ``bId`` (QuickBooks does not keep their order)."""
        if not items:
            return {}
        if len(items) > MAX_BATCH_ITEMS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_ITEMS} items, got {len(items)}")
        bids = [str(item["bId"]) for item in items]
        if len(set(bids)) != len(bids):
            raise ValueError("bId values must be unique within a batch")
        body = self._request(
            "POST",
            "batch",
            operation="batch",
            params=self._customer_params(),
            json_body={"BatchItemRequest": [dict(i) for i in items]},
            requestid=requestid,
            lane=Lane.BATCH,
            context=context,
        )
        results: dict[str, BatchItemResult] = {}
        for answer in body.get("BatchItemResponse") or []:
            bid = str(answer.get("bId"))
            if bid not in bids:
                continue
            if answer.get("Fault"):
                results[bid] = BatchItemResult(bid, error=error_from_fault(answer["Fault"]))
            elif "QueryResponse" in answer:
                results[bid] = BatchItemResult(bid, query=answer["QueryResponse"])
            else:
                entity = next((v for k, v in answer.items() if k != "bId"), None)
                results[bid] = BatchItemResult(bid, entity=entity)
        for bid in bids:
            if bid not in results:
                results[bid] = BatchItemResult(
                    bid, error=NetworkError("QuickBooks answered the batch without this item")
                )
        return results


def batch_create_item(bid: str, customer: Mapping[str, Any]) -> dict[str, Any]:
    return {"bId": bid, "operation": "create", "Customer": dict(customer)}


def _batch_fault_summary(body: Any) -> str | None:
    """ "2 of 30 items refused: 6240 x2" for the audit row of a batch answer."""
    if not isinstance(body, Mapping) or "BatchItemResponse" not in body:
        return None
    items = body.get("BatchItemResponse") or []
    codes: dict[str, int] = {}
    for item in items:
        fault = item.get("Fault")
        if fault:
            code = str(((fault.get("Error") or [{}])[0]).get("code") or "?")
            codes[code] = codes.get(code, 0) + 1
    if not codes:
        return None
    failed = sum(codes.values())
    detail = ", ".join(f"{code} x{n}" for code, n in sorted(codes.items()))
    return f"{failed} of {len(items)} items refused: {detail}"
