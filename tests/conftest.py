"""Shared fixtures: settings for an embedded (SQLite + in-process broker) grump."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from fastapi.testclient import TestClient

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.celery.queues import ALL_QUEUES
from grump.intent.native import stale_modules
from grump.ledger.db import session_scope
from grump.ledger.keys import create_api_key
from grump.ledger.migrate import upgrade
from grump.runtime import Runtime
from grump.settings import Settings


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test a compiled parser older than its source: the tests would pass or
    fail on code that is no longer there."""
    stale = stale_modules()
    if stale:
        pytest.exit(
            f"grump/intent: {', '.join(stale)} changed after the parser was compiled; "
            "run `make native` (or `make clean` for plain Python)",
            returncode=2,
        )


def local_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Embedded settings in a temporary directory, ignoring the caller's GRUMP_ variables."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "grump",
        "broker_url": None,
        "database_url": None,
    }
    values.update(overrides)
    return Settings.model_validate(values)


class Api:
    """An API over SQLite and the in-process broker, with no workers: jobs stay queued."""

    def __init__(self, settings: Settings) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.effective_database_url)
        self.settings = settings
        self.runtime = Runtime(settings)
        self.celery: Celery = create_celery(settings, self.runtime)
        self.client = TestClient(create_app(settings, self.runtime, self.celery))
        self.key_a = self.new_key("tenant-a")
        self.key_b = self.new_key("tenant-b")
        # The in-process broker's queues live as long as the test process: start empty.
        with self.celery.connection_for_write() as connection:
            for queue in ALL_QUEUES:
                connection.default_channel.queue_declare(queue)
                connection.default_channel.queue_purge(queue)

    def new_key(self, tenant: str, admin: bool = False) -> str:
        with session_scope(self.runtime.sessions) as session:
            return create_api_key(session, tenant, admin=admin)

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key_a}"}

    def queued_messages(self, queue: str) -> int:
        with self.celery.connection_for_write() as connection:
            return int(connection.default_channel.queue_declare(queue, passive=False).message_count)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    instance = Api(local_settings(tmp_path))
    try:
        yield instance
    finally:
        instance.client.close()
        instance.runtime.dispose()
