"""Engine and sessions, and the one place database outages become DatabaseUnavailable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from grump.errors import DatabaseUnavailable


def utcnow() -> datetime:
    """The current time, aware and in UTC, as the ledger stores it."""
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgres URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Set on each new SQLite connection, sync or async."""
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while a worker thread writes; busy_timeout waits out a writer.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def dumps_json(value: Any) -> str:
    """JSON columns' encoder: orjson, since a job's result can hold thousands of floats."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def dialect_insert(session: Session, table: Any) -> Any:
    """INSERT with ``on_conflict_*`` for the session's database (Postgres or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def prepare_sqlite_file(url: str) -> None:
    """Make the directory of a SQLite file URL's file (an in-memory one needs none)."""
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


# Both engines (sync here, async in ``grump.ledger.aio``) take these.
SQLITE_CONNECT_ARGS: dict[str, Any] = {"check_same_thread": False, "timeout": 30}
POSTGRES_CONNECT_ARGS: dict[str, Any] = {"connect_timeout": 3}
JSON_CODEC: dict[str, Any] = {"json_serializer": dumps_json, "json_deserializer": orjson.loads}


def postgres_pool(pool_size: int) -> dict[str, Any]:
    """A Postgres engine's pool: ``pool_size`` kept, as many again on a burst, 5 s to get one."""
    return {"pool_size": pool_size, "max_overflow": pool_size, "pool_timeout": 5}


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """The engine for ``url``: SQLite with WAL and a busy timeout, or a pooled Postgres."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        prepare_sqlite_file(url)
        engine = create_engine(url, connect_args=SQLITE_CONNECT_ARGS, **JSON_CODEC)
        event.listen(engine, "connect", sqlite_pragmas)
        return engine
    engine = create_engine(
        url,
        pool_pre_ping=False,
        connect_args=POSTGRES_CONNECT_ARGS,
        **postgres_pool(pool_size),
        **JSON_CODEC,
    )
    ping_when_idle(engine)
    return engine


# A pooled connection idle this long is pinged before it is used again.
IDLE_PING_SECONDS = 2.0


def ping_when_idle(engine: Engine) -> None:
    """Ping a connection on checkout only when it has sat in the pool ``IDLE_PING_SECONDS``.

    A busy worker takes its connections back within milliseconds: pinging each
    checkout would add a round trip to every transaction of the hot path. One
    idle long enough to have outlived a Postgres restart is pinged, and a dead
    one replaced before use; one that died in between fails on first use,
    which SQLAlchemy reports as a disconnect (the pool is invalidated, and the
    caller sees DatabaseUnavailable, as it does for an outage).
    """

    def checked_in(_dbapi: Any, record: Any) -> None:
        record.info["grump_idle_since"] = time.monotonic()

    def checked_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("grump_idle_since", None)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi)
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection is dead: {exc}") from exc

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """The session factory, with rows left readable after their commit."""
    return sessionmaker(engine, expire_on_commit=False)


def is_outage(exc: BaseException) -> bool:
    """True for errors that mean the database is unreachable, not that a query was wrong."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _rollback_quietly(session: Session) -> None:
    # The connection may already be gone; the pool discards it.
    with suppress(DBAPIError):
        session.rollback()


def unavailable_for(exc: BaseException, retry_after: int) -> DatabaseUnavailable | None:
    """The DatabaseUnavailable an error means, or None when it is not an outage.

    The one mapping both session scopes (this one and ``grump.ledger.aio``) apply.
    """
    if is_outage(exc):
        return DatabaseUnavailable("database unavailable", retry_after=retry_after)
    return None


@contextmanager
def session_scope(factory: sessionmaker[Session], retry_after: int = 5) -> Iterator[Session]:
    """A transaction: commit on success, roll back on error, outages as DatabaseUnavailable."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        _rollback_quietly(session)
        unavailable = unavailable_for(exc, retry_after)
        if unavailable is not None:
            raise unavailable from exc
        raise
    finally:
        session.close()
