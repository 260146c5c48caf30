"""Request-scoped dependencies: who is calling, and the process's runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from cachetools import TTLCache
from celery import Celery
from fastapi import Depends, Request

from grump.errors import Forbidden, Unauthorized
from grump.ledger.aio import async_session_scope
from grump.ledger.keys import authenticate, hash_key
from grump.runtime import Runtime


@dataclass(frozen=True)
class Principal:
    """Who an API key speaks for: its tenant, and whether it may do admin work."""

    tenant: str
    admin: bool


class KeyCache:
    """Recently seen keys, by hash, so a busy client costs no lookup per request."""

    def __init__(self, ttl_seconds: float = 30.0) -> None:
        self._cache: TTLCache[str, Principal] = TTLCache(maxsize=10_000, ttl=ttl_seconds)

    def get(self, digest: str) -> Principal | None:
        """The principal of a key hash seen lately, or None (unknown or expired)."""
        return self._cache.get(digest)

    def put(self, digest: str, principal: Principal) -> None:
        """Remember a key hash's principal until the entry expires."""
        self._cache[digest] = principal


def get_runtime(request: Request) -> Runtime:
    """The process's runtime, as a route dependency."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_celery(request: Request) -> Celery:
    """The Celery app jobs are sent to, as a route dependency."""
    app: Celery = request.app.state.celery
    return app


async def get_principal(request: Request) -> Principal:
    """The caller, from the bearer key in ``Authorization``; Unauthorized when it is missing or unknown."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    key = key.strip()
    cache: KeyCache = request.app.state.key_cache
    digest = hash_key(key)
    principal = cache.get(digest)
    if principal is not None:
        return principal
    runtime = get_runtime(request)
    retry_after = runtime.settings.retry_after_seconds
    async with async_session_scope(runtime.aio_sessions, retry_after) as session:
        row = await session.run_sync(authenticate, key)
        if row is None:
            raise Unauthorized("invalid API key")
        principal = Principal(tenant=row.tenant, admin=row.admin)
    cache.put(digest, principal)
    return principal


def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """The caller, when theirs is an admin key; Forbidden otherwise."""
    if not principal.admin:
        raise Forbidden("this needs an admin key")
    return principal


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CeleryDep = Annotated[Celery, Depends(get_celery)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
