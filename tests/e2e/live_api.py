"""One live grump API (uvicorn on a loopback port) with a worker, for a whole test module.

The ledger is emptied and the test Redis database flushed when it starts; the
providers are the loopback fakes of tests/fakes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text

from grump.api.app import create_app
from grump.ledger.db import make_engine, session_scope, utcnow
from grump.money.budget_math import Period
from grump.money.budgets import set_budget
from grump.settings import Settings
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.nim import FakeNim
from tests.fakes.server import failure
from tests.integration.completions_support import Stack, fakes, with_fakes
from tests.services import redis_or_skip

# The Retry-After the API with nothing behind it (``down_api``) answers with.
DOWN_RETRY_AFTER = 9


@dataclass
class LiveApi:
    """The API's base URL, the stack behind it, and the provider fakes."""

    url: str
    stack: Stack
    nim: FakeNim
    anthropic: FakeAnthropic

    def broke_key(self) -> str:
        """A key of a tenant whose daily budget is zero: every paid job is refused with 402."""
        key = self.stack.new_key("broke")
        with session_scope(self.stack.runtime.sessions) as session:
            set_budget(session, "broke", None, Period.DAILY, Decimal(0), Decimal("0.8"), utcnow())
        return key


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def down_api(data_dir: Path) -> Iterator[str]:
    """An API on a free port whose ledger, broker and Redis are all unreachable; its URL."""
    settings = Settings.model_validate(
        {
            "database_url": "postgresql://postgres@127.0.0.1:1/none",
            "broker_url": "redis://127.0.0.1:1/0",
            "redis_url": "redis://127.0.0.1:1/0",
            "data_dir": data_dir,
            "retry_after_seconds": DOWN_RETRY_AFTER,
        }
    )
    with serve(create_app(settings)) as url:
        yield url


def refused_by_the_provider(live: LiveApi) -> Iterator[bool]:
    """``stream`` False, then True; before each, NIM is told to refuse its next call (a 400)."""
    for stream in (False, True):
        live.nim.script(failure(400, "the upstream refused this", "nim"))
        yield stream


@contextmanager
def live_api(pg_url: str, data_dir: Path, **extra: Any) -> Iterator[LiveApi]:
    """A fresh ledger and Redis db, the fakes, the API on a port and a worker running."""
    engine = make_engine(pg_url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE cost_events, jobs, api_keys CASCADE"))
    engine.dispose()
    redis_url = redis_or_skip()
    redis.Redis.from_url(redis_url).flushdb()
    base = Settings.model_validate(
        {
            "broker_url": redis_url,
            "redis_url": redis_url,
            "database_url": pg_url,
            "data_dir": data_dir,
        }
    )
    with fakes() as (nim, anthropic):
        stack = Stack(with_fakes(base, nim, anthropic, **extra))
        try:
            with (
                serve(create_app(stack.settings, stack.runtime, stack.celery)) as url,
                stack.worker(),
            ):
                yield LiveApi(url, stack, nim, anthropic)
        finally:
            stack.close()
