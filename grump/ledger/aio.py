"""The ledger for the API's event loop: an async engine and sessions, outages as DatabaseUnavailable.

Postgres goes through psycopg 3 in its async mode, the embedded SQLite file
through aiosqlite; both under SQLAlchemy's asyncio extension, so the ledger's
sync functions (``jobs/rows``, ``money/budgets``) run unchanged inside a
transaction with ``AsyncSession.run_sync``.

No pre-ping on checkout: that would be a round trip before every transaction
of the hot path. A pooled connection that died (Postgres restarted, its
session ended) fails on first use instead, which SQLAlchemy reports as a
disconnect: the answer is a 503 with Retry-After, and the whole pool is
invalidated, so the next transaction connects afresh. Connecting is bounded
(``connect_timeout``, the pool's 5 s), so an outage is never a hung request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from grump.ledger.db import (
    JSON_CODEC,
    POSTGRES_CONNECT_ARGS,
    SQLITE_CONNECT_ARGS,
    normalise_url,
    postgres_pool,
    prepare_sqlite_file,
    sqlite_pragmas,
    unavailable_for,
)


def async_url(url: str) -> str:
    """``url`` with the async driver of its database: psycopg for Postgres, aiosqlite for SQLite."""
    parsed = make_url(normalise_url(url))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        # psycopg's dialect picks its async mode under create_async_engine.
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"no async driver for {backend} databases")


def make_async_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """The async engine for ``url``: the same options as ``make_engine``'s, with no pre-ping."""
    url = async_url(url)
    if url.startswith("sqlite"):
        prepare_sqlite_file(url)
        engine = create_async_engine(url, connect_args=SQLITE_CONNECT_ARGS, **JSON_CODEC)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_pre_ping=False,
        connect_args=POSTGRES_CONNECT_ARGS,
        **postgres_pool(pool_size),
        **JSON_CODEC,
    )


def make_async_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The async session factory, with rows left readable after their commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def _rollback_quietly(session: AsyncSession) -> None:
    # The connection may already be gone; the pool discards it.
    with suppress(DBAPIError):
        await session.rollback()


@asynccontextmanager
async def async_session_scope(
    factory: async_sessionmaker[AsyncSession], retry_after: int = 5
) -> AsyncIterator[AsyncSession]:
    """A transaction: commit on success, roll back on error, outages as DatabaseUnavailable.

    The async twin of ``grump.ledger.db.session_scope``, with the same mapping.
    """
    session = factory()
    try:
        yield session
        await session.commit()
    except BaseException as exc:
        await _rollback_quietly(session)
        unavailable = unavailable_for(exc, retry_after)
        if unavailable is not None:
            raise unavailable from exc
        raise
    finally:
        await session.close()
