"""Engine and sessions, and the one place database outages become DatabaseUnavailable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
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


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """The engine for ``url``: SQLite with WAL and a busy timeout, or a pooled Postgres."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=dumps_json,
            json_deserializer=orjson.loads,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=5,
        connect_args={"connect_timeout": 3},
        json_serializer=dumps_json,
        json_deserializer=orjson.loads,
    )


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


@contextmanager
def session_scope(factory: sessionmaker[Session], retry_after: int = 5) -> Iterator[Session]:
    """A transaction: commit on success, roll back on error, outages as DatabaseUnavailable."""
    session = factory()
    try:
        yield session
        session.commit()
    except DBAPIError as exc:
        _rollback_quietly(session)
        if is_outage(exc):
            raise DatabaseUnavailable("database unavailable", retry_after=retry_after) from exc
        raise
    except PoolTimeout as exc:
        _rollback_quietly(session)
        raise DatabaseUnavailable("database unavailable", retry_after=retry_after) from exc
    except BaseException:
        _rollback_quietly(session)
        raise
    finally:
        session.close()
