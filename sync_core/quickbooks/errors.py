"""QuickBooks answers that are not successes, as typed errors the sync engine can act on.

Each error says what happened in QuickBooks' own words (code, message, detail) and what an
operator should do about it (``what_to_do``, from the code table below). None of them ever
carries a token or a header.
"""

from __future__ import annotations

import email.utils
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from sync_core.domain.errors import ErrorCategory, SyncError

# What an operator should do about each QuickBooks error code.
HINTS = {
    "6240": "Another customer, vendor or employee already has this name in QuickBooks.",
    "2050": "A value is longer than QuickBooks allows: shorten it in the MIS.",
    "2170": "A value has characters QuickBooks refuses: correct it in the MIS.",
    "2020": "A required value is missing: complete the record in the MIS.",
    "6000": "QuickBooks refused a value: correct the record in the MIS and retry.",
    "5010": "The customer changed in QuickBooks meanwhile: read it again and retry.",
    "610": "The customer no longer exists in QuickBooks.",
    "3200": "QuickBooks rejected the connection: reconnect on the QuickBooks page.",
    "3001": "QuickBooks is throttling requests: retry later.",
}

_EXISTING_ID = re.compile(r"Id\s*=\s*(\d+)")


class QuickBooksError(SyncError):
    """Base: ``kind`` names the class of problem for tables and counts."""

    category = ErrorCategory.QUICKBOOKS
    kind = "error"
    retryable = False
    # QuickBooks cannot be used at all (unreachable, down, throttling without end, the
    # connection refused): a run stops instead of failing record after record
    stops_run = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        detail: str | None = None,
        status: int | None = None,
        intuit_tid: str | None = None,
        element: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail
        self.status = status
        self.intuit_tid = intuit_tid
        self.element = element

    @property
    def what_to_do(self) -> str:
        return self._what_to_do or HINTS.get(self.code or "", "")

    def describe(self) -> str:
        """One readable line: message, detail and code, without repeating itself."""
        text = self.message
        if self.detail and self.detail not in text:
            text = f"{text}: {self.detail}"
        if self.code and f"({self.code})" not in text:
            text = f"{text} (code {self.code})"
        return text

    def __str__(self) -> str:
        return self.describe()


class ValidationError(QuickBooksError):
    """QuickBooks refused the data (HTTP 400 ValidationFault): fix the record, do not retry."""

    kind = "validation"


class DuplicateNameError(ValidationError):
    """Code 6240: the DisplayName is taken (by a customer, vendor or employee)."""

    kind = "duplicate_name"

    @property
    def existing_id(self) -> str | None:
        match = _EXISTING_ID.search(self.detail or "") or _EXISTING_ID.search(self.message)
        return match.group(1) if match else None


class NotFoundError(ValidationError):
    kind = "not_found"


class StaleObjectError(ValidationError):
    kind = "stale_object"


class QueryError(ValidationError):
    kind = "query"


class AuthenticationError(QuickBooksError):
    """The access token was refused even after one refresh, or the refresh token is dead."""

    kind = "authentication"
    stops_run = True

    @property
    def what_to_do(self) -> str:
        return HINTS["3200"]


class NotConnectedError(AuthenticationError):
    kind = "not_connected"

    @property
    def what_to_do(self) -> str:
        return "QuickBooks is not connected: connect on the QuickBooks page (or `connect`)."


class ThrottledError(QuickBooksError):
    kind = "throttled"
    retryable = True
    stops_run = True
    retry_after_s: float | None = None  # QuickBooks' Retry-After, when it sent one


class ServerError(QuickBooksError):
    category = ErrorCategory.UNAVAILABLE
    kind = "server"
    retryable = True
    stops_run = True

    @property
    def what_to_do(self) -> str:
        return "QuickBooks had a server problem: retry later."


class NetworkError(QuickBooksError):
    """No answer (connection refused or dropped, timeout): the outcome of a POST is unknown."""

    category = ErrorCategory.UNAVAILABLE
    kind = "network"
    retryable = True
    stops_run = True

    @property
    def what_to_do(self) -> str:
        return "No answer from QuickBooks: retrying checks QuickBooks first, so no duplicate."


_BY_CODE: dict[str, type[ValidationError]] = {
    "6240": DuplicateNameError,
    "610": NotFoundError,
    "5010": StaleObjectError,
    "4000": QueryError,
    "4001": QueryError,
}


def _lower_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def error_from_fault(
    fault: Mapping[str, Any] | None, status: int | None = None, intuit_tid: str | None = None
) -> QuickBooksError:
    """Build the typed error from a ``Fault`` object (any key case: 401 bodies are lower-case)."""
    fault = _lower_keys(fault or {})
    errors = fault.get("error") or [{}]
    first = errors[0] if isinstance(errors, list) and errors else {}
    code = str(first.get("code") or "") or None
    message = str(first.get("message") or "QuickBooks returned an error")
    detail = first.get("detail")
    fault_type = str(fault.get("type") or "").lower()
    kwargs: dict[str, Any] = {
        "code": code,
        "detail": detail,
        "status": status,
        "intuit_tid": intuit_tid,
        "element": first.get("element") or None,
    }
    if status == 401 or fault_type.startswith("authentication") or code == "3200":
        return AuthenticationError(message, **kwargs)
    if status == 429 or code == "3001":
        return ThrottledError(message, **kwargs)
    if (status is not None and status >= 500) or fault_type == "systemfault":
        return ServerError(message, **kwargs)
    return _BY_CODE.get(code or "", ValidationError)(message, **kwargs)


def error_from_response(status: int, body: Any, intuit_tid: str | None = None) -> QuickBooksError:
    """Typed error for a non-2xx HTTP answer, whatever its body looks like."""
    if isinstance(body, Mapping):
        fault = body.get("Fault") or body.get("fault")
        if fault:
            return error_from_fault(fault, status, intuit_tid)
    text = {401: "Authentication failed", 429: "Throttled", 403: "Forbidden"}.get(
        status, f"HTTP {status} from QuickBooks"
    )
    return error_from_fault({"Error": [{"Message": text}]}, status, intuit_tid)


def fault_from_xml(text: str) -> dict[str, Any] | None:
    """QuickBooks answers some errors (a 429 above all) in XML even to a JSON request:
    ``<IntuitResponse><Fault type=".."><Error code="3001"><Message>..</Message>
    <Detail>..</Detail></Error></Fault></IntuitResponse>``. Answers the same shape a JSON body
    has (``{"Fault": {...}}``), or None when the text is not such a fault."""
    if not text or "<" not in text:
        return None
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError:
        return None
    fault = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Fault"), None)
    if fault is None:
        return None
    errors = []
    for error in (e for e in fault.iter() if e.tag.rsplit("}", 1)[-1] == "Error"):
        found = {c.tag.rsplit("}", 1)[-1]: (c.text or "").strip() for c in error}
        errors.append(
            {
                "code": error.get("code"),
                "Message": found.get("Message", ""),
                "Detail": found.get("Detail", ""),
                "element": error.get("element") or "",
            }
        )
    return {"Fault": {"type": fault.get("type") or "", "Error": errors}}


def retry_after_seconds(value: str | None) -> float | None:
    """An HTTP Retry-After header (seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
