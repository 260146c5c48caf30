"""Real Redis and Postgres: a fresh database per session, a clean Redis database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from grump.ledger.db import make_engine
from grump.ledger.migrate import upgrade
from grump.runtime import Runtime
from grump.settings import Settings
from tests.services import create_database, drop_database, redis_or_skip


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url, name = create_database()
    upgrade(url)
    try:
        yield url
    finally:
        drop_database(name)


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = redis_or_skip()
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def runtime(redis_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A process's resources on the real Redis (the ledger embedded): warm prefixes live there."""
    instance = Runtime(Settings.model_validate({"redis_url": redis_url, "data_dir": tmp_path}))
    try:
        yield instance
    finally:
        instance.dispose()


@pytest.fixture
def clean_ledger(pg_url: str) -> str:
    engine = make_engine(pg_url)
    with engine.begin() as connection:
        # CASCADE: every table that refers to jobs (budget holds, ...) empties too.
        connection.execute(text("TRUNCATE cost_events, jobs, api_keys CASCADE"))
    engine.dispose()
    return pg_url


@pytest.fixture
def real_settings(
    clean_ledger: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings.model_validate(
        {
            "broker_url": redis_url,
            "redis_url": redis_url,
            "database_url": clean_ledger,
            "data_dir": tmp_path_factory.mktemp("grump"),
            "retry_after_seconds": 7,
        }
    )
