"""Running a batch of embed jobs against the ledger: claim all, embed together, record all.

The gpu worker receives embed messages in batches (celery-batches). Per job the
promises are those of ``grump.jobs.run``: a final job is skipped, the result
and its one cost event are committed together by a conditional UPDATE, so a
redelivered message can never charge a job twice. Per batch, the claims are
one statement and the results one transaction, which is what lets many small
jobs share provider calls without paying a ledger round trip each.

Every job of the batch ends in exactly one of the lists of ``BatchReport``;
none is dropped. Errors concern only their own job: a failed call fails or
retries the jobs whose texts were in it, not the rest of the batch.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from grump.errors import DatabaseUnavailable, PermanentError, RequestError, TransientError
from grump.jobs.batch_rows import OnOutage, record_batch
from grump.jobs.claims import claim_jobs, give_back, release_leases
from grump.jobs.embed.service import PendingEmbed
from grump.jobs.models import EmbedInput, Outcome
from grump.jobs.run import fail_job, observe_success
from grump.ledger.db import utcnow
from grump.ledger.models import Job
from grump.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retry:
    """A job to run again later: its message is published anew with a delay."""

    job_id: uuid.UUID
    queue: str
    priority: int
    attempts: int


@dataclass
class BatchReport:
    """Where each job of a batch ended: succeeded, skipped (final already), failed or to retry."""

    succeeded: list[uuid.UUID] = field(default_factory=list)
    skipped: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)
    retry: list[Retry] = field(default_factory=list)

    def part(self, job_ids: Iterable[uuid.UUID]) -> BatchReport:
        """What concerns ``job_ids`` (a batch merged with others is reported to each)."""
        wanted = set(job_ids)
        return BatchReport(
            [i for i in self.succeeded if i in wanted],
            [i for i in self.skipped if i in wanted],
            [i for i in self.failed if i in wanted],
            [r for r in self.retry if r.job_id in wanted],
        )


def process_embed_batch(runtime: Runtime, job_ids: Sequence[uuid.UUID]) -> BatchReport:
    """Run each job of ``job_ids`` once. DatabaseUnavailable on the claim propagates."""
    report = BatchReport()
    unique = list(dict.fromkeys(job_ids))  # a message delivered twice in one batch runs once
    claimed = claim_jobs(runtime, unique)
    claimed_ids = {job.id for job in claimed}
    report.skipped.extend(i for i in unique if i not in claimed_ids)
    try:
        finished = _embed_all(runtime, claimed, report)
        _record_all(runtime, finished, report)
        for retry in report.retry:
            # Unclaimed before it goes round again: its next claim is not a takeover.
            give_back(runtime, retry.job_id)
    finally:
        release_leases(runtime, list(claimed_ids))
    return report


def _embed_all(
    runtime: Runtime, claimed: list[Job], report: BatchReport
) -> list[tuple[Job, Outcome]]:
    """Start every job before waiting on any, so that their texts share calls."""
    service = runtime.embed_service
    default_model = runtime.settings.embed_model
    started: list[tuple[Job, PendingEmbed]] = []
    for job in claimed:
        try:
            payload = EmbedInput.model_validate(job.input)
            started.append((job, service.start(job.tenant, payload, job.model or default_model)))
        except Exception as exc:
            _handle_error(runtime, job, exc, report)
    finished: list[tuple[Job, Outcome]] = []
    for job, pending in started:
        try:
            finished.append((job, service.collect(pending)))
        except Exception as exc:
            _handle_error(runtime, job, exc, report)
    return finished


def _record_all(runtime: Runtime, finished: list[tuple[Job, Outcome]], report: BatchReport) -> None:
    # A ledger outage is each job's transient error: retried while attempts remain.
    batch = record_batch(
        runtime.sessions,
        finished,
        lambda job, exc: _handle_error(runtime, job, exc, report),
        OnOutage.PER_JOB,
    )
    runtime.job_waiters.announce_final(job.id for job, _ in batch.recorded)
    now = utcnow()
    for job, outcome in batch.recorded:
        report.succeeded.append(job.id)
        observe_success(job.kind, job.tier, outcome, (now - job.created_at).total_seconds())
    report.skipped.extend(batch.skipped)


def _handle_error(runtime: Runtime, job: Job, exc: Exception, report: BatchReport) -> None:
    """Retry a transient error while attempts remain; otherwise fail the job with its reason."""
    if isinstance(exc, TransientError) and job.attempts <= runtime.settings.task_max_retries:
        log.warning("embed job %s: %s; retry %d", job.id, exc.message, job.attempts)
        report.retry.append(Retry(job.id, job.queue, job.priority, job.attempts))
        return
    if isinstance(exc, (PermanentError, RequestError, TransientError)):
        log.warning("embed job %s failed: %s", job.id, exc.message)
    else:
        log.exception("embed job %s failed unexpectedly", job.id, exc_info=exc)
    try:
        fail_job(runtime, job.id, exc)
    except DatabaseUnavailable:
        # Nowhere to record the failure: retry later rather than drop the job.
        report.retry.append(Retry(job.id, job.queue, job.priority, job.attempts))
        return
    report.failed.append(job.id)
