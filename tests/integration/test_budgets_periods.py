"""Budget periods on real Postgres: rollover at UTC midnight and month end; release on failure."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grump.celery.app import create_celery
from grump.errors import BudgetExceeded, ProviderError
from grump.jobs.models import CompleteJobRequest
from grump.jobs.run import fail_job
from grump.jobs.submit import submit_job
from grump.ledger.db import make_engine, make_sessionmaker, session_scope
from grump.ledger.models import Job
from grump.ledger.money_models import BudgetPeriod
from grump.money import budgets, holds
from grump.money.budget_math import Period
from grump.runtime import Runtime
from grump.settings import Settings
from tests.integration.money_fixtures import money_ledger  # noqa: F401
from tests.services import redis_or_skip

TENANT = "calendar"
LAST_INSTANT = datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
MIDNIGHT = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def sessions(money_ledger: str) -> Iterator[sessionmaker[Session]]:  # noqa: F811
    engine = make_engine(money_ledger)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def _job(session: Session, at: datetime) -> uuid.UUID:
    job = Job(
        id=uuid.uuid4(),
        tenant=TENANT,
        kind="complete",
        status="queued",
        priority=5,
        tier="economy",
        queue="complete.economy",
        input={},
        fingerprint=uuid.uuid4().hex,
        attempts=0,
        tokens_in=0,
        tokens_out=0,
        cost=Decimal(0),
        baseline_cost=Decimal(0),
        reserved_cost=Decimal(0),
        coalesced_count=0,
        created_at=at,
        deadline_at=at,
    )
    session.add(job)
    session.flush()
    return job.id


def _rows(session: Session) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    rows = session.scalars(select(BudgetPeriod))
    return {(r.period, r.period_start.date().isoformat()): (r.spent, r.reserved) for r in rows}


def test_a_job_settles_in_the_period_it_reserved_in(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        for period in Period:
            budgets.set_budget(
                session, TENANT, None, period, Decimal("10"), Decimal("0.8"), LAST_INSTANT
            )
        late = _job(session, LAST_INSTANT)
        budgets.reserve(session, late, TENANT, None, Decimal("6"), LAST_INSTANT)
    with session_scope(sessions) as session:
        # After midnight and after the month's end: the new periods start from zero.
        early = _job(session, MIDNIGHT)
        budgets.reserve(session, early, TENANT, None, Decimal("9"), MIDNIGHT)
        holds.settle(session, late, Decimal("5.5"))
    with sessions() as session:
        assert _rows(session) == {
            ("daily", "2026-01-31"): (Decimal("5.5"), Decimal(0)),
            ("monthly", "2026-01-01"): (Decimal("5.5"), Decimal(0)),
            ("daily", "2026-02-01"): (Decimal(0), Decimal(9)),
            ("monthly", "2026-02-01"): (Decimal(0), Decimal(9)),
        }


def test_the_instant_of_midnight_belongs_to_the_new_day(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        budgets.set_budget(
            session, TENANT, None, Period.DAILY, Decimal("1"), Decimal("0.8"), LAST_INSTANT
        )
        budgets.reserve(
            session, _job(session, LAST_INSTANT), TENANT, None, Decimal(1), LAST_INSTANT
        )
    with pytest.raises(BudgetExceeded) as refused, session_scope(sessions) as session:
        budgets.reserve(
            session, _job(session, LAST_INSTANT), TENANT, None, Decimal("0.01"), LAST_INSTANT
        )
    assert refused.value.details["resets_at"] == MIDNIGHT.isoformat()
    with session_scope(sessions) as session:
        budgets.reserve(session, _job(session, MIDNIGHT), TENANT, None, Decimal(1), MIDNIGHT)
    with sessions() as session:
        assert _rows(session)[("daily", "2026-02-01")] == (Decimal(0), Decimal(1))


def test_a_failed_job_releases_its_reservation(money_ledger: str, tmp_path: object) -> None:  # noqa: F811
    settings = Settings.model_validate(
        {"database_url": money_ledger, "broker_url": redis_or_skip(), "data_dir": str(tmp_path)}
    )
    runtime = Runtime(settings)
    celery = create_celery(settings, runtime)
    now = datetime.now(UTC)
    with session_scope(runtime.sessions) as session:
        budgets.set_budget(session, TENANT, None, Period.MONTHLY, Decimal(1), Decimal("0.8"), now)
    request = CompleteJobRequest.model_validate(
        {"kind": "complete", "input": {"messages": [{"role": "user", "content": "hi"}]}}
    )
    job = submit_job(runtime, celery, TENANT, request).job
    with runtime.sessions() as session:
        assert budgets.budget_left(session, TENANT, None, now + timedelta(seconds=1)) == (
            Decimal(1) - job.reserved_cost
        )
    assert fail_job(runtime, job.id, ProviderError("refused"))
    with runtime.sessions() as session:
        (row,) = session.scalars(select(BudgetPeriod))
        assert (row.spent, row.reserved) == (Decimal(0), Decimal(0))
    celery.close()
    runtime.dispose()
