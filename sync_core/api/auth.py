"""Bearer API keys: ``Authorization: Bearer qbs_<id>_<secret>``.

No key or an unknown one: 401. A viewer key on a route that changes something: 403. The key's
name is the actor, recorded as the operator of its runs and as ``pushed_by``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sync_core.api.errors import ApiProblem
from sync_core.domain.access import Actor, Role
from sync_core.service.api_keys import authenticate
from sync_core.service.facade import SyncService

bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `python -m sync_core api-key create --name NAME --role ROLE`.",
)
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_service(request: Request) -> SyncService:
    """The process's service (created on first use by the app's factory)."""
    holder = request.app.state.services
    return holder.get()


def _unauthenticated(message: str) -> ApiProblem:
    return ApiProblem(
        401,
        "unauthenticated",
        message,
        "Send the header 'Authorization: Bearer <API key>'; an administrator creates keys "
        "with `python -m sync_core api-key create`.",
        headers=CHALLENGE,
    )


def caller(role: Role) -> Callable[..., Actor]:
    """A dependency answering the calling key's actor, refusing keys below ``role``."""

    def dependency(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
        service: SyncService = Depends(get_service),  # noqa: B008
    ) -> Actor:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise _unauthenticated("An API key is required")
        actor = authenticate(service, credentials.credentials)
        if actor is None:
            raise _unauthenticated("The API key is not valid (unknown, malformed or revoked)")
        if not actor.may(role):
            raise ApiProblem(
                403,
                "permission",
                f"The API key {actor.name!r} is a {actor.role.label} key and may not do this",
                f"Use a key with the {role.label} role.",
            )
        return actor

    return dependency


viewer = caller(Role.VIEWER)
operator = caller(Role.OPERATOR)
