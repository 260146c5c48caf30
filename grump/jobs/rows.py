"""Repository functions for jobs and their cost events.

Every state change is one conditional UPDATE, so two workers (or a worker and a
cancel) racing on one job cannot both win. The cost event is written in the
same transaction as the result, and cost_events.job_id is unique: a job is
charged at most once whatever happens to its messages.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Row, or_, select, text, update
from sqlalchemy.orm import Session

from grump.errors import NotFound
from grump.jobs.models import ACTIVE_STATUSES, JobStatus, Outcome
from grump.ledger.db import dialect_insert, utcnow
from grump.ledger.models import INFLIGHT_SQL, Job
from grump.ledger.money_models import CostEvent
from grump.money import holds
from grump.money.baselines import event_money

ACTIVE_STATUS_VALUES = [s.value for s in ACTIVE_STATUSES]


def detached_job(row: Row[Any]) -> Job:
    """A ``Job`` from a Core row of all its columns: data to read, in no session.

    Hot paths (a worker's claim, the API's read of ended jobs) select with Core:
    the ORM's loading of entities cost more CPU than the statement itself.
    """
    return Job(**row._mapping)


def rowcount(result: Any) -> int:
    """The rows an UPDATE changed: how a conditional state change tells who won."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def get_job(session: Session, tenant: str, job_id: uuid.UUID) -> Job:
    """A tenant's job by id; NotFound when it is missing or another tenant's."""
    job = session.get(Job, job_id)
    if job is None or job.tenant != tenant:
        # Another tenant's job is indistinguishable from a missing one.
        raise NotFound(f"job {job_id} not found")
    return job


def find_by_idempotency(session: Session, tenant: str, key: str) -> Job | None:
    """The tenant's job submitted earlier under Idempotency-Key ``key``, if any."""
    return session.scalars(
        select(Job).where(Job.tenant == tenant, Job.idempotency_key == key)
    ).first()


def find_inflight(session: Session, tenant: str, fingerprint: str) -> Job | None:
    """The tenant's queued or running job with ``fingerprint``, for a submit to coalesce onto."""
    return session.scalars(
        select(Job).where(
            Job.tenant == tenant,
            Job.fingerprint == fingerprint,
            Job.status.in_(ACTIVE_STATUS_VALUES),
        )
    ).first()


def insert_unless_inflight(session: Session, job: Job) -> bool:
    """Insert ``job`` unless an identical one is in flight; one round trip either way.

    The partial unique index on (tenant, fingerprint) over queued/running jobs
    decides, so two API processes racing on one request cannot both insert.
    """
    # Unset attributes are left out so that the columns' defaults apply.
    values = {
        attr.columns[0].name: getattr(job, attr.key)
        for attr in Job.__mapper__.column_attrs
        if getattr(job, attr.key) is not None
    }
    statement = (
        dialect_insert(session, Job)
        .values(values)
        .on_conflict_do_nothing(
            index_elements=["tenant", "fingerprint"], index_where=text(INFLIGHT_SQL)
        )
        .returning(Job.id)
    )
    return session.execute(statement).first() is not None


def note_coalesced(session: Session, job_id: uuid.UUID) -> None:
    """Count one more submit coalesced onto the in-flight job."""
    session.execute(
        update(Job).where(Job.id == job_id).values(coalesced_count=Job.coalesced_count + 1)
    )


def reject_unenqueued(session: Session, job_id: uuid.UUID, reason: str) -> None:
    """A job whose message never reached the broker is rejected, not left queued."""
    rejected = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
        .values(
            status=JobStatus.REJECTED.value,
            error={"code": "broker_unavailable", "message": reason},
            finished_at=utcnow(),
        )
    )
    if rowcount(rejected):
        holds.release(session, job_id)


def load_active(session: Session, job_id: uuid.UUID) -> Job | None:
    """A job still queued or running, read without claiming it; None when missing or final."""
    job = session.get(Job, job_id)
    if job is None or job.status not in ACTIVE_STATUS_VALUES:
        return None
    return job


def finish_values(job: Job, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The columns a successful job's row gets."""
    return {
        "status": JobStatus.SUCCEEDED.value,
        "result": outcome.result,
        "error": None,
        "model": outcome.model,
        "tier": outcome.tier or job.tier,
        "routing": job.routing if outcome.routing is None else outcome.routing,
        "tokens_in": outcome.tokens_in,
        "tokens_out": outcome.tokens_out,
        "tokens_cache_read": outcome.tokens_cache_read,
        "tokens_cache_write": outcome.tokens_cache_write,
        "cost": outcome.cost,
        "baseline_cost": outcome.baseline_cost,
        "attempts": Job.attempts + (0 if job.started_at else 1),
        "finished_at": now,
    }


def cost_event(job: Job, outcome: Outcome, now: datetime, joined: int = 0) -> CostEvent:
    """The one cost event of a job that succeeded, its prompt-cache tokens and savings included.

    ``joined`` is how many requests coalesced onto the job: the event answers them
    too, so its baselines count them (``grump.money.baselines``).
    """
    money = event_money(job.kind, outcome, joined)
    return CostEvent(
        job_id=job.id,
        tenant=job.tenant,
        user_id=job.user_id,
        session_id=job.session_id,
        kind=job.kind,
        model=outcome.model,
        tier=outcome.tier or job.tier,
        provider=outcome.provider,
        tokens_in=outcome.tokens_in,
        tokens_out=outcome.tokens_out,
        tokens_cache_read=outcome.tokens_cache_read,
        tokens_cache_write=outcome.tokens_cache_write,
        cost=outcome.cost,
        baseline_cost=money.baseline_cost,
        direct_baseline_cost=money.direct_baseline_cost,
        cache_savings=outcome.cache_savings,
        coalescing_savings=money.coalescing_savings,
        routing_savings=money.routing_savings,
        provider_cache_savings=outcome.provider_cache_savings,
        batch_savings=outcome.batch_savings,
        kept_off_llm=money.kept_off_llm,
        cached=outcome.cached,
        created_at=now,
    )


def finish(session: Session, job: Job, outcome: Outcome) -> bool:
    """Record success and its one cost event; False when the job was already final."""
    now = utcnow()
    joined = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status.in_(ACTIVE_STATUS_VALUES))
        .values(**finish_values(job, outcome, now))
        .returning(Job.coalesced_count)
    ).scalar()
    if joined is None:
        return False
    session.add(cost_event(job, outcome, now, joined))
    # Same transaction as the result: the budget is charged exactly when the job is.
    holds.settle(session, job.id, outcome.cost)
    return True


def cancel_running(session: Session, job: Job, outcome: Outcome, error: dict[str, Any]) -> bool:
    """Record a running job stopped mid-call as cancelled, charged ``outcome`` (what was billed).

    Like ``finish``: one conditional UPDATE, its one cost event and the hold
    settled in the same transaction; False when the job was already final.
    """
    now = utcnow()
    values = {
        **finish_values(job, outcome, now),
        "status": JobStatus.CANCELLED.value,
        "error": error,
    }
    joined = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == JobStatus.RUNNING.value)
        .values(**values)
        .returning(Job.coalesced_count)
    ).scalar()
    if joined is None:
        return False
    session.add(cost_event(job, outcome, now, joined))
    holds.settle(session, job.id, outcome.cost)
    return True


def fail(session: Session, job_id: uuid.UUID, error: dict[str, Any]) -> bool:
    """Mark a job failed with ``error`` and release its holds; False when it was already final."""
    changed = rowcount(
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(ACTIVE_STATUS_VALUES))
            .values(status=JobStatus.FAILED.value, error=error, finished_at=utcnow())
        )
    )
    if changed:
        holds.release(session, job_id)
    return bool(changed)


def cancel(session: Session, tenant: str, job_id: uuid.UUID) -> bool:
    """Cancel a queued job; False when it has already started or finished."""
    get_job(session, tenant, job_id)
    changed = rowcount(
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.CANCELLED.value, finished_at=utcnow())
        )
    )
    if changed:
        holds.release(session, job_id)
    return bool(changed)


def stuck(session: Session, now: datetime, limit: int = 500) -> list[Job]:
    """Jobs queued or running past their deadline: their message was probably lost.

    A running job with a claimer is left to its lease (``grump.jobs.recovery``):
    a live worker's call may take longer than any deadline. A held job (never
    published, ``grump.jobs.admission``) waits for its release, not its deadline,
    and a deferred one for its batch.
    """
    return list(
        session.scalars(
            select(Job)
            .where(
                Job.status.in_(ACTIVE_STATUS_VALUES),
                Job.deadline_at < now,
                Job.enqueued_at.is_not(None),
                Job.defer_until.is_(None),  # a deferred job is beat's batches' (jobs.batches)
                or_(Job.status == JobStatus.QUEUED.value, Job.claimed_by.is_(None)),
            )
            .order_by(Job.deadline_at)
            .limit(limit)
        )
    )


def extend_deadline(session: Session, job_id: uuid.UUID, deadline: datetime) -> None:
    """Put a stuck job back to queued with a new deadline, before its message is sent again."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(ACTIVE_STATUS_VALUES))
        .values(status=JobStatus.QUEUED.value, deadline_at=deadline)
    )
