"""Ledger writes for many jobs at once: the gpu worker claims and records a batch together.

The guarantees are those of ``grump.ledger.jobs``, per job: a claim and a
result are each one conditional UPDATE, a job is charged at most once
(``cost_events.job_id`` is unique), and the budget is settled in the result's
transaction. What changes is that a whole batch shares one transaction and one
commit, and its budget counters are settled with one UPDATE per counter row.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, delete, literal, update
from sqlalchemy.orm import Session

from grump.jobs import JobStatus
from grump.ledger.db import utcnow
from grump.ledger.jobs import ACTIVE_STATUS_VALUES, Outcome, cost_event, finish_values
from grump.ledger.models import BudgetHold, BudgetPeriod, Job
from grump.ledger.money_units import to_units


def claim_many(session: Session, job_ids: Sequence[uuid.UUID], deadline: datetime) -> list[Job]:
    """Mark every job of ``job_ids`` that is not final running; the rows claimed."""
    if not job_ids:
        return []
    statement = (
        update(Job)
        .where(Job.id.in_(job_ids), Job.status.in_(ACTIVE_STATUS_VALUES))
        .values(
            status=JobStatus.RUNNING.value,
            attempts=Job.attempts + 1,
            started_at=utcnow(),
            deadline_at=deadline,
        )
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    return list(session.scalars(statement, execution_options={"populate_existing": True}))


def finish_many(session: Session, finished: Sequence[tuple[Job, Outcome]]) -> list[uuid.UUID]:
    """Record each job's success and cost event; the ids recorded (final ones are skipped).

    Rows are locked in job-id order and budget counters in budget-id order, the
    order every other writer uses, so concurrent batches never deadlock.
    """
    now = utcnow()
    recorded: list[tuple[Job, Outcome]] = []
    for job, outcome in sorted(finished, key=lambda pair: pair[0].id):
        changed = session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status.in_(ACTIVE_STATUS_VALUES))
            .values(**finish_values(job, outcome, now))
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        ).first()
        if changed is not None:
            recorded.append((job, outcome))
    session.add_all([cost_event(job, outcome, now) for job, outcome in recorded])
    settle_many(session, {job.id: outcome.cost for job, outcome in recorded})
    return [job.id for job, _ in recorded]


def settle_many(session: Session, costs: dict[uuid.UUID, Decimal]) -> None:
    """Turn the holds of many jobs into their actual costs: one UPDATE per counter row."""
    if not costs:
        return
    taken = session.execute(
        delete(BudgetHold)
        .where(BudgetHold.job_id.in_(list(costs)))
        .returning(BudgetHold.job_id, BudgetHold.period_id, BudgetHold.budget_id, BudgetHold.amount)
        .execution_options(synchronize_session=False)
    ).all()
    released: defaultdict[tuple[int, int], Decimal] = defaultdict(Decimal)
    spent: defaultdict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for job_id, period_id, budget_id, amount in taken:
        released[(budget_id, period_id)] += amount
        spent[(budget_id, period_id)] += costs[job_id]
    for budget_id, period_id in sorted(released):
        session.execute(
            update(BudgetPeriod)
            .where(BudgetPeriod.id == period_id)
            .values(
                reserved=BudgetPeriod.reserved
                - literal(to_units(released[(budget_id, period_id)]), BigInteger),
                spent=BudgetPeriod.spent
                + literal(to_units(spent[(budget_id, period_id)]), BigInteger),
            )
            .execution_options(synchronize_session=False)
        )
