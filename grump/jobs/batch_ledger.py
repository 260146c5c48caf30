"""The ledger statements of deferred jobs and their provider batches.

A batch row is written, and its jobs claimed (``jobs.batch_id``), in one
transaction before the provider hears of it; the provider's id is recorded
after. Every change to a job is one conditional UPDATE on its status and its
batch, so a result is recorded once, and a job that left its batch (run as an
ordinary job, cancelled) ignores whatever that batch later says of it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from grump.celery.queues import queue_for
from grump.errors import BudgetExceeded
from grump.jobs import rows
from grump.jobs.models import CompleteInput, JobStatus, Outcome, Tier
from grump.ledger.db import utcnow
from grump.ledger.models import Job, MessageBatch
from grump.money import budgets, holds
from grump.routing.pricing import PriceCatalogue, estimate_max_cost

PENDING, IN_PROGRESS, ENDED, ABANDONED = "pending", "in_progress", "ended", "abandoned"
QUEUED = JobStatus.QUEUED.value
REFUSED = ""  # run_ordinary: the budgets could not hold the full price, the job failed


def claim_for_batch(
    session: Session, batch_key: str, provider: str, now: datetime, latest: datetime, limit: int
) -> list[Job]:
    """Claim up to ``limit`` unbatched deferred jobs for a new batch row ``batch_key``.

    Only jobs whose deadline is after ``latest`` (they can still wait for a batch);
    locked rows are skipped, so two passes never claim one job.
    """
    jobs = list(
        session.scalars(
            select(Job)
            .where(
                Job.defer_until.is_not(None),
                Job.batch_id.is_(None),
                Job.status == QUEUED,
                Job.defer_until > latest,
            )
            .order_by(Job.defer_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not jobs:
        return []
    session.add(
        MessageBatch(
            id=batch_key,
            provider=provider,
            state=PENDING,
            request_count=len(jobs),
            created_at=now,
        )
    )
    session.flush()
    session.execute(
        update(Job).where(Job.id.in_([j.id for j in jobs])).values(batch_id=batch_key),
        execution_options={"synchronize_session": False},
    )
    return jobs


def mark_submitted(session: Session, batch_key: str, provider_batch_id: str, now: datetime) -> None:
    """Record the provider's id of a created batch: it is polled from now on."""
    session.execute(
        update(MessageBatch)
        .where(MessageBatch.id == batch_key, MessageBatch.state == PENDING)
        .values(state=IN_PROGRESS, provider_batch_id=provider_batch_id, submitted_at=now)
    )


def mark_ended(session: Session, batch_key: str, now: datetime) -> None:
    """A batch whose results are all recorded."""
    session.execute(
        update(MessageBatch).where(MessageBatch.id == batch_key).values(state=ENDED, ended_at=now)
    )


def abandon(session: Session, batch_key: str, now: datetime) -> None:
    """A pending batch the provider never created: its jobs wait for the next batch."""
    session.execute(
        update(MessageBatch)
        .where(MessageBatch.id == batch_key, MessageBatch.state == PENDING)
        .values(state=ABANDONED, ended_at=now)
    )
    session.execute(
        update(Job).where(Job.batch_id == batch_key, Job.status == QUEUED).values(batch_id=None)
    )


def batches_in(session: Session, state: str) -> list[MessageBatch]:
    """The batch rows in ``state``, oldest first."""
    return list(
        session.scalars(
            select(MessageBatch)
            .where(MessageBatch.state == state)
            .order_by(MessageBatch.created_at)
        )
    )


def known_provider_ids(session: Session) -> set[str]:
    """Every provider batch id the ledger has recorded."""
    found = session.scalars(
        select(MessageBatch.provider_batch_id).where(MessageBatch.provider_batch_id.is_not(None))
    )
    return {str(value) for value in found}


def waiting_in(session: Session, batch_key: str) -> list[Job]:
    """The jobs still queued in a batch (not answered, run elsewhere or cancelled)."""
    return list(session.scalars(select(Job).where(Job.batch_id == batch_key, Job.status == QUEUED)))


def nearing_deadline(session: Session, latest: datetime, limit: int = 500) -> list[Job]:
    """Deferred jobs, batched or not, whose deadline is at or before ``latest``."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.defer_until.is_not(None), Job.status == QUEUED, Job.defer_until <= latest)
            .order_by(Job.defer_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def record_answer(session: Session, job: Job, batch_key: str, outcome: Outcome) -> bool:
    """A batch's answer as the job's result, with its one cost event; False when it left the batch."""
    now = utcnow()
    values = rows.finish_values(job, outcome, now)
    values["attempts"] = Job.attempts + 1
    values["started_at"] = now
    joined = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == QUEUED, Job.batch_id == batch_key)
        .values(**values)
        .returning(Job.coalesced_count)
    ).scalar()
    if joined is None:
        return False
    session.add(rows.cost_event(job, outcome, now, joined))
    holds.settle(session, job.id, outcome.cost)
    return True


def run_ordinary(
    session: Session,
    job: Job,
    catalogue: PriceCatalogue,
    deadline: datetime,
    batch_key: str | None,
) -> str | None:
    """Take a deferred job out of its batch to run as an ordinary job; False when it left already.

    Its hold, taken at the batch price, is given back and the full price held
    instead; when the budgets cannot hold that, the job fails ``budget_exceeded``.
    Returns the tier queue whose message the caller publishes after the commit,
    ``REFUSED`` when the job failed so, None when it had left its batch already.
    """
    queue = queue_for(Tier(job.tier))
    where = [Job.id == job.id, Job.status == QUEUED, Job.defer_until.is_not(None)]
    if batch_key is not None:
        where.append(Job.batch_id == batch_key)
    changed = rows.rowcount(
        session.execute(
            update(Job)
            .where(*where)
            .values(
                defer_until=None,
                batch_id=None,
                queue=queue,
                enqueued_at=utcnow(),
                deadline_at=deadline,
            )
        )
    )
    if not changed:
        return None
    holds.release(session, job.id)
    full = estimate_max_cost(
        catalogue.price(job.model or ""), CompleteInput.model_validate(job.input)
    )
    try:
        with session.begin_nested():
            budgets.reserve(
                session, job.id, job.tenant, job.user_id, full, utcnow(), job.lineage_id
            )
            session.execute(update(Job).where(Job.id == job.id).values(reserved_cost=full))
    except BudgetExceeded as exc:
        rows.fail(session, job.id, {"code": exc.code, "message": f"as an ordinary job: {exc}"})
        return REFUSED
    return queue


def fail_deferred(
    session: Session, job_id: uuid.UUID, batch_key: str | None, error: dict[str, Any]
) -> bool:
    """Fail a deferred job (its deadline passed, or the provider refused its request)."""
    where = [Job.id == job_id, Job.status == QUEUED]
    if batch_key is not None:
        where.append(Job.batch_id == batch_key)
    if not session.scalar(select(Job.id).where(*where)):
        return False
    return rows.fail(session, job_id, error)


def ordinary_deadline(now: datetime, job_deadline_seconds: int) -> datetime:
    """The stuck-job deadline a job gets when it runs as an ordinary one."""
    return now + timedelta(seconds=job_deadline_seconds)
