"""200 concurrent submits against a budget with room for exactly 50, on real Postgres.

Once from threads (the sync submit) and once from one event loop (the API's async submit).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import func, select

from grump.celery.app import create_celery
from grump.errors import BudgetExceeded, TransientError
from grump.jobs.models import CompleteJobRequest
from grump.jobs.run import Step, process_job
from grump.jobs.submit import submit_job, submit_job_async
from grump.ledger.db import make_engine, make_sessionmaker, session_scope, utcnow
from grump.ledger.models import Job
from grump.ledger.money_models import BudgetPeriod, CostEvent
from grump.money import budgets
from grump.money.budget_math import Period
from grump.routing.pricing import estimate_max_cost, estimate_reservation
from grump.runtime import Runtime
from grump.settings import Settings
from tests.fakes.server import server_error
from tests.integration.completions_support import fakes, with_fakes
from tests.integration.money_fixtures import money_ledger  # noqa: F401
from tests.services import redis_or_skip

TENANT = "racer"
SUBMITS, THREADS, ROOM = 200, 20, 50


def _request(index: int, model: str) -> CompleteJobRequest:
    # Same length, so every job reserves the same amount; different text, so none coalesce.
    content = f"summarise ticket {index:04d} in one line"
    return CompleteJobRequest.model_validate(
        {
            "kind": "complete",
            "input": {
                "messages": [{"role": "user", "content": content}],
                "model": model,
                "max_tokens": 200,
            },
        }
    )


@pytest.fixture
def runtime(money_ledger: str, tmp_path: Path) -> Runtime:  # noqa: F811
    redis_url = redis_or_skip()
    settings = Settings.model_validate(
        {"database_url": money_ledger, "broker_url": redis_url, "data_dir": tmp_path}
    )
    return Runtime(settings)


def _sample_use(url: str, stop: threading.Event, seen: list[tuple[Decimal, Decimal]]) -> None:
    engine = make_engine(url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        while not stop.is_set():
            with sessions() as session:
                for row in session.scalars(select(BudgetPeriod)):
                    seen.append((row.spent + row.reserved, row.limit_usd))
    finally:
        engine.dispose()


def _on_threads(runtime: Runtime, celery: Celery, model: str) -> list[str | None]:
    """The sync submit, from THREADS threads at once."""

    def submit(index: int) -> str | None:
        try:
            return str(submit_job(runtime, celery, TENANT, _request(index, model)).job.id)
        except BudgetExceeded:
            return None

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(submit, range(SUBMITS)))


def _on_event_loop(runtime: Runtime, celery: Celery, model: str) -> list[str | None]:
    """The API's async submit, as its routes run it: tasks on one event loop, THREADS at once.

    As many in flight as the threads above: the race is the same, and more at once
    than the pool has connections is a flood, which is answered 503 (not this test).
    """
    in_flight = asyncio.Semaphore(THREADS)

    async def submit(index: int) -> str | None:
        async with in_flight:
            try:
                done = await submit_job_async(runtime, celery, TENANT, _request(index, model))
            except BudgetExceeded:
                return None
            return str(done.job.id)

    async def every() -> list[str | None]:
        try:
            return list(await asyncio.gather(*(submit(i) for i in range(SUBMITS))))
        finally:
            await runtime.aclose()

    return asyncio.run(every())


@pytest.mark.parametrize("submit_all", [_on_threads, _on_event_loop], ids=["sync", "async"])
def test_exactly_the_room_is_accepted_and_settles_to_the_cent(
    runtime: Runtime, submit_all: Callable[[Runtime, Celery, str], list[str | None]]
) -> None:
    settings = runtime.settings
    celery = create_celery(settings, runtime)
    model = settings.economy_model
    each = estimate_reservation(runtime.catalogue, _request(0, model), model)
    assert all(
        estimate_reservation(runtime.catalogue, _request(i, model), model) == each
        for i in range(SUBMITS)
    )
    with session_scope(runtime.sessions) as session:
        budgets.set_budget(
            session, TENANT, None, Period.DAILY, each * ROOM, Decimal("0.8"), utcnow()
        )

    stop, seen = threading.Event(), list[tuple[Decimal, Decimal]]()
    sampler = threading.Thread(target=_sample_use, args=(settings.database_url, stop, seen))
    sampler.start()

    try:
        outcomes = submit_all(runtime, celery, model)
    finally:
        stop.set()
        sampler.join()

    accepted = [job_id for job_id in outcomes if job_id is not None]
    assert len(accepted) == ROOM
    assert seen and all(used <= limit for used, limit in seen), "use went over the limit"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == ROOM  # refused: no row

    with ThreadPoolExecutor(8) as pool:
        steps = list(pool.map(lambda i: process_job(runtime, uuid.UUID(i)), accepted))
    assert steps == [Step.SUCCEEDED] * ROOM

    with runtime.sessions() as session:
        (row,) = session.scalars(select(BudgetPeriod))
        charged = session.scalar(select(func.sum(CostEvent.cost)))
        jobs_cost = session.scalar(select(func.sum(Job.cost)))
    assert row.reserved == 0
    assert charged is not None and charged > 0
    assert row.spent == charged == jobs_cost
    celery.close()
    runtime.dispose()


FALLING, FALLBACK_ROOM = 20, 5


def test_fallbacks_hold_the_difference_first_and_never_overrun_the_budget(
    money_ledger: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Routed economy jobs whose provider is down fall back to premium only while the budget holds.

    The budget has room for every economy reservation plus the premium difference of
    exactly FALLBACK_ROOM jobs; eight workers run them at once against a failing NIM.
    """
    redis_url = redis_or_skip()
    base = Settings.model_validate(
        {"database_url": money_ledger, "broker_url": redis_url, "data_dir": tmp_path}
    )
    with fakes() as (nim, anthropic):
        nim.script(*[server_error("nim")] * (FALLING * 4))
        runtime = Runtime(with_fakes(base, nim, anthropic))
        celery = create_celery(runtime.settings, runtime)
        economy, premium = runtime.settings.economy_model, runtime.settings.premium_model
        routed = [_request(i, "auto") for i in range(FALLING)]
        each = estimate_reservation(runtime.catalogue, routed[0], economy)
        dearer = estimate_max_cost(runtime.catalogue.price(premium), routed[0].input)
        limit = each * FALLING + (dearer - each) * FALLBACK_ROOM
        with session_scope(runtime.sessions) as session:
            budgets.set_budget(session, TENANT, None, Period.DAILY, limit, Decimal("0.8"), utcnow())
        jobs = [submit_job(runtime, celery, TENANT, r).job for r in routed]
        assert {job.model for job in jobs} == {economy}

        def run(job_id: uuid.UUID) -> str:
            try:
                return process_job(runtime, job_id).value
            except TransientError:
                return "refused fallback"

        stop, seen = threading.Event(), list[tuple[Decimal, Decimal]]()
        sampler = threading.Thread(target=_sample_use, args=(money_ledger, stop, seen))
        sampler.start()
        try:
            with ThreadPoolExecutor(8) as pool:
                steps = list(pool.map(run, [job.id for job in jobs]))
        finally:
            stop.set()
            sampler.join()
        with runtime.sessions() as session:
            (row,) = session.scalars(select(BudgetPeriod))
            fell_back = session.scalars(select(Job).where(Job.model == premium)).all()
        # At least the room's worth fell back (more, as earlier fallbacks settle below
        # what they held), and some were refused: the budget, not luck, decided.
        assert FALLBACK_ROOM <= steps.count("succeeded") == len(fell_back) < FALLING
        assert steps.count("refused fallback") == FALLING - len(fell_back)
        assert anthropic.call_count == len(fell_back)
        assert seen and all(used <= cap for used, cap in seen), "use went over the limit"
        assert row.spent == sum(job.cost for job in fell_back) <= row.limit_usd
        celery.close()
        runtime.dispose()
