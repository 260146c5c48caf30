"""Running a batch of parse jobs against the ledger: read all, parse each, record all. No Celery.

The cpu worker receives parse messages in batches (celery-batches). Per job
the promises are those of ``grump.jobs.run``: a job already final is skipped,
and its result and its one cost event are committed together by an UPDATE
that only touches a still-active row, so a redelivered message (or a batch
delivered twice) can never record or charge a job twice. Per batch, the jobs
are read by one statement and recorded in one transaction
(``grump.jobs.batch_rows.finish_many``), instead of a round trip or two each.

A parse takes microseconds: as in ``grump.jobs.run`` it is not claimed first;
its message's lease (held from receipt to acknowledgement) is what tells
recovery that a live worker has it.

Every job of the batch ends in exactly one list of ``ParseBatchReport``; a
parse that raises fails that job alone, never its neighbours.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from grump.errors import GrumpError
from grump.jobs import admission
from grump.jobs.batch_rows import OnOutage, record_batch
from grump.jobs.models import JobKind, Outcome, ParseInput
from grump.jobs.parse import run_parse
from grump.jobs.rows import ACTIVE_STATUS_VALUES
from grump.jobs.run import Step, fail_job, observe_success, process_job
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class ParseBatchReport:
    """Where each job of a batch ended: succeeded, skipped (final already) or failed."""

    succeeded: list[uuid.UUID] = field(default_factory=list)
    skipped: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)

    def steps(self) -> dict[uuid.UUID, Step]:
        """Each job's step, for the task to tell its messages apart."""
        steps = {job_id: Step.SKIPPED for job_id in self.skipped}
        steps.update({job_id: Step.FAILED for job_id in self.failed})
        steps.update({job_id: Step.SUCCEEDED for job_id in self.succeeded})
        return steps


def process_parse_batch(runtime: Runtime, job_ids: Sequence[uuid.UUID]) -> ParseBatchReport:
    """Run each job of ``job_ids`` once; DatabaseUnavailable (nothing recorded) propagates."""
    report = ParseBatchReport()
    unique = list(dict.fromkeys(job_ids))  # a message delivered twice in one batch runs once
    jobs = load_active_jobs(runtime, unique)
    found = {job.id for job in jobs}
    report.skipped.extend(i for i in unique if i not in found)
    finished: list[tuple[Job, Outcome]] = []
    for job in jobs:
        if job.kind != JobKind.PARSE.value:
            _run_alone(runtime, job, report)
            continue
        try:
            payload = ParseInput.model_validate(job.input)
            outcome = run_parse(payload, runtime.catalogue, runtime.settings.premium_model)
        except Exception as exc:
            _fail(runtime, job.id, exc, report)
            continue
        finished.append((job, outcome))
    _record_all(runtime, finished, report)
    return report


def load_active_jobs(runtime: Runtime, job_ids: Sequence[uuid.UUID]) -> list[Job]:
    """The jobs of ``job_ids`` still queued or running, read by one statement."""
    if not job_ids:
        return []
    with session_scope(runtime.sessions) as session:
        jobs = session.scalars(
            select(Job).where(Job.id.in_(list(job_ids)), Job.status.in_(ACTIVE_STATUS_VALUES))
        ).all()
        # Read on: the rows outlive their session (finish_many reads their columns).
        session.expunge_all()
    return list(jobs)


def _record_all(
    runtime: Runtime, finished: list[tuple[Job, Outcome]], report: ParseBatchReport
) -> None:
    # A ledger outage propagates: nothing is acknowledged, the batch is delivered again.
    batch = record_batch(
        runtime.sessions,
        finished,
        lambda job, exc: _fail(runtime, job.id, exc, report),
        OnOutage.RAISE,
    )
    runtime.job_waiters.announce_final(job.id for job, _ in batch.recorded)
    # Each tenant's held parse jobs (fair share, when the parse queue takes part) move up.
    for tenant, queue in {(job.tenant, job.queue) for job, _ in batch.recorded}:
        admission.job_ended(runtime, tenant, queue)
    now = utcnow()
    for job, outcome in batch.recorded:
        report.succeeded.append(job.id)
        observe_success(job.kind, job.tier, outcome, (now - job.created_at).total_seconds())
    report.skipped.extend(batch.skipped)


def _run_alone(runtime: Runtime, job: Job, report: ParseBatchReport) -> None:
    """A job of another kind on the parse queue runs as its own message would."""
    try:
        step = process_job(runtime, job.id)
    except Exception as exc:
        _fail(runtime, job.id, exc, report)
        return
    {Step.SUCCEEDED: report.succeeded, Step.FAILED: report.failed}.get(step, report.skipped).append(
        job.id
    )


def _fail(runtime: Runtime, job_id: uuid.UUID, exc: Exception, report: ParseBatchReport) -> None:
    """Fail one job with its reason; the rest of the batch goes on."""
    if isinstance(exc, GrumpError):
        log.warning("parse job %s failed: %s", job_id, exc.message)
    else:
        log.exception("parse job %s failed unexpectedly", job_id, exc_info=exc)
    if fail_job(runtime, job_id, exc):
        report.failed.append(job_id)
    else:
        report.skipped.append(job_id)
