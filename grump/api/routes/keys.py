"""/v1/keys: list, create, change, revoke and rotate your tenant's API keys (admin keys only).

Every route covers the caller's own tenant: another tenant's key answers 404,
as one that does not exist. A key is shown whole once, in the answer that made it;
the ledger keeps only its hash. Every change is announced to the API processes
(``grump.api.keycache``), which refuse a revoked key within
``GRUMP_KEY_CHECK_INTERVAL_SECONDS``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from grump.api.deps import AdminDep, RuntimeDep
from grump.api.keycache import announce_change
from grump.api.responses import ERROR_RESPONSES
from grump.errors import ValidationFailed
from grump.ledger import keys
from grump.ledger.db import session_scope, utcnow
from grump.ledger.keys import MAX_ID, NAME_PATTERN
from grump.ledger.models import ApiKey
from grump.runtime import Runtime

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERROR_RESPONSES)

KeyId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="the key's id")]


class KeyView(BaseModel):
    """A key as the ledger knows it: never the key itself, only its first characters."""

    id: int
    lineage_id: int
    tenant: str
    name: str
    prefix: str
    admin: bool
    state: keys.KeyState
    created_at: datetime
    expires_at: datetime | None
    grace_until: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rps_limit: float | None
    tpm_limit: int | None

    @classmethod
    def of(cls, row: ApiKey, at: datetime) -> KeyView:
        """The view of a key row, with its state at ``at``."""
        return cls(
            id=row.id,
            lineage_id=row.lineage_id or row.id,
            tenant=row.tenant,
            name=row.name,
            prefix=row.prefix,
            admin=row.admin,
            state=keys.key_state(row, at),
            created_at=row.created_at,
            expires_at=row.expires_at,
            grace_until=row.grace_until,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
            rps_limit=row.rps_limit,
            tpm_limit=row.tpm_limit,
        )


class NewKey(KeyView):
    """A key just made: the only answer that carries ``key``, the secret itself."""

    key: str


class KeyList(BaseModel):
    """Your tenant's keys, revoked and expired ones included."""

    items: list[KeyView]


class KeyLimits(BaseModel):
    """A key's own rate limits; null (or absent at creation) means the settings' default."""

    rps_limit: float | None = Field(
        None, ge=0, le=1e6, allow_inf_nan=False, description="submits per second; 0: none"
    )
    tpm_limit: int | None = Field(None, ge=0, le=MAX_ID, description="tokens per minute; 0: none")


class KeyIn(KeyLimits):
    """A key to make for your tenant: who uses it, until when, and its limits."""

    name: str = Field(
        "", max_length=100, pattern=NAME_PATTERN, description="the service that calls with it"
    )
    expires_at: datetime | None = Field(None, description="when it stops working (UTC)")
    admin: bool = False


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _changed(runtime: Runtime) -> None:
    announce_change(runtime.redis or runtime.broker_redis)


@router.get("", response_model=KeyList)
def list_keys(principal: AdminDep, runtime: RuntimeDep) -> KeyList:
    """Your tenant's keys, oldest first, with their state, name, limits and last use."""
    now = utcnow()
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        rows = keys.list_keys(session, principal.tenant)
        return KeyList(items=[KeyView.of(r, now) for r in rows])


@router.post("", status_code=201, response_model=NewKey)
def create_key(body: KeyIn, principal: AdminDep, runtime: RuntimeDep) -> NewKey:
    """Make a key for your tenant; the answer is the only time the key is shown."""
    now = utcnow()
    expires = None if body.expires_at is None else _utc(body.expires_at)
    if expires is not None and expires <= now:
        raise ValidationFailed("expires_at", "must be in the future")
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        key, row = keys.new_api_key(
            session,
            principal.tenant,
            admin=body.admin,
            name=body.name,
            expires_at=expires,
            rps_limit=body.rps_limit,
            tpm_limit=body.tpm_limit,
        )
        return NewKey(key=key, **KeyView.of(row, now).model_dump())


@router.get("/{key_id}", response_model=KeyView)
def read_key(key_id: KeyId, principal: AdminDep, runtime: RuntimeDep) -> KeyView:
    """One of your tenant's keys."""
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        return KeyView.of(keys.get_key(session, principal.tenant, key_id), utcnow())


@router.patch("/{key_id}", response_model=KeyView)
def set_limits(key_id: KeyId, body: KeyLimits, principal: AdminDep, runtime: RuntimeDep) -> KeyView:
    """Set a key's rate limits (for the keys rotated from it too); null: the default."""
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        row = keys.set_limits(session, principal.tenant, key_id, body.rps_limit, body.tpm_limit)
        view = KeyView.of(row, utcnow())
    _changed(runtime)
    return view


@router.post("/{key_id}/revoke", response_model=KeyView)
def revoke_key(key_id: KeyId, principal: AdminDep, runtime: RuntimeDep) -> KeyView:
    """Revoke a key: every API process refuses it within a second (401, "API key revoked")."""
    now = utcnow()
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        view = KeyView.of(keys.revoke(session, principal.tenant, key_id, now), now)
    _changed(runtime)
    return view


@router.post("/{key_id}/rotate", status_code=201, response_model=NewKey)
def rotate_key(key_id: KeyId, principal: AdminDep, runtime: RuntimeDep) -> NewKey:
    """A new key in this one's place; the old one keeps working for the rotation grace."""
    now = utcnow()
    grace = timedelta(seconds=runtime.settings.key_rotation_grace_seconds)
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        key, row = keys.rotate(session, principal.tenant, key_id, now, grace)
        made = NewKey(key=key, **KeyView.of(row, now).model_dump())
    _changed(runtime)
    return made
