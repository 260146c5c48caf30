"""API keys: made once, shown once, stored only as a hash; listed, revoked, rotated, expired.

A key is live until it is revoked, until its ``expires_at``, and, once rotated,
until its ``grace_until``; ``key_state`` says which. Keys rotated from one another
share a lineage (the first key's id), which per-key budgets and rate limits
belong to.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from grump.errors import Conflict, NotFound
from grump.ledger.db import utcnow
from grump.ledger.models import ApiKey

KEY_PREFIX = "grump_"
MAX_ID = 2**31 - 1  # the ledger's integer ids and counts
NAME_PATTERN = r"^[A-Za-z0-9 ._:/@+-]*$"  # a key's name: a service's, printable and plain


class KeyState(StrEnum):
    """Whether a key authenticates now, and if not, why."""

    LIVE = "live"
    REVOKED = "revoked"
    EXPIRED = "expired"


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of a key: what the ledger stores and looks keys up by."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_state(row: ApiKey, at: datetime) -> KeyState:
    """Whether ``row`` authenticates at ``at``: revoked, expired (or past its grace) or live."""
    if row.revoked_at is not None and row.revoked_at <= at:
        return KeyState.REVOKED
    ends = [t for t in (row.expires_at, row.grace_until) if t is not None]
    if ends and min(ends) <= at:
        return KeyState.EXPIRED
    return KeyState.LIVE


def valid_until(row: ApiKey) -> datetime | None:
    """The instant the key stops working by itself (expiry or grace), or None."""
    ends = [t for t in (row.expires_at, row.grace_until) if t is not None]
    return min(ends) if ends else None


def _new_row(session: Session, tenant: str, admin: bool, **fields: object) -> tuple[str, ApiKey]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        tenant=tenant,
        key_hash=hash_key(key),
        prefix=key[: len(KEY_PREFIX) + 6],
        admin=admin,
        created_at=utcnow(),
        **fields,
    )
    session.add(row)
    session.flush()
    return key, row


def new_api_key(
    session: Session,
    tenant: str,
    admin: bool = False,
    name: str = "",
    expires_at: datetime | None = None,
    rps_limit: float | None = None,
    tpm_limit: int | None = None,
) -> tuple[str, ApiKey]:
    """Store a new key for ``tenant``: the key (its only sighting) and its row."""
    key, row = _new_row(
        session,
        tenant,
        admin,
        name=name,
        expires_at=expires_at,
        rps_limit=rps_limit,
        tpm_limit=tpm_limit,
    )
    row.lineage_id = row.id
    session.flush()
    return key, row


def create_api_key(session: Session, tenant: str, admin: bool = False, name: str = "") -> str:
    """Store a new key for ``tenant`` and return it; this is the only time it is seen."""
    return new_api_key(session, tenant, admin=admin, name=name)[0]


def lookup(session: Session, key: str) -> ApiKey | None:
    """The row of ``key`` whatever its state, or None. The digest comparison is constant-time."""
    digest = hash_key(key)
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return row


def authenticate(session: Session, key: str) -> ApiKey | None:
    """The live key row for ``key``, or None (unknown, revoked or expired)."""
    row = lookup(session, key)
    if row is None or key_state(row, utcnow()) is not KeyState.LIVE:
        return None
    return row


def list_keys(session: Session, tenant: str) -> list[ApiKey]:
    """Every key of ``tenant``, revoked and expired ones included, oldest first."""
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant == tenant).order_by(ApiKey.id)))


def get_key(session: Session, tenant: str | None, key_id: int) -> ApiKey:
    """One key by id, of ``tenant`` (None: of any tenant); NotFound otherwise."""
    row = session.get(ApiKey, key_id, populate_existing=True)
    if row is None or (tenant is not None and row.tenant != tenant):
        raise NotFound(f"key {key_id} not found")
    return row


def revoke(session: Session, tenant: str | None, key_id: int, at: datetime) -> ApiKey:
    """Revoke a key at once (again is harmless: the first revocation's time stays)."""
    row = get_key(session, tenant, key_id)
    if row.revoked_at is None:
        row.revoked_at = at
        session.flush()
    return row


def rotate(
    session: Session, tenant: str | None, key_id: int, at: datetime, grace: timedelta
) -> tuple[str, ApiKey]:
    """A new key in the old one's place; the old one works ``grace`` longer, then expires."""
    old = get_key(session, tenant, key_id)
    if key_state(old, at) is not KeyState.LIVE or old.grace_until is not None:
        raise Conflict(f"key {key_id} is {key_state(old, at).value} or already rotated")
    old.grace_until = at + grace
    key, row = _new_row(
        session,
        old.tenant,
        old.admin,
        name=old.name,
        expires_at=old.expires_at,
        rps_limit=old.rps_limit,
        tpm_limit=old.tpm_limit,
        lineage_id=old.lineage_id or old.id,
    )
    return key, row


def set_limits(
    session: Session,
    tenant: str | None,
    key_id: int,
    rps_limit: float | None,
    tpm_limit: int | None,
) -> ApiKey:
    """Set a key's rate limits, for every key of its lineage (None: no limit of its own)."""
    row = get_key(session, tenant, key_id)
    session.execute(
        update(ApiKey)
        .where(ApiKey.lineage_id == (row.lineage_id or row.id))
        .values(rps_limit=rps_limit, tpm_limit=tpm_limit)
        .execution_options(synchronize_session=False)
    )
    return get_key(session, tenant, key_id)


def lineage_of(session: Session, tenant: str, key_id: int) -> int:
    """The lineage a key of ``tenant`` belongs to, which its budgets are kept under."""
    row = get_key(session, tenant, key_id)
    return row.lineage_id or row.id


def touch(session: Session, key_id: int, at: datetime, every: timedelta) -> None:
    """Record a key's use at ``at``, unless one was recorded less than ``every`` ago."""
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at - every),
        )
        .values(last_used_at=at)
        .execution_options(synchronize_session=False)
    )
