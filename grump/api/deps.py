"""Request-scoped dependencies: who is calling, and the process's runtime."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from celery import Celery
from fastapi import Depends, Request

from grump.api.keycache import KeyCache, expired_by, read_epoch
from grump.errors import Forbidden, ServiceUnavailable, Unauthorized
from grump.jobs.ratelimits import CURRENT_CALLER, Caller, shared_redis_async
from grump.ledger.aio import async_session_scope
from grump.ledger.db import utcnow
from grump.ledger.keys import KeyState, hash_key, key_state, lookup, touch, valid_until
from grump.ledger.models import ApiKey
from grump.runtime import Runtime
from grump.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """Who an API key speaks for: its tenant, whether it may do admin work, and the key itself.

    ``lineage_id`` is what the key's budgets and rate limits belong to (shared by the
    keys of one rotation); ``valid_until`` is when it stops working by itself.
    """

    tenant: str
    admin: bool
    key_id: int | None = None
    lineage_id: int | None = None
    name: str = ""
    rps_limit: float | None = None
    tpm_limit: int | None = None
    valid_until: datetime | None = None

    @property
    def caller(self) -> Caller:
        """The key's share of the rate limits and budgets, as submits take it."""
        return Caller(self.lineage_id, self.rps_limit, self.tpm_limit)

    @classmethod
    def of(cls, row: ApiKey) -> Principal:
        """The principal of a key row."""
        return cls(
            tenant=row.tenant,
            admin=row.admin,
            key_id=row.id,
            lineage_id=row.lineage_id or row.id,
            name=row.name,
            rps_limit=row.rps_limit,
            tpm_limit=row.tpm_limit,
            valid_until=valid_until(row),
        )


def make_key_cache(settings: Settings) -> KeyCache:
    """The key cache of an API process, sized by the settings."""
    return KeyCache(
        settings.key_cache_seconds,
        settings.key_check_interval_seconds,
        settings.key_last_used_every_seconds,
    )


def _runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# The dependencies are ``async def`` though they wait on nothing: FastAPI runs a sync
# dependency on its thread pool, a thread hop per dependency per request.
async def get_runtime(request: Request) -> Runtime:
    """The process's runtime, as a route dependency."""
    return _runtime_of(request)


async def get_celery(request: Request) -> Celery:
    """The Celery app jobs are sent to, as a route dependency."""
    app: Celery = request.app.state.celery
    return app


def _bearer(request: Request) -> str:
    """The key in ``Authorization: Bearer``, else in ``x-api-key`` (as Anthropic's SDK sends it)."""
    header = request.headers.get("authorization")
    if header is None and request.headers.get("x-api-key"):
        header = "Bearer " + request.headers["x-api-key"]
    scheme, _, key = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized(
            "missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'"
        )
    return key.strip()


async def _look_up(runtime: Runtime, key: str, at: datetime) -> Principal | KeyState | None:
    async with async_session_scope(
        runtime.aio_sessions, runtime.settings.retry_after_seconds
    ) as session:
        row = await session.run_sync(lookup, key)
        if row is None:
            return None
        state = key_state(row, at)
        return Principal.of(row) if state is KeyState.LIVE else state


async def _shared_look_up(
    runtime: Runtime, cache: KeyCache, key: str, digest: str, at: datetime
) -> Principal | KeyState | None:
    """``_look_up``, one at a time per key: the callers of a key arriving while its lookup runs
    share its answer (a thousand requests finding the key forgotten take one connection)."""
    loop = asyncio.get_running_loop()
    running = cache.lookups.get(digest)
    if running is None or running.get_loop() is not loop or running.done():
        running = loop.create_task(_look_up(runtime, key, at))
        cache.lookups[digest] = running

        def ended(task: asyncio.Task[Principal | KeyState | None]) -> None:
            if cache.lookups.get(digest) is task:
                del cache.lookups[digest]
            if not task.cancelled():
                task.exception()  # retrieved here too: every caller may have gone

        running.add_done_callback(ended)
    return await asyncio.shield(running)  # one caller leaving cancels no one else's lookup


async def _touch(runtime: Runtime, cache: KeyCache, key_id: int, at: datetime) -> None:
    every = timedelta(seconds=runtime.settings.key_last_used_every_seconds)
    try:
        async with async_session_scope(runtime.aio_sessions, 1) as session:
            await session.run_sync(touch, key_id, at, every)
    except ServiceUnavailable as exc:
        cache.untouch(key_id)
        log.warning("key last use not recorded: %s", exc.message)


def _admit(found: Principal | KeyState, at: datetime) -> Principal:
    if isinstance(found, KeyState) or expired_by(found, at):
        state = found if isinstance(found, KeyState) else KeyState.EXPIRED
        raise Unauthorized(f"API key {state.value}", reason=state.value)
    return found


async def get_principal(request: Request) -> Principal:
    """The caller, from the bearer key in ``Authorization``; Unauthorized when it is missing,
    unknown, revoked or expired."""
    key = _bearer(request)
    runtime = _runtime_of(request)
    cache: KeyCache = request.app.state.key_cache
    if cache.check_due():
        cache.observe(await read_epoch(shared_redis_async(runtime)))
    digest, now = hash_key(key), utcnow()
    found = cache.get(digest)
    if found is None:
        found = await _shared_look_up(runtime, cache, key, digest, now)
        if found is None:
            raise Unauthorized("invalid API key")
        cache.put(digest, found)
    principal = _admit(found, now)
    if principal.key_id is not None and cache.touch_due(principal.key_id):
        await _touch(runtime, cache, principal.key_id, now)
    CURRENT_CALLER.set((principal.tenant, principal.caller))
    return principal


async def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """The caller, when theirs is an admin key; Forbidden otherwise."""
    if not principal.admin:
        raise Forbidden("this needs an admin key")
    return principal


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CeleryDep = Annotated[Celery, Depends(get_celery)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
AdminDep = Annotated[Principal, Depends(require_admin)]
