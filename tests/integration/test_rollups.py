"""Cost rollups on real Postgres: exact, incremental, and idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from grump.ledger.db import make_engine, make_sessionmaker, session_scope
from grump.ledger.money_models import CostEvent, CostRollup
from grump.money.rollups import SETTLE_LAG, rollup_costs
from tests.integration.money_fixtures import money_ledger  # noqa: F401
from tests.unit.test_costs_api import seed_event

T0 = datetime(2026, 6, 1, 22, 15, tzinfo=UTC)
LATER = T0 + timedelta(days=2)


@pytest.fixture
def sessions(money_ledger: str) -> Iterator[sessionmaker[Session]]:  # noqa: F811
    engine = make_engine(money_ledger)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def _seed(sessions: sessionmaker[Session], *events: tuple[datetime, str, str]) -> None:
    with session_scope(sessions) as session:
        for at, tenant, cost in events:
            seed_event(session, tenant, at, cost, user="u")


def _table(sessions: sessionmaker[Session]) -> dict[tuple[str, str, str], tuple[int, Decimal]]:
    with sessions() as session:
        rows = session.scalars(select(CostRollup))
        return {
            (r.granularity, r.bucket_start.isoformat(), r.tenant): (r.requests, r.cost)
            for r in rows
        }


def test_rollups_sum_hours_and_days_and_never_count_twice(sessions: sessionmaker[Session]) -> None:
    _seed(
        sessions,
        (T0, "a", "0.0000000001"),
        (T0 + timedelta(minutes=30), "a", "0.25"),
        (T0 + timedelta(hours=2), "a", "1"),  # 00:15 the next day
        (T0, "b", "2"),
    )
    with session_scope(sessions) as session:
        first = rollup_costs(session, LATER)
    assert first.events == 4
    expected = {
        ("hour", "2026-06-01T22:00:00+00:00", "a"): (2, Decimal("0.2500000001")),
        ("hour", "2026-06-02T00:00:00+00:00", "a"): (1, Decimal("1")),
        ("hour", "2026-06-01T22:00:00+00:00", "b"): (1, Decimal("2")),
        ("day", "2026-06-01T00:00:00+00:00", "a"): (2, Decimal("0.2500000001")),
        ("day", "2026-06-02T00:00:00+00:00", "a"): (1, Decimal("1")),
        ("day", "2026-06-01T00:00:00+00:00", "b"): (1, Decimal("2")),
    }
    assert _table(sessions) == expected
    with session_scope(sessions) as session:
        assert rollup_costs(session, LATER).events == 0  # a second run changes nothing
    assert _table(sessions) == expected

    # Only new events are read: rewriting an old one (which never happens: events are
    # append-only) would show up if the rollup rescanned history.
    with session_scope(sessions) as session:
        session.execute(update(CostEvent).values(cost=Decimal("100")))
    _seed(sessions, (T0 + timedelta(minutes=40), "a", "0.5"))
    with session_scope(sessions) as session:
        assert rollup_costs(session, LATER).events == 1
    table = _table(sessions)
    assert table[("hour", "2026-06-01T22:00:00+00:00", "a")] == (3, Decimal("0.7500000001"))
    assert table[("day", "2026-06-01T00:00:00+00:00", "a")] == (3, Decimal("0.7500000001"))


def test_events_younger_than_the_lag_wait_for_the_next_run(
    sessions: sessionmaker[Session],
) -> None:
    now = datetime.now(UTC)
    _seed(sessions, (now - SETTLE_LAG * 2, "a", "1"), (now, "a", "2"))
    with session_scope(sessions) as session:
        assert rollup_costs(session, now).events == 1
    with session_scope(sessions) as session:
        assert rollup_costs(session, now + SETTLE_LAG * 2).events == 1
    hours = [v for k, v in _table(sessions).items() if k[0] == "hour"]
    assert sum(cost for _, cost in hours) == Decimal(3)
