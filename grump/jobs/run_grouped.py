"""Running one job with its claim and its record group-committed with the process's other jobs.

The llm worker's path (``grump.run_complete_job``): each thread runs one job,
as ``grump.jobs.run.process_job`` does, but the ledger writes of the threads
that claim or record at the same moment share one transaction
(``grump.jobs.ledger_batcher``):

- a claim: the thread takes its job's lease first, alone; the jobs whose
  leases were taken are then claimed by one conditional UPDATE
  (``grump.jobs.claims.claim_leased``), so a job another live process holds
  is still never claimed;
- a record: the results of the group are written by one conditional UPDATE
  per row and the cost events by one INSERT, with the budgets settled, in one
  transaction (``grump.jobs.batch_rows.finish_many``): a job already final is
  not recorded or charged again, and a crash before the commit records none
  of the group, whose messages are then delivered again.

The row the claim returned is what the record reads: no second read of it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from grump.errors import TransientError
from grump.jobs import admission, rows
from grump.jobs.batch_rows import finish_many
from grump.jobs.claims import claim_leased, give_back, release_leases
from grump.jobs.complete import Cancelled
from grump.jobs.ledger_batcher import GroupCommit
from grump.jobs.models import Claimed, JobKind, Outcome
from grump.jobs.run import Step, execute, observe_success, record_cancelled
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.runtime import Runtime

log = logging.getLogger(__name__)

# The most jobs one statement claims or records: a group is never held back to fill.
MAX_GROUP = 200


@dataclass
class LedgerGroups:
    """One process's group commits: claims and records."""

    claims: GroupCommit[uuid.UUID, Job | None]
    records: GroupCommit[tuple[Job, Outcome], bool]


def ledger_groups(runtime: Runtime) -> LedgerGroups:
    """The group commits of ``runtime``'s ledger."""
    claimer = runtime.leases.claimer if runtime.leases is not None else None

    def claim(job_ids: Sequence[uuid.UUID]) -> list[Job | None]:
        by_id = {job.id: job for job in claim_leased(runtime, job_ids, claimer)}
        return [by_id.get(job_id) for job_id in job_ids]

    return LedgerGroups(
        GroupCommit(claim, MAX_GROUP), GroupCommit(lambda f: record(runtime, f), MAX_GROUP)
    )


def record(runtime: Runtime, finished: Sequence[tuple[Job, Outcome]]) -> list[bool]:
    """Record each job's success in one transaction; whether each was (final ones are not)."""
    try:
        with session_scope(runtime.sessions) as session:
            done = set(finish_many(session, finished))
    except IntegrityError:
        # A cost event already there: one job was recorded elsewhere in between. Job by
        # job, its one conditional UPDATE decides (and the event's unique job id).
        done = {job.id for job, outcome in finished if _record_alone(runtime, job, outcome)}
    recorded = [job.id in done for job, _ in finished]
    runtime.job_waiters.announce_final([job.id for job, _ in finished if job.id in done])
    return recorded


def _record_alone(runtime: Runtime, job: Job, outcome: Outcome) -> bool:
    try:
        with session_scope(runtime.sessions) as session:
            return rows.finish(session, job, outcome)
    except IntegrityError:
        return False


def _claim(runtime: Runtime, job_id: uuid.UUID) -> Job | None:
    leases = runtime.leases
    if leases is not None and leases.take(job_id) is False:
        return None
    job: Job | None = None
    try:
        job = runtime.ledger_groups.claims.submit(job_id)
    finally:
        if job is None:
            release_leases(runtime, [job_id])
    return job


def _claimed(job: Job) -> Claimed:
    return Claimed(
        job.id, JobKind(job.kind), job.tier, job.model, dict(job.input), job.tenant, job.routing
    )


def process_job_grouped(runtime: Runtime, job_id: uuid.UUID) -> Step:
    """``process_job`` with the claim and the record group-committed; the same outcomes."""
    row = _claim(runtime, job_id)
    if row is None:
        log.info("job %s is final or running elsewhere; nothing to do", job_id)
        return Step.SKIPPED
    job = _claimed(row)
    try:
        outcome = execute(runtime, job)
        if not runtime.ledger_groups.records.submit((row, outcome)):
            return Step.SKIPPED
        admission.job_ended(runtime, row.tenant, row.queue)
        observe_success(row.kind, row.tier, outcome, (utcnow() - row.created_at).total_seconds())
        return Step.SUCCEEDED
    except Cancelled as stopped:
        return Step.CANCELLED if record_cancelled(runtime, job_id, stopped) else Step.SKIPPED
    except TransientError:
        give_back(runtime, job_id)
        raise
    finally:
        release_leases(runtime, [job_id])
