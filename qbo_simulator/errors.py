"""QuickBooks fault bodies and timestamps."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

# QBO answers in the Intuit servers' Pacific offset, not UTC; a fixed -07:00 keeps clients honest
# about parsing offsets instead of assuming "Z".
COMPANY_TZ = timezone(timedelta(hours=-7))


def qbo_time(ts: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, COMPANY_TZ)
    return moment.isoformat(timespec="milliseconds")


class ApiError(Exception):
    """A QuickBooks Fault: HTTP status plus one Error entry."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: str,
        fault_type: str = "ValidationFault",
        element: str | None = "",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.fault_type = fault_type
        self.element = element

    def fault(self) -> dict[str, Any]:
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element is not None:
            error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}

    def body(self) -> dict[str, Any]:
        return {"Fault": self.fault(), "time": qbo_time()}


def validation(code: str, message: str, detail: str, element: str = "") -> ApiError:
    return ApiError(400, code, message, detail, "ValidationFault", element)


def not_found(what: str = "") -> ApiError:
    detail = "Object Not Found : Something you're trying to use has been made inactive. Check the "
    detail += "fields with accounts, customers, items, vendors or employees."
    if what:
        detail = f"Object Not Found : {what}"
    return validation("610", "Object Not Found", detail)


def query_error(detail: str, code: str = "4000") -> ApiError:
    message = "Error parsing query" if code == "4000" else "Invalid query"
    prefix = "QueryParserError" if code == "4000" else "QueryValidationError"
    return validation(code, message, f"{prefix}: {detail}")


def throttled() -> ApiError:
    return ApiError(
        429,
        "3001",
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached.",
        "SERVICE",
        element=None,  # QBO's throttle fault carries no element
    )


THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{time}">'
    '<Fault type="ThrottleExceeded"><Error code="3001">'
    "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
    "<Detail>The request limit was reached.</Detail>"
    "</Error></Fault></IntuitResponse>"
)


def throttled_xml() -> bytes:
    """The XML form of the 429 answer that QBO sometimes sends instead of JSON."""
    return THROTTLE_XML.format(time=qbo_time()).encode("utf-8")


def system_fault(status: int) -> ApiError:
    if status == 503:
        return ApiError(
            503,
            "10000",
            "Service Unavailable",
            "The service is temporarily unavailable. Please try again later.",
            "SystemFault",
        )
    return ApiError(
        500,
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your data.",
        "SystemFault",
    )


def authentication_body(detail: str) -> dict[str, Any]:
    """The 401 body: unlike every other fault its keys are lower-case."""
    return {
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                }
            ],
            "type": "AUTHENTICATION",
        }
    }
