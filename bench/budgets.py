"""Budget reservations on one hot row, and rolling up a million cost events (real Postgres).

    .venv/bin/python bench/budgets.py [--threads 16] [--per-thread 500] [--events 1000000]

Uses GRUMP_TEST_DATABASE_URL (default: local Postgres) to create a throwaway database.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from grump.ledger.db import make_engine, make_sessionmaker, session_scope
from grump.ledger.migrate import upgrade
from grump.ledger.models import Job
from grump.money import budgets
from grump.money.budget_math import Period
from grump.money.rollups import rollup_costs
from tests.services import create_database, drop_database

TENANT = "hot"
AMOUNT = Decimal("0.0001")


def _job(at: datetime) -> Job:
    job_id = uuid.uuid4()
    return Job(
        id=job_id,
        tenant=TENANT,
        kind="complete",
        status="queued",
        priority=5,
        tier="economy",
        queue="complete.economy",
        input={"messages": []},
        fingerprint=job_id.hex,
        attempts=0,
        tokens_in=0,
        tokens_out=0,
        cost=Decimal(0),
        baseline_cost=Decimal(0),
        reserved_cost=AMOUNT,
        coalesced_count=0,
        created_at=at,
        deadline_at=at,
    )


def _insert_only(session: Session) -> None:
    session.add(_job(datetime.now(UTC)))


def _insert_and_reserve(session: Session) -> None:
    now = datetime.now(UTC)
    job = _job(now)
    session.add(job)
    session.flush()
    budgets.reserve(session, job.id, TENANT, None, AMOUNT, now)


def _submitter(url: str, work_name: str, each: int, start_line: Any, done: Any) -> None:
    # One process per submitter, as API processes are: threads would measure the GIL.
    engine = make_engine(url, pool_size=1)
    sessions = make_sessionmaker(engine)
    work = WORK[work_name]
    for _ in range(3):
        with session_scope(sessions) as session:
            work(session)
    start_line.wait()
    for _ in range(each):
        with session_scope(sessions) as session:
            work(session)
    done.put(1)
    engine.dispose()


def _rate(url: str, work_name: str, processes: int, each: int) -> float:
    context = multiprocessing.get_context("fork")
    start_line = context.Barrier(processes + 1)
    done = context.Queue()
    workers = [
        context.Process(target=_submitter, args=(url, work_name, each, start_line, done))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    start_line.wait()
    started = time.perf_counter()
    for _ in workers:
        done.get()
    took = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return processes * each / took


WORK: dict[str, Callable[[Session], None]] = {
    "insert": _insert_only,
    "reserve": _insert_and_reserve,
}


def bench_reservations(url: str, threads: int, each: int) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with session_scope(sessions) as session:
        budgets.set_budget(
            session,
            TENANT,
            None,
            Period.MONTHLY,
            Decimal(10**6),
            Decimal("0.8"),
            datetime.now(UTC),
        )
    engine.dispose()
    plain = _rate(url, "insert", threads, each)
    reserved = _rate(url, "reserve", threads, each)
    print(f"{threads} submitter processes x {each} transactions each, one hot tenant budget row")
    print(f"  plain job INSERT + commit:                     {plain:8.0f} /s")
    print(f"  job INSERT + reservation UPDATE + hold + commit: {reserved:8.0f} /s")


GENERATE = """
INSERT INTO cost_events (job_id, tenant, user_id, session_id, kind, model, tier, provider,
    tokens_in, tokens_out, cost, baseline_cost, cache_savings, routing_savings, cached, created_at)
SELECT gen_random_uuid(), 'tenant-' || (i % 20), 'user-' || (i % 500), NULL,
    (ARRAY['parse','complete','embed'])[1 + i % 3],
    (ARRAY['moonshotai/kimi-k2.5','claude-sonnet-4-5','nvidia/nv-embedqa-e5-v5'])[1 + i % 3],
    (ARRAY['cpu','economy','gpu'])[1 + i % 3], 'offline',
    100 + i % 900, i % 400, (i % 1000) * 0.0000013, (i % 1000) * 0.0000042,
    0, (i % 1000) * 0.0000029, i % 10 = 0,
    TIMESTAMPTZ '2026-01-01 00:00:00+00' + (i * INTERVAL '2.6 seconds')
FROM generate_series(1, :n) AS i
"""


def bench_rollup(url: str, events: int) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        # A throwaway database: the events need no job rows here.
        connection.execute(text("ALTER TABLE cost_events DROP CONSTRAINT cost_events_job_id_fkey"))
        started = time.perf_counter()
        connection.execute(text(GENERATE), {"n": events})
    print(f"generated {events:,} cost events in {time.perf_counter() - started:.1f}s")
    sessions = make_sessionmaker(engine)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    with session_scope(sessions) as session:
        run = rollup_costs(session, later)
    took = time.perf_counter() - started
    print(
        f"rollup of {run.events:,} events into {run.buckets:,} hourly+daily rows: {took:.2f}s"
        f" ({run.events / took:,.0f} events/s)"
    )
    started = time.perf_counter()
    with session_scope(sessions) as session:
        again = rollup_costs(session, later + timedelta(hours=1))
    print(
        f"second run (nothing new, watermark {again.watermark:,}):"
        f" {time.perf_counter() - started:.3f}s"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--per-thread", type=int, default=500)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    url, name = create_database()
    try:
        upgrade(url)
        bench_reservations(url, args.threads, args.per_thread)
        bench_rollup(url, args.events)
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
