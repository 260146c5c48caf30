"""A thousand callers submitting at once are all accepted, none holding a ledger connection to wait.

On real Postgres and Redis. What a complete submit reads before it is routed
(what its budgets still hold) is read for the callers that ask together; the
rest of a submit waits for its group's transaction. So the API's pool is never
asked for more connections than the group transactions in flight and one read,
whatever the number of callers: none of them can be kept waiting for a
connection until the pool gives up and the caller is told the database is down.
Likewise the callers of one API key that the process has not looked up yet
share one lookup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import event

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.jobs.models import CompleteJobRequest
from grump.jobs.submit import Submitted, submit_job_async
from grump.ledger.db import session_scope, utcnow
from grump.ledger.keys import create_api_key
from grump.money import budgets
from grump.money.budget_math import Period
from grump.runtime import Runtime
from grump.settings import Settings
from tests.integration.money_fixtures import money_ledger  # noqa: F401
from tests.services import redis_or_skip

pytestmark = pytest.mark.integration
TENANT = "crowd"
CALLERS = 1000


def _complete(index: int, model: str) -> CompleteJobRequest:
    content = f"bench caller {index:04d}: name a colour"
    body = {"kind": "complete", "input": {"messages": [{"role": "user", "content": content}]}}
    body["input"]["model"] = model  # type: ignore[index]
    return CompleteJobRequest.model_validate(body)


@pytest.fixture
def runtime(money_ledger: str, tmp_path: Path) -> Iterator[Runtime]:  # noqa: F811
    client = redis.Redis.from_url(redis_or_skip())
    client.flushdb()
    settings = Settings.model_validate(
        {"database_url": money_ledger, "broker_url": redis_or_skip(), "data_dir": tmp_path}
    )
    made = Runtime(settings)
    yield made
    made.dispose()
    client.flushdb()
    client.close()


def test_a_thousand_submits_at_once_are_accepted_on_few_connections(runtime: Runtime) -> None:
    with session_scope(runtime.sessions) as session:
        budgets.set_budget(
            session, TENANT, None, Period.DAILY, Decimal("1000"), Decimal("0.8"), utcnow()
        )
    celery = create_celery(runtime.settings, runtime)
    model = runtime.settings.economy_model
    out = {"now": 0, "most": 0}

    def checked_out(*_: Any) -> None:
        out["now"] += 1
        out["most"] = max(out["most"], out["now"])

    def checked_in(*_: Any) -> None:
        out["now"] -= 1

    async def crowd() -> list[Submitted | BaseException]:
        pool = runtime.aio_engine.sync_engine.pool
        event.listen(pool, "checkout", checked_out)
        event.listen(pool, "checkin", checked_in)
        calls = [
            submit_job_async(runtime, celery, TENANT, _complete(i, model)) for i in range(CALLERS)
        ]
        try:
            return list(await asyncio.gather(*calls, return_exceptions=True))
        finally:
            await runtime.aclose()

    outcomes = asyncio.run(crowd())
    failed = [o for o in outcomes if not isinstance(o, Submitted)]
    assert failed == []
    assert len({o.job.id for o in outcomes if isinstance(o, Submitted)}) == CALLERS
    # The group transactions in flight and the one read of what the budgets hold: no more.
    assert out["most"] <= runtime.settings.submit_groups_in_flight + 1
    celery.close()


def test_callers_of_a_key_not_yet_known_share_one_lookup(runtime: Runtime) -> None:
    with session_scope(runtime.sessions) as session:
        key = create_api_key(session, TENANT)
    lookups: list[str] = []

    def statement(*args: Any) -> None:
        if "FROM api_keys" in str(args[2]) and not str(args[2]).lstrip().startswith("UPDATE"):
            lookups.append(str(args[2]))

    async def crowd() -> list[int]:
        event.listen(runtime.aio_engine.sync_engine, "before_cursor_execute", statement)
        transport = httpx.ASGITransport(app=create_app(runtime.settings, runtime))
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://grump") as client:
            calls = [client.get("/v1/jobs", headers=headers) for _ in range(300)]
            try:
                return [answer.status_code for answer in await asyncio.gather(*calls)]
            finally:
                await runtime.aclose()

    assert set(asyncio.run(crowd())) == {200}
    assert len(lookups) == 1
