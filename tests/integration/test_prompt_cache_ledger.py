"""Prompt-cache tokens and savings on real Postgres: job rows, cost events, sums, rollups, reports."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grump.cache.completions import CachedAnswer, hit_outcome
from grump.jobs import rows
from grump.jobs.batch_rows import finish_many
from grump.jobs.models import Outcome
from grump.ledger.db import make_engine, make_sessionmaker, session_scope, utcnow
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent, CostRollup
from grump.money import costs
from grump.money.reports import ReportPeriod, render_csv, render_markdown
from grump.money.reports.build import build_report
from grump.money.rollups import SETTLE_LAG, rollup_costs
from grump.routing.pricing import cache_savings, load_catalogue
from tests.integration.money_fixtures import money_ledger  # noqa: F401

TENANT = "cachey"
CATALOGUE = load_catalogue()
CLAUDE = CATALOGUE.price("claude-sonnet-4-5")
KIMI = CATALOGUE.price("moonshotai/kimi-k2.5")


@pytest.fixture
def sessions(money_ledger: str) -> Iterator[sessionmaker[Session]]:  # noqa: F811
    engine = make_engine(money_ledger)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def _running_job(session: Session, kind: str = "complete", tier: str = "premium") -> Job:
    now = utcnow()
    job = Job(
        id=uuid.uuid4(),
        tenant=TENANT,
        user_id="ann",
        kind=kind,
        status="running",
        tier=tier,
        queue="q",
        model=CLAUDE.model,
        input={},
        fingerprint=uuid.uuid4().hex,
        attempts=1,
        created_at=now,
        started_at=now,
        deadline_at=now + timedelta(minutes=5),
    )
    session.add(job)
    session.flush()
    return job


def _claude_call() -> Outcome:
    """10,000 tokens in (2,000 read from the prompt cache, 3,000 written to it), 500 out."""
    return Outcome(
        result={"content": "ok"},
        model=CLAUDE.model,
        provider="anthropic",
        tokens_in=10_000,
        tokens_out=500,
        cost=CLAUDE.cost(10_000, 500, 2_000, 3_000),
        baseline_cost=CLAUDE.cost(10_000, 500),
        tokens_cache_read=2_000,
        tokens_cache_write=3_000,
        provider_cache_savings=cache_savings(CLAUDE, 2_000),
    )


def _record(sessions: sessionmaker[Session], *outcomes: Outcome) -> list[uuid.UUID]:
    with session_scope(sessions) as session:
        ids = []
        for outcome in outcomes:
            job = _running_job(session)
            assert rows.finish(session, job, outcome)
            ids.append(job.id)
        return ids


def test_finish_writes_the_prompt_cache_tokens_and_saving_on_the_job_and_its_event(
    sessions: sessionmaker[Session],
) -> None:
    call = _claude_call()
    assert (call.cost, call.baseline_cost, call.provider_cache_savings) == (
        Decimal("0.03435"),  # 5,000 x $3 + 2,000 x $0.30 + 3,000 x $3.75 + 500 x $15
        Decimal("0.0375"),  # 10,000 x $3 + 500 x $15
        Decimal("0.0054"),  # 2,000 x ($3 - $0.30)
    )
    [job_id] = _record(sessions, call)
    with sessions() as session:
        job = session.get_one(Job, job_id)
        event = session.scalars(select(CostEvent).where(CostEvent.job_id == job_id)).one()
    assert (job.tokens_in, job.tokens_cache_read, job.tokens_cache_write) == (10_000, 2_000, 3_000)
    assert job.cost == Decimal("0.0343500000")
    assert (event.tokens_cache_read, event.tokens_cache_write) == (2_000, 3_000)
    assert event.provider_cache_savings == Decimal("0.0054000000")
    assert event.cost == Decimal("0.0343500000") and event.cache_savings == 0
    assert event.routing_savings == 0  # premium with a write surcharge: routing saved nothing


def test_a_cache_hit_counts_no_provider_cache_tokens_and_saves_the_call_as_billed(
    sessions: sessionmaker[Session],
) -> None:
    call = _claude_call()
    answer = CachedAnswer.from_json(CachedAnswer.of(call).to_json())
    assert (answer.tokens_cache_read, answer.tokens_cache_write) == (2_000, 3_000)
    hit = hit_outcome(answer, CATALOGUE, CLAUDE.model)
    _, hit_id = _record(sessions, call, hit)
    with sessions() as session:
        job = session.get_one(Job, hit_id)
        event = session.scalars(select(CostEvent).where(CostEvent.job_id == hit_id)).one()
    assert (job.tokens_in, job.tokens_cache_read, job.tokens_cache_write) == (0, 0, 0)
    assert (event.tokens_cache_read, event.tokens_cache_write) == (0, 0)
    assert event.cost == 0 and event.provider_cache_savings == 0
    assert event.cache_savings == Decimal("0.03435")  # exactly what the call it replaced cost
    assert event.baseline_cost == Decimal("0.0375")
    assert event.routing_savings == Decimal("0.00315")  # 0.0375 - 0.03435
    # An entry cached before cache tokens were kept prices the call as plain input.
    old = {k: v for k, v in CachedAnswer.of(call).to_json().items() if "cache" not in k}
    assert hit_outcome(CachedAnswer.from_json(old), CATALOGUE, CLAUDE.model).cache_savings == (
        Decimal("0.0375")
    )


def test_a_batch_of_results_writes_the_prompt_cache_tokens_too(
    sessions: sessionmaker[Session],
) -> None:
    with session_scope(sessions) as session:
        jobs = [_running_job(session) for _ in range(2)]
        finished = finish_many(session, [(job, _claude_call()) for job in jobs])
    assert sorted(finished) == sorted(job.id for job in jobs)
    with sessions() as session:
        written = session.execute(
            select(Job.tokens_cache_read, Job.tokens_cache_write).where(Job.tenant == TENANT)
        ).all()
        events = session.scalars(select(CostEvent.provider_cache_savings)).all()
    assert sorted(written) == [(2_000, 3_000), (2_000, 3_000)]
    assert events == [Decimal("0.0054"), Decimal("0.0054")]


def test_sums_rollups_and_reports_show_provider_caching_as_a_cause_of_its_own(
    sessions: sessionmaker[Session],
) -> None:
    call = _claude_call()
    plain = Outcome(
        result={},
        model=KIMI.model,
        provider="nim",
        tokens_in=1_000,
        tokens_out=100,
        cost=KIMI.cost(1_000, 100),
        baseline_cost=CLAUDE.cost(1_000, 100),
    )
    _record(sessions, call, call, plain)
    start, end = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1)
    with sessions() as session:
        totals = costs.totals(session, TENANT, start, end)
        by_model = dict(costs.summary(session, TENANT, start, end, costs.GroupBy.MODEL))
    assert (totals.requests, totals.tokens_in) == (3, 21_000)
    assert (totals.tokens_cache_read, totals.tokens_cache_write) == (4_000, 6_000)
    assert totals.provider_cache_savings == Decimal("0.0108")
    assert totals.routing_savings == Decimal("0.00384")  # kimi: 0.0045 - 0.00066
    assert totals.savings == Decimal("0.01464")
    assert by_model[CLAUDE.model].tokens_cache_read == 4_000
    assert by_model[KIMI.model].provider_cache_savings == 0

    with session_scope(sessions) as session:
        assert rollup_costs(session, utcnow() + SETTLE_LAG * 2).events == 3
    with sessions() as session:
        days = session.scalars(select(CostRollup).where(CostRollup.granularity == "day")).all()
    claude_day = next(r for r in days if r.model == CLAUDE.model)
    assert (claude_day.tokens_cache_read, claude_day.tokens_cache_write) == (4_000, 6_000)
    assert claude_day.provider_cache_savings == Decimal("0.0108")
    assert sum(r.provider_cache_savings for r in days) == Decimal("0.0108")

    now = utcnow()
    with sessions() as session:
        report = build_report(session, TENANT, ReportPeriod.DAY, now, now)
    assert report.totals.provider_cache_savings == Decimal("0.0108")
    assert (report.totals.tokens_cache_read, report.totals.tokens_cache_write) == (4_000, 6_000)
    assert report.totals.savings == Decimal("0.01464")
    claude_row = next(row for row in report.by_model if row.key == CLAUDE.model)
    assert claude_row.provider_cache_savings == Decimal("0.0108")
    assert claude_row.savings == Decimal("0.0108")
    text = render_markdown(report)
    assert "| Saved by the provider's prompt cache | $0.0108 |" in text
    assert "| of which read from the prompt cache | 4,000 |" in text
    current = next(
        r for r in csv.DictReader(io.StringIO(render_csv(report))) if r["key"] == "current"
    )
    assert Decimal(current["provider_cache_savings"]) == Decimal("0.0108")
    assert (current["tokens_cache_read"], current["tokens_cache_write"]) == ("4000", "6000")
