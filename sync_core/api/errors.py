"""The one place the API turns failures into answers: a status, a category, a readable message
and what to do. Never a traceback, SQL text, a secret or the value a client sent."""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_core.domain.errors import ErrorCategory, SyncAlreadyRunning, SyncError

log = logging.getLogger("sync_core.api")

STATUS_BY_CATEGORY = {
    ErrorCategory.INVALID: 422,
    ErrorCategory.PERMISSION: 403,
    ErrorCategory.NOT_FOUND: 404,
    ErrorCategory.CONFLICT: 409,
    ErrorCategory.QUICKBOOKS: 502,
    ErrorCategory.UNAVAILABLE: 503,
    ErrorCategory.CONFIGURATION: 503,
}
HTTP_CATEGORIES = {
    400: "invalid",
    401: "unauthenticated",
    403: "permission",
    404: "not_found",
    405: "invalid",
    409: "conflict",
    422: "invalid",
}


class ApiProblem(Exception):
    """An answer other than success, raised from a route or a dependency."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        what_to_do: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.what_to_do = what_to_do
        self.headers = headers
        self.extra = extra


def error_response(
    status: int,
    category: str,
    message: str,
    what_to_do: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    error: dict[str, Any] = {"category": category, "message": message, "what_to_do": what_to_do}
    error.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse({"success": False, "error": error}, status_code=status, headers=headers)


def run_url(run_id: int | None) -> str | None:
    return f"/api/v1/sync/runs/{run_id}" if run_id else None


def sync_error_response(exc: SyncError) -> JSONResponse:
    status = STATUS_BY_CATEGORY.get(exc.category, 500)
    extra: dict[str, Any] = {}
    if isinstance(exc, SyncAlreadyRunning):
        started = exc.started_at
        if isinstance(started, dt.datetime) and started.tzinfo is None:
            started = started.replace(tzinfo=dt.UTC)
        extra["running"] = {
            "operator": exc.operator,
            "started_at": started.isoformat().replace("+00:00", "Z")
            if isinstance(started, dt.datetime)
            else None,
            "run_id": exc.run_id,
            "run_url": run_url(exc.run_id),
        }
    if exc.category is ErrorCategory.QUICKBOOKS and "not connected" in exc.describe().lower():
        status = 503
    return error_response(
        status, exc.category.value, exc.describe(), exc.what_to_do or None, **extra
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_response(exc: RequestValidationError) -> JSONResponse:
    fields = []
    for problem in exc.errors():
        name = _field_name(tuple(problem.get("loc", ())))
        message = str(problem.get("msg", "is not valid"))
        kind = problem.get("type")
        if kind == "extra_forbidden":
            message = "is not a field of this request"
        elif kind == "json_invalid":
            name, message = "body", "is not valid JSON"
        elif name == "body" and kind in ("model_attributes_type", "dict_type"):
            message = "must be a JSON object (send it with Content-Type: application/json)"
        fields.append({"field": name, "message": message})
    return error_response(
        422,
        "invalid",
        "Invalid request: " + "; ".join(f"{f['field']}: {f['message']}" for f in fields),
        "Correct the fields named and send the request again (see /docs).",
        fields=fields,
    )


def describe_unexpected(exc: BaseException) -> str:
    """For the log: the exception's type and where it happened; no message (it may hold SQL
    text, parameters with personal data, or a URL with a password)."""
    frames = traceback.extract_tb(exc.__traceback__)[-5:]
    where = " <- ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames[::-1]
    )
    orig = getattr(exc, "orig", None)
    kind = type(exc).__name__ + (f" ({type(orig).__name__})" if orig is not None else "")
    return f"{kind} at {where}"


def internal_error_response() -> JSONResponse:
    return error_response(
        500,
        "internal",
        "Something went wrong on the server.",
        "Try again; if it persists, the server's log names the failure.",
    )


class CatchAll:
    """Outermost guard (inside Starlette's own): any exception a route let through becomes a
    plain 500 envelope, and the log gets a line without the exception's text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            log.error(
                "unexpected error in %s %s: %s",
                scope.get("method"),
                scope.get("path"),
                describe_unexpected(exc),
            )
            if started:
                return
            await internal_error_response()(scope, receive, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _problem(_request: Request, exc: ApiProblem) -> JSONResponse:
        return error_response(
            exc.status, exc.category, exc.message, exc.what_to_do, exc.headers, **exc.extra
        )

    @app.exception_handler(SyncError)
    async def _sync_error(_request: Request, exc: SyncError) -> JSONResponse:
        return sync_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        category = HTTP_CATEGORIES.get(exc.status_code, "invalid")
        message = {
            404: "No such endpoint: see /docs for the API's paths.",
            405: "This endpoint does not accept that method: see /docs.",
        }.get(exc.status_code, str(exc.detail))
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, category, message, headers=headers)

    app.add_middleware(CatchAll)
