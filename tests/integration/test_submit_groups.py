"""Group commit: submits arriving together are written together, each caller answered alone.

On real Postgres and Redis. Each group here is made whole by its size
(``submit_group_max_jobs``) with a long wait, so what goes in one transaction
does not depend on timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from sqlalchemy import create_engine, event, func, select, text

from grump.celery.app import create_celery
from grump.errors import (
    BrokerUnavailable,
    BudgetExceeded,
    Conflict,
    DatabaseUnavailable,
    GrumpError,
    Overloaded,
)
from grump.jobs.models import AnyJobRequest, CompleteJobRequest, ParseJobRequest
from grump.jobs.submit import Submitted, submit_job_async
from grump.ledger.db import normalise_url, session_scope, utcnow
from grump.ledger.models import Job
from grump.ledger.money_models import BudgetHold, BudgetPeriod
from grump.money import budgets
from grump.money.budget_math import Period
from grump.routing.pricing import estimate_reservation
from grump.runtime import Runtime
from grump.settings import Settings
from tests.integration.money_fixtures import money_ledger  # noqa: F401
from tests.services import free_port, redis_or_skip

pytestmark = pytest.mark.integration
TENANT = "grouped"
GROUP = 8

Outcome = Submitted | BaseException


def _parse(index: int) -> ParseJobRequest:
    return ParseJobRequest.model_validate({"kind": "parse", "input": {"text": f"todo app {index}"}})


def _complete(index: int, model: str, user: str | None = None) -> CompleteJobRequest:
    content = f"summarise ticket {index:04d} in one line"
    body: dict[str, Any] = {
        "kind": "complete",
        "input": {"messages": [{"role": "user", "content": content}], "model": model},
    }
    if user is not None:
        body["user"] = user
    return CompleteJobRequest.model_validate(body)


def _runtime(ledger: str, tmp_path: Path, broker: str | None = None, **extra: Any) -> Runtime:
    settings = Settings.model_validate(
        {
            "database_url": ledger,
            "broker_url": broker or redis_or_skip(),
            "data_dir": tmp_path,
            "submit_group_wait_ms": 1000,
            "submit_group_max_jobs": GROUP,
            "retry_after_seconds": 7,
        }
        | extra
    )
    return Runtime(settings)


@pytest.fixture
def runtime(money_ledger: str, tmp_path: Path) -> Iterator[Runtime]:  # noqa: F811
    client = redis.Redis.from_url(redis_or_skip())
    client.flushdb()
    made = _runtime(money_ledger, tmp_path)
    yield made
    made.dispose()
    client.flushdb()
    client.close()


def _together(
    runtime: Runtime,
    celery: Celery,
    submits: list[tuple[AnyJobRequest, str | None]],
    watch: Callable[[Runtime], None] | None = None,
    tenant: str = TENANT,
) -> list[Outcome]:
    """Submit all at once on one event loop, as concurrent API requests do."""

    async def every() -> list[Outcome]:
        if watch is not None:
            watch(runtime)
        calls: list[Awaitable[Submitted]] = [
            submit_job_async(runtime, celery, tenant, request, key) for request, key in submits
        ]
        try:
            return list(await asyncio.gather(*calls, return_exceptions=True))
        finally:
            await runtime.aclose()

    return asyncio.run(every())


def _count_inserts(seen: list[str]) -> Callable[[Runtime], None]:
    def watch(runtime: Runtime) -> None:
        @event.listens_for(runtime.aio_engine.sync_engine, "before_cursor_execute")
        def statement(*args: Any) -> None:
            sql = str(args[2]).lstrip()
            if sql.startswith("INSERT INTO jobs"):
                seen.append(sql)

    return watch


def _jobs(runtime: Runtime) -> list[Job]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Job)))


def test_concurrent_submits_are_one_insert_and_each_caller_gets_its_own_job(
    runtime: Runtime,
) -> None:
    celery = create_celery(runtime.settings, runtime)
    inserts: list[str] = []
    outcomes = _together(
        runtime, celery, [(_parse(i), None) for i in range(GROUP)], _count_inserts(inserts)
    )
    assert len(inserts) == 1
    assert all(isinstance(o, Submitted) and o.created for o in outcomes)
    ids = {o.job.id for o in outcomes if isinstance(o, Submitted)}
    assert len(ids) == GROUP
    jobs = _jobs(runtime)
    assert {j.id for j in jobs} == ids
    assert all(j.status == "queued" and j.enqueued_at is not None for j in jobs)
    assert all(j.routing is None for j in jobs)  # SQL NULL, as a single insert leaves it
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).where(Job.routing.is_(None))) == GROUP
    with celery.connection_for_write() as connection:  # every message published
        assert connection.default_channel.queue_declare("parse").message_count == GROUP
    celery.close()


def test_one_refused_by_its_budget_leaves_the_rest_of_the_group_accepted(
    runtime: Runtime,
) -> None:
    celery = create_celery(runtime.settings, runtime)
    model = runtime.settings.economy_model
    each = estimate_reservation(runtime.catalogue, _complete(0, model), model)
    with session_scope(runtime.sessions) as session:
        now = utcnow()
        budgets.set_budget(session, TENANT, None, Period.DAILY, each * 100, Decimal("0.8"), now)
        budgets.set_budget(session, TENANT, "poor", Period.DAILY, each / 2, Decimal("0.8"), now)
    inserts: list[str] = []
    submits: list[tuple[AnyJobRequest, str | None]] = [
        (_complete(i, model, "poor" if i == 3 else "rich"), None) for i in range(GROUP)
    ]
    outcomes = _together(runtime, celery, submits, _count_inserts(inserts))

    assert len(inserts) == 1
    refused = outcomes[3]
    assert isinstance(refused, BudgetExceeded)
    assert refused.details["scope"] == "user:poor"
    accepted = [o for i, o in enumerate(outcomes) if i != 3]
    assert all(isinstance(o, Submitted) and o.created for o in accepted)
    jobs = _jobs(runtime)
    assert len(jobs) == GROUP - 1 and all(j.user_id == "rich" for j in jobs)  # refused: no row
    with runtime.sessions() as session:
        tenant_row = session.scalars(select(BudgetPeriod).where(BudgetPeriod.user_id == "")).one()
        held = session.scalar(select(func.sum(BudgetHold.amount)))
        poor_row = session.scalars(
            select(BudgetPeriod).where(BudgetPeriod.user_id == "poor")
        ).first()
    assert tenant_row.reserved == held == each * (GROUP - 1)
    assert poor_row is None or poor_row.reserved == 0
    celery.close()


def test_a_repeated_idempotency_key_in_one_group_replays_or_conflicts(runtime: Runtime) -> None:
    celery = create_celery(runtime.settings, runtime)
    submits: list[tuple[AnyJobRequest, str | None]] = [
        (_parse(0), "k-1"),
        (_parse(1), None),
        (_parse(0), "k-1"),  # the same request again: the same job
        (_parse(2), "k-1"),  # another request under the same key: 409
        (_parse(1), None),  # identical to an earlier one of the group: joins it
    ] + [(_parse(10 + i), None) for i in range(GROUP - 5)]
    outcomes = _together(runtime, celery, submits)

    first, other, again, conflict, joined = outcomes[:5]
    assert isinstance(first, Submitted) and first.created
    assert isinstance(again, Submitted) and again.replayed and again.job.id == first.job.id
    assert isinstance(conflict, Conflict)
    assert isinstance(other, Submitted) and other.created
    assert isinstance(joined, Submitted) and joined.coalesced and joined.job.id == other.job.id
    jobs = {j.id: j for j in _jobs(runtime)}
    assert len(jobs) == GROUP - 3
    assert [j.idempotency_key for j in jobs.values()].count("k-1") == 1
    assert jobs[other.job.id].coalesced_count == 1
    celery.close()


def test_a_row_the_database_refuses_fails_only_its_own_caller(runtime: Runtime) -> None:
    celery = create_celery(runtime.settings, runtime)
    submits: list[tuple[AnyJobRequest, str | None]] = [(_parse(i), None) for i in range(GROUP)]
    long_key = "k" * 300  # longer than the column: Postgres refuses the row
    submits[2] = (_parse(2), long_key)
    outcomes = _together(runtime, celery, submits)
    assert not isinstance(outcomes[2], Submitted)
    assert all(isinstance(o, Submitted) and o.created for i, o in enumerate(outcomes) if i != 2)
    assert len(_jobs(runtime)) == GROUP - 1
    celery.close()


def test_postgres_lost_mid_group_answers_each_caller_503_and_accepts_nothing(
    runtime: Runtime,
) -> None:
    celery = create_celery(runtime.settings, runtime)
    killer = create_engine(normalise_url(runtime.settings.database_url or ""))

    def watch(runtime: Runtime) -> None:
        @event.listens_for(runtime.aio_engine.sync_engine, "before_cursor_execute")
        def cut(conn: Any, *args: Any) -> None:
            if str(args[1]).lstrip().startswith("INSERT INTO jobs"):
                pid = conn.connection.dbapi_connection.info.backend_pid
                with killer.begin() as other:
                    other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    outcomes = _together(runtime, celery, [(_parse(i), None) for i in range(GROUP)], watch)
    killer.dispose()
    assert all(isinstance(o, DatabaseUnavailable) and o.retry_after == 7 for o in outcomes)
    assert _jobs(runtime) == []
    celery.close()


def test_redis_down_answers_each_caller_503_and_leaves_no_job_queued(
    money_ledger: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    runtime = _runtime(money_ledger, tmp_path, broker=f"redis://127.0.0.1:{free_port()}/0")
    celery = create_celery(runtime.settings, runtime)
    outcomes = _together(runtime, celery, [(_parse(i), None) for i in range(GROUP)])
    assert all(isinstance(o, BrokerUnavailable) and o.retry_after == 7 for o in outcomes)
    assert {j.status for j in _jobs(runtime)} == {"rejected"}
    celery.close()
    runtime.dispose()


def test_a_flood_past_the_waiting_bound_is_answered_503_at_once(
    money_ledger: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    runtime = _runtime(money_ledger, tmp_path, submit_max_waiting=5, submit_group_max_jobs=64)
    celery = create_celery(runtime.settings, runtime)
    outcomes = _together(runtime, celery, [(_parse(i), None) for i in range(40)])
    accepted = [o for o in outcomes if isinstance(o, Submitted)]
    turned_away = [o for o in outcomes if isinstance(o, Overloaded)]
    assert len(accepted) == 5 and len(turned_away) == 35
    assert all(o.status_code == 503 and o.retry_after == 7 for o in turned_away)
    assert all(isinstance(o, GrumpError) for o in turned_away)
    assert len(_jobs(runtime)) == 5
    celery.close()
    runtime.dispose()


def test_a_job_record_has_every_column_of_the_jobs_table() -> None:
    from dataclasses import fields

    from grump.jobs.records import JobRecord
    from grump.ledger.models import JOBS

    assert {f.name for f in fields(JobRecord)} == set(JOBS.c.keys())


def test_what_routing_may_spend_is_read_as_the_budgets_read_it(runtime: Runtime) -> None:
    from grump.money.reservations import money_left, money_left_many

    now = utcnow()
    with session_scope(runtime.sessions) as session:
        assert money_left(session, TENANT, None, None, now) is None
        budgets.set_budget(session, TENANT, None, Period.DAILY, Decimal("2"), Decimal("0.8"), now)
        budgets.set_budget(session, TENANT, "u", Period.MONTHLY, Decimal("1"), Decimal("0.8"), now)
        budgets.set_budget(
            session, TENANT, None, Period.DAILY, Decimal("3"), Decimal("0.8"), now, 7
        )
    cases = [(None, None), ("u", None), ("v", 7), ("u", 7)]

    def compare() -> None:
        for user, key in cases:
            with session_scope(runtime.sessions) as session:
                expected = budgets.budget_left(session, TENANT, user, now, key)
                assert money_left(session, TENANT, user, key, now) == expected
        # Read for several callers at once, each scope is answered as it is alone.
        scopes = [(TENANT, user, key) for user, key in cases] + [("other", None, None)]
        with session_scope(runtime.sessions) as session:
            together = money_left_many(session, scopes, now)
            assert together == {s: money_left(session, *s, now) for s in scopes}

    compare()  # no period rows yet
    celery = create_celery(runtime.settings, runtime)
    model = runtime.settings.economy_model
    (held,) = _together(runtime, celery, [(_complete(0, model, "u"), None)])
    assert isinstance(held, Submitted) and held.job.reserved_cost > 0
    compare()  # period rows holding its reservation
    celery.close()
