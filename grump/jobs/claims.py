"""Claiming jobs for this worker process, and counting the deliveries that killed their worker.

A claim is one conditional UPDATE: a job still queued or running becomes
running, claimed by this process (``jobs.claimed_by``), one attempt more. It
is made only once this process holds the job's lease (``grump.jobs.leases``):
a job another live process holds is not run again, however long it has been
running. A job found running under another claimer was left by a dead one; the
claim takes it over and counts a worker loss, and a job whose deliveries have
killed ``GRUMP_MAX_WORKER_LOSSES`` workers fails with ``worker_lost`` instead
of running again (its reservation released).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, update
from sqlalchemy.orm import Session

from grump import metrics
from grump.errors import DatabaseUnavailable
from grump.jobs.models import JobStatus
from grump.jobs.rows import ACTIVE_STATUS_VALUES, detached_job, rowcount
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import JOBS, Job
from grump.money import holds
from grump.runtime import Runtime

log = logging.getLogger(__name__)

WORKER_LOST = "worker_lost"


def lost_error(job_id: uuid.UUID, losses: int) -> dict[str, Any]:
    """The error of a job failed because its deliveries kept killing their worker."""
    return {
        "code": WORKER_LOST,
        "message": (
            f"job {job_id} was stopped: {losses} of its deliveries ended with their worker "
            "process dead (GRUMP_MAX_WORKER_LOSSES); it will not be run again"
        ),
        "worker_losses": losses,
    }


def claim_jobs(runtime: Runtime, job_ids: Sequence[uuid.UUID]) -> list[Job]:
    """Claim each job of ``job_ids`` this process may run; the rows claimed, in one statement.

    Jobs held by another live process, final already, or failed here as poison
    are left out, and their run's lease is let go.
    """
    leases = runtime.leases
    claimer = leases.claimer if leases is not None else None
    allowed = [i for i in job_ids if leases is None or leases.take(i) is not False]
    claimed: list[Job] = []
    try:
        claimed = claim_leased(runtime, allowed, claimer)
    finally:
        # Also when the ledger could not be reached: no run holds these leases, or the
        # next delivery would find the job "running here" and skip it for good.
        taken = {job.id for job in claimed}
        release_leases(runtime, [i for i in allowed if i not in taken])
    return claimed


def claim_leased(runtime: Runtime, job_ids: Sequence[uuid.UUID], claimer: str | None) -> list[Job]:
    """Claim jobs whose leases this process has taken (``Leases.take``): one UPDATE for all.

    The rows claimed; a job failed here as poison (``GRUMP_MAX_WORKER_LOSSES``)
    is counted and left out. The caller lets go of the leases of the jobs left out.
    """
    if not job_ids:
        return []
    claimed: list[Job] = []
    lost: list[Job] = []
    deadline = utcnow() + timedelta(seconds=runtime.settings.job_deadline_seconds)
    with session_scope(runtime.sessions) as session:
        rows = _claim(session, list(job_ids), claimer, deadline)
        limit = runtime.settings.max_worker_losses
        for job in rows:
            if job.worker_losses >= limit and _fail_lost(session, job.id, job.worker_losses):
                lost.append(job)
            else:
                claimed.append(job)
    for job in lost:
        _count_lost(runtime, job.kind, job.tier, job.id, job.worker_losses)
    return claimed


# Built once: a claim runs per job group on the llm worker's hot path, and building
# the statement (and the ORM's RETURNING of entities) cost more CPU than running it.
# The SET expressions read the row as it was: a job running under another claimer is
# being taken over from a dead worker, which counts as a loss.
_TAKEN_OVER = and_(
    JOBS.c.status == JobStatus.RUNNING.value,
    JOBS.c.claimed_by.is_not(None),
    JOBS.c.claimed_by != bindparam("other_than"),
)
_CLAIM = (
    update(JOBS)
    .where(
        JOBS.c.id.in_(bindparam("job_ids", expanding=True)),
        JOBS.c.status.in_(ACTIVE_STATUS_VALUES),
    )
    .values(
        status=JobStatus.RUNNING.value,
        attempts=JOBS.c.attempts + 1,
        started_at=bindparam("now"),
        deadline_at=bindparam("deadline"),
        claimed_by=bindparam("claimer"),
        worker_losses=JOBS.c.worker_losses + case((_TAKEN_OVER, 1), else_=0),
    )
    .returning(*JOBS.c)
)


def _claim(
    session: Session, job_ids: list[uuid.UUID], claimer: str | None, deadline: Any
) -> list[Job]:
    parameters = {
        "job_ids": job_ids,
        "claimer": claimer,
        "other_than": claimer or "",
        "now": utcnow(),
        "deadline": deadline,
    }
    rows = session.connection().execute(_CLAIM, parameters)
    return [detached_job(row) for row in rows]


def give_back(runtime: Runtime, job_id: uuid.UUID) -> None:
    """A job this process will not finish now (it retries later) goes back to queued, unclaimed.

    So the next delivery claims it afresh, without counting a worker loss.
    """
    leases = runtime.leases
    try:
        with session_scope(runtime.sessions) as session:
            session.execute(
                update(Job)
                .where(
                    Job.id == job_id,
                    Job.status == JobStatus.RUNNING.value,
                    Job.claimed_by.is_(None)
                    if leases is None
                    else Job.claimed_by == leases.claimer,
                )
                .values(status=JobStatus.QUEUED.value, claimed_by=None)
            )
    except DatabaseUnavailable as exc:
        # The job stays running under this claimer; its next delivery counts a loss.
        log.warning("job %s not given back: %s", job_id, exc.message)


def release_leases(runtime: Runtime, job_ids: Sequence[uuid.UUID]) -> None:
    """The runs of ``job_ids`` in this process are over: let go of their leases."""
    leases = runtime.leases
    if leases is not None:
        for job_id in job_ids:
            leases.done(job_id)


@dataclass(frozen=True)
class Loss:
    """A worker loss counted against a job: where the job goes next, unless it failed."""

    queue: str
    priority: int
    kind: str
    failed: bool


def note_worker_lost(
    runtime: Runtime, job_id: uuid.UUID, claimer: str | None = None
) -> Loss | None:
    """A delivery of ``job_id`` died with its worker process: count it, give the job back.

    Called where the death is seen: by a prefork pool's main process for its
    child, and by recovery for a whole worker (``claimer``: only if the job is
    still that dead process's). None when the job is final or no longer the
    claimer's; the job fails with ``worker_lost`` at GRUMP_MAX_WORKER_LOSSES.
    """
    limit = runtime.settings.max_worker_losses
    condition = [Job.id == job_id, Job.status.in_(ACTIVE_STATUS_VALUES)]
    if claimer is not None:
        condition.append(Job.claimed_by == claimer)
    with session_scope(runtime.sessions) as session:
        row = session.execute(
            update(Job)
            .where(*condition)
            .values(
                worker_losses=Job.worker_losses + 1,
                status=JobStatus.QUEUED.value,
                claimed_by=None,
            )
            .returning(Job.worker_losses, Job.kind, Job.tier, Job.queue, Job.priority)
        ).first()
        if row is None:
            return None
        losses, kind, tier, queue, priority = row
        failed = losses >= limit and _fail_lost(session, job_id, losses)
    if failed:
        _count_lost(runtime, kind, tier, job_id, losses)
    else:
        log.warning("job %s: its delivery died with its worker (%d of %d)", job_id, losses, limit)
    return Loss(queue, priority, kind, failed)


def _fail_lost(session: Session, job_id: uuid.UUID, losses: int) -> bool:
    changed = rowcount(
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(ACTIVE_STATUS_VALUES))
            .values(
                status=JobStatus.FAILED.value,
                error=lost_error(job_id, losses),
                finished_at=utcnow(),
                claimed_by=None,
            )
            .execution_options(synchronize_session=False)
        )
    )
    if changed:
        holds.release(session, job_id)
    return bool(changed)


def _count_lost(runtime: Runtime, kind: str, tier: str, job_id: uuid.UUID, losses: int) -> None:
    runtime.job_waiters.announce_final([job_id])
    metrics.JOBS_FINISHED.labels(kind, tier, "failed").inc()
    log.error("job %s failed: %d deliveries killed their worker", job_id, losses)
