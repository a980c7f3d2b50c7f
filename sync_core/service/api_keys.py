"""API keys as a use case: administrators create and revoke them (from the command line); the
API turns a presented key into the :class:`Actor` its runs are made by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync_core.domain.access import Actor, Role, require
from sync_core.domain.errors import InvalidRequest, NotFound
from sync_core.store.api_keys import ApiKeyInfo, ApiKeyStore, NameTaken

if TYPE_CHECKING:
    from sync_core.service.facade import SyncService

KEY_ROLES = (Role.VIEWER, Role.OPERATOR)  # a key never administers
NAME_MAX = 100


@dataclass(frozen=True)
class NewKey:
    info: ApiKeyInfo
    key: str  # shown once, stored nowhere


def _store(service: SyncService) -> ApiKeyStore:
    return ApiKeyStore(service.store_engine)


def key_role(name: str) -> Role:
    try:
        role = Role.named(name)
    except ValueError:
        role = None
    if role not in KEY_ROLES:
        raise InvalidRequest(
            f"role: an API key is a viewer or an operator, not {name!r}",
            what_to_do="viewer: read only (GET); operator: also start and cancel syncs and "
            "push records.",
        )
    assert role is not None
    return role


def create_key(service: SyncService, actor: Actor, name: str, role: str) -> NewKey:
    require(actor, Role.ADMIN, "create API keys")
    clean = " ".join((name or "").split())
    if not clean:
        raise InvalidRequest("name: an API key needs a name (it is recorded as the operator)")
    if len(clean) > NAME_MAX:
        raise InvalidRequest(f"name: at most {NAME_MAX} characters")
    chosen = key_role(role)
    try:
        info, key = _store(service).create(clean, chosen.label, created_by=actor.name)
    except NameTaken:
        raise InvalidRequest(
            f"name: an active API key named {clean!r} exists already",
            what_to_do="Revoke it first, or choose another name.",
        ) from None
    return NewKey(info, key)


def revoke_key(
    service: SyncService, actor: Actor, *, name: str | None = None, key_id: int | None = None
) -> list[ApiKeyInfo]:
    require(actor, Role.ADMIN, "revoke API keys")
    if name is None and key_id is None:
        raise InvalidRequest("name or id: say which key to revoke")
    revoked = _store(service).revoke(name=name, key_id=key_id)
    if not revoked:
        which = f"named {name!r}" if name is not None else f"with id {key_id}"
        raise NotFound(f"No active API key {which}")
    return revoked


def list_keys(service: SyncService, actor: Actor) -> list[ApiKeyInfo]:
    require(actor, Role.ADMIN, "list API keys")
    return _store(service).keys()


def authenticate(service: SyncService, presented: str) -> Actor | None:
    """The actor a bearer key stands for, or None (unknown, malformed, revoked)."""
    info = _store(service).verify(presented)
    if info is None:
        return None
    try:
        role = Role.named(info.role)
    except ValueError:
        return None
    if role not in KEY_ROLES:
        return None
    return Actor(name=info.name, role=role, via="api")
