"""API keys: made once, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from grump.ledger.db import utcnow
from grump.ledger.models import ApiKey

KEY_PREFIX = "grump_"


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of a key: what the ledger stores and looks keys up by."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_key(session: Session, tenant: str, admin: bool = False) -> str:
    """Store a new key for ``tenant`` and return it; this is the only time it is seen."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            tenant=tenant,
            key_hash=hash_key(key),
            prefix=key[: len(KEY_PREFIX) + 6],
            admin=admin,
            created_at=utcnow(),
        )
    )
    session.flush()
    return key


def authenticate(session: Session, key: str) -> ApiKey | None:
    """The live key row for ``key``, or None. The digest comparison is constant-time."""
    digest = hash_key(key)
    row = session.scalars(
        select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return row
