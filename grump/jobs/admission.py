"""Fair share across tenants: at most a tenant's share of a tier's jobs published at once.

A tier's queue is FIFO within a priority: a tenant that queues a thousand jobs
would put every other tenant's jobs behind them. So each tenant may have at most
its slots of a queue's jobs published (in the broker or running) at once: the
queue's live capacity (``grump.jobs.capacity``: the jobs every live worker
consuming it takes at once, summed) times the tenant's weight
(``GRUMP_FAIR_SHARE_WEIGHTS``). One tenant alone fills the whole fleet; another
tenant's job finds at most one round of the first one's in front of it.
``GRUMP_FAIR_SHARE_SLOTS`` fixes the capacity instead. Past its slots a new job
is recorded as usual but held in the ledger, not published: ``status = queued``
with ``enqueued_at`` unset, meaning no message was ever sent. When one of the
tenant's jobs on the queue ends, the worker that recorded it releases the
tenant's next held jobs, highest priority then oldest first, and publishes them.

Admission and release count the tenant's published, unfinished jobs in the ledger
under one lock per (tenant, queue): a Postgres advisory lock, exact across API
replicas and workers, and nothing to leak when a process dies, as the count is of
the rows themselves. A release lost to a crash (between a job's record and the
publish of its successor) is found by ``sweep`` on every recovery pass. A job
released but never published (its process died between the two) is a queued job
with a message lost: ``requeue_stuck_jobs`` publishes it at its deadline.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery import Celery
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from grump.celery.profiles import default_capacity
from grump.celery.queues import ECONOMY_QUEUE, PARSE_QUEUE, PREMIUM_QUEUE
from grump.errors import BrokerUnavailable, DatabaseUnavailable
from grump.jobs.coalesce import COALESCER
from grump.jobs.enqueue import publish_job
from grump.jobs.models import JobStatus
from grump.jobs.rows import ACTIVE_STATUS_VALUES
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.runtime import Runtime
from grump.settings import Settings

log = logging.getLogger(__name__)

# The advisory lock's first key: grump's admission locks, apart from anyone else's.
LOCK_CLASS = 0x46414952  # "FAIR"
# Queues whose workers take one job per message; embed jobs are batched across jobs.
ADMITTABLE_QUEUES = frozenset({ECONOMY_QUEUE, PREMIUM_QUEUE, PARSE_QUEUE})


def fair_queues(settings: Settings) -> frozenset[str]:
    """The queues whose jobs are admitted per tenant (``GRUMP_FAIR_SHARE_QUEUES``)."""
    named = {q.strip() for q in settings.fair_share_queues.split(",") if q.strip()}
    return frozenset(named & ADMITTABLE_QUEUES)


def applies(settings: Settings, queue: str) -> bool:
    """Whether jobs of ``queue`` are admitted per tenant: not embedded, fair share on, named."""
    return settings.fair_share and not settings.embedded and queue in fair_queues(settings)


def slots(settings: Settings, tenant: str, capacity: int) -> int:
    """How many of ``tenant``'s jobs of a queue of ``capacity`` may be published at once.

    The capacity (``GRUMP_FAIR_SHARE_SLOTS`` when set) times the tenant's weight:
    alone, a tenant of weight 1 fills every worker; when tenants contend, each gets
    the workers in proportion to its weight. Never below one: every tenant's jobs run.
    """
    base = settings.fair_share_slots or capacity
    weight = settings.fair_share_weight_map.get(tenant, 1.0)
    return max(1, round(base * weight))


def queue_slots(runtime: Runtime, tenant: str, queue: str) -> int:
    """``tenant``'s slots on ``queue`` from its live capacity, read at most once a second."""
    settings = runtime.settings
    if settings.fair_share_slots:
        return slots(settings, tenant, settings.fair_share_slots)
    capacity = runtime.live_capacity.get(queue, default_capacity(settings, queue))
    return slots(settings, tenant, capacity)


def release_limit(runtime: Runtime, tenant: str, queue: str) -> int:
    """How many of the tenant's jobs may be published after a release: all, once not admitted."""
    return queue_slots(runtime, tenant, queue) if applies(runtime.settings, queue) else 1 << 30


def _lock(session: Session, tenant: str, queue: str, touch: uuid.UUID) -> None:
    """Serialise admission for (tenant, queue) until the transaction ends.

    SQLite has one writer at a time: a write to the job's own row takes that lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(_advisory_lock(tenant, queue)))
    else:
        session.execute(update(Job).where(Job.id == touch).values(priority=Job.priority))


def _advisory_lock(tenant: str, queue: str) -> Any:
    return func.pg_advisory_xact_lock(LOCK_CLASS, func.hashtext(f"{tenant}\x1f{queue}"))


def _published(tenant: str, queue: str) -> Select[Any]:
    """The count of the tenant's unfinished jobs of ``queue`` that were published (not held)."""
    return (
        select(func.count())
        .select_from(Job)
        .where(
            Job.tenant == tenant,
            Job.queue == queue,
            Job.status.in_(ACTIVE_STATUS_VALUES),
            Job.enqueued_at.is_not(None),
        )
    )


def published(session: Session, tenant: str, queue: str) -> int:
    """The tenant's unfinished jobs of ``queue`` that were published (not held)."""
    return int(session.scalar(_published(tenant, queue)) or 0)


def admit(session: Session, settings: Settings, job: Job, allowed: int) -> bool:
    """Whether the new ``job`` may be published now, its tenant allowed ``allowed`` slots.

    If not it is held (``enqueued_at`` unset).
    """
    if not applies(settings, job.queue):
        return True
    _lock(session, job.tenant, job.queue, job.id)
    if published(session, job.tenant, job.queue) - 1 < allowed:
        return True  # the count has the job itself: it was recorded published
    session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == JobStatus.QUEUED.value)
        .values(enqueued_at=None)
    )
    job.enqueued_at = None
    return False


def release(
    session: Session, settings: Settings, tenant: str, queue: str, limit: int
) -> list[tuple[uuid.UUID, int]]:
    """Release as many of the tenant's held jobs as its ``limit`` slots allow: (id, priority) each.

    Two statements under the lock, the count and the choice in one: a worker's
    threads wait on each other's releases, so the lock is held for as few round
    trips as can be.
    """
    if not _lock_if_held(session, tenant, queue):
        return []
    count = _published(tenant, queue).scalar_subquery()
    largest = func.greatest if _postgres(session) else func.max  # SQLite's max of two values
    chosen = _held(tenant, queue).with_only_columns(Job.id).limit(largest(0, limit - count))
    now = utcnow()
    rows = session.execute(
        update(Job)
        .where(Job.id.in_(chosen), Job.status == JobStatus.QUEUED.value, Job.enqueued_at.is_(None))
        .values(enqueued_at=now, deadline_at=now + timedelta(seconds=settings.job_deadline_seconds))
        .returning(Job.id, Job.priority, Job.created_at)
        .execution_options(synchronize_session=False)
    ).all()
    ordered = sorted(rows, key=lambda r: (-r[1], r[2], r[0]))
    return [(r[0], r[1]) for r in ordered]


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lock_if_held(session: Session, tenant: str, queue: str) -> bool:
    """Take the (tenant, queue) lock if the tenant has a held job there; one round trip."""
    first = _held(tenant, queue).with_only_columns(Job.id).limit(1).subquery()
    if _postgres(session):
        locked = select(_advisory_lock(tenant, queue)).select_from(first)
        return session.execute(locked).first() is not None
    found = session.scalar(select(first.c.id))
    if found is not None:
        _lock(session, tenant, queue, found)
    return found is not None


def _held(tenant: str, queue: str) -> Select[Any]:
    """The tenant's held jobs of ``queue`` in release order: highest priority, then oldest."""
    return (
        select(Job)
        .where(
            Job.tenant == tenant,
            Job.queue == queue,
            Job.status == JobStatus.QUEUED.value,
            Job.enqueued_at.is_(None),
        )
        .order_by(Job.priority.desc(), Job.created_at, Job.id)
    )


def admitted(runtime: Runtime, job: Job) -> bool:
    """``admit`` in its own transaction; an unreachable ledger admits: the job runs, not waits."""
    if not applies(runtime.settings, job.queue):
        return True
    allowed = queue_slots(runtime, job.tenant, job.queue)
    try:
        with session_scope(runtime.sessions) as session:
            return admit(session, runtime.settings, job, allowed)
    except DatabaseUnavailable:
        return True


def publish_released(
    runtime: Runtime, app: Celery, queue: str, released: Sequence[tuple[uuid.UUID, int]]
) -> int:
    """Publish released jobs; one the broker refuses is held again for the next sweep."""
    for index, (job_id, priority) in enumerate(released):
        try:
            publish_job(app, job_id, queue, priority, runtime.settings.retry_after_seconds)
        except BrokerUnavailable:
            _hold_again(runtime, [i for i, _ in released[index:]])
            return index
    return len(released)


def _hold_again(runtime: Runtime, job_ids: list[uuid.UUID]) -> None:
    try:
        with session_scope(runtime.sessions) as session:
            session.execute(
                update(Job)
                .where(Job.id.in_(job_ids), Job.status == JobStatus.QUEUED.value)
                .values(enqueued_at=None)
            )
    except DatabaseUnavailable:
        log.warning("%d released jobs unpublished; requeue_stuck_jobs sends them", len(job_ids))


def job_ended(runtime: Runtime, tenant: str, queue: str) -> int:
    """One of ``tenant``'s jobs of ``queue`` is final: publish its held successors; how many.

    Called after the job's end is committed. An outage here loses nothing: the
    held jobs stay held and the next ``sweep`` releases them.
    """
    app = runtime.celery
    if app is None or not runtime.settings.fair_share or queue not in ADMITTABLE_QUEUES:
        return 0

    def release_pass() -> int:
        allowed = release_limit(runtime, tenant, queue)
        with session_scope(runtime.sessions) as session:
            released = release(session, runtime.settings, tenant, queue, allowed)
        return publish_released(runtime, app, queue, released)

    try:
        return COALESCER.run((tenant, queue), release_pass)
    except DatabaseUnavailable as exc:
        log.warning("held jobs of %s on %s not released now: %s", tenant, queue, exc.message)
        return 0


def sweep(runtime: Runtime, app: Celery) -> int:
    """Release every tenant's held jobs its free slots allow: releases lost to a crash."""
    with session_scope(runtime.sessions) as session:
        groups = session.execute(
            select(Job.tenant, Job.queue)
            .where(Job.status == JobStatus.QUEUED.value, Job.enqueued_at.is_(None))
            .group_by(Job.tenant, Job.queue)
        ).all()
    sent = 0
    for tenant, queue in groups:
        allowed = release_limit(runtime, tenant, queue)
        with session_scope(runtime.sessions) as session:
            released = release(session, runtime.settings, tenant, queue, allowed)
        sent += publish_released(runtime, app, queue, released)
    if sent:
        log.warning("released %d held jobs whose release was lost", sent)
    return sent
