"""Running one job against the ledger: claim, execute, record. No Celery here.

The order is what makes effects exactly-once under at-least-once delivery:
a job already final is skipped; the result and its cost event are committed
together by one conditional UPDATE, so a second run of the same job (a
redelivered message, a requeue) can never record or charge it twice.
Embed jobs take the same steps a batch at a time (``grump.jobs.embed.batch``).
"""

from __future__ import annotations

import logging
import uuid
from enum import StrEnum

from grump import metrics
from grump.errors import GrumpError, TransientError
from grump.jobs import admission, rows
from grump.jobs.claims import claim_jobs, give_back, release_leases
from grump.jobs.complete import Cancelled, run_complete
from grump.jobs.models import Claimed, JobKind, Outcome, ParseInput
from grump.jobs.parse import run_parse
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.runtime import Runtime

log = logging.getLogger(__name__)


class Step(StrEnum):
    """How one run of a job's message ended."""

    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _claim(runtime: Runtime, job_id: uuid.UUID) -> Claimed | None:
    with session_scope(runtime.sessions) as session:
        job = rows.load_active(session, job_id)
        if job is None:
            return None
        if job.kind == JobKind.PARSE:
            # Parsing takes microseconds: marking it running first would double its ledger
            # writes, and a parse never outlives its message (leased from its receipt).
            return _claimed(job)
    claimed = claim_jobs(runtime, [job_id])
    return _claimed(claimed[0]) if claimed else None


def _claimed(job: Job) -> Claimed:
    return Claimed(
        job.id, JobKind(job.kind), job.tier, job.model, dict(job.input), job.tenant, job.routing
    )


def execute(runtime: Runtime, job: Claimed) -> Outcome:
    """What the job's kind does with its input; embed jobs never come this way."""
    if job.kind is JobKind.PARSE:
        payload = ParseInput.model_validate(job.input)
        return run_parse(payload, runtime.catalogue, runtime.settings.premium_model)
    if job.kind is JobKind.COMPLETE:
        return run_complete(runtime, job)
    raise ValueError(f"job {job.id}: {job.kind} jobs run in batches on the gpu worker")


def _record(runtime: Runtime, job_id: uuid.UUID, outcome: Outcome) -> bool:
    with session_scope(runtime.sessions) as session:
        job = session.get(Job, job_id)
        if job is None:
            return False
        recorded = rows.finish(session, job, outcome)
        created_at = job.created_at
        kind, tier, tenant, queue = job.kind, job.tier, job.tenant, job.queue
    if recorded:
        runtime.job_waiters.announce_final([job_id])
        admission.job_ended(runtime, tenant, queue)
        observe_success(kind, tier, outcome, (utcnow() - created_at).total_seconds())
    return recorded


def record_cancelled(runtime: Runtime, job_id: uuid.UUID, stopped: Cancelled) -> bool:
    """Record a streamed job its caller left as cancelled, charged what its provider billed."""
    error = {
        "code": "cancelled",
        "message": f"the streaming caller left; stopped after {stopped.deltas} deltas",
    }
    with session_scope(runtime.sessions) as session:
        job = session.get(Job, job_id)
        if job is None:
            return False
        recorded = rows.cancel_running(session, job, stopped.outcome, error)
        kind, tier, tenant, queue = job.kind, job.tier, job.tenant, job.queue
    if recorded:
        runtime.job_waiters.announce_final([job_id])
        admission.job_ended(runtime, tenant, queue)
        metrics.JOBS_FINISHED.labels(kind, tier, "cancelled").inc()
        metrics.LLM_COST_USD.labels(stopped.outcome.model, tier, kind).inc(
            float(stopped.outcome.cost)
        )
    return recorded


def observe_success(kind: str, tier: str, outcome: Outcome, latency: float) -> None:
    """Count a recorded job in the metrics: its latency, its cost and what it saved."""
    metrics.JOBS_FINISHED.labels(kind, tier, "succeeded").inc()
    metrics.JOB_LATENCY.labels(kind, tier).observe(max(0.0, latency))
    metrics.LLM_COST_USD.labels(outcome.model, tier, kind).inc(float(outcome.cost))
    metrics.LLM_COST_PER_REQUEST.labels(kind, tier).observe(float(outcome.cost))
    if outcome.cache_savings:
        metrics.CACHE_SAVINGS_USD.labels(kind).inc(float(outcome.cache_savings))
    if outcome.routing_savings:
        metrics.ROUTING_SAVINGS_USD.labels(outcome.model, tier).inc(float(outcome.routing_savings))
    if outcome.provider_cache_savings:
        saved = float(outcome.provider_cache_savings)
        metrics.PROVIDER_CACHE_SAVINGS_USD.labels(outcome.model).inc(saved)


def process_job(runtime: Runtime, job_id: uuid.UUID) -> Step:
    """Run a job once. Transient errors propagate for the caller to retry, the job given back."""
    job = _claim(runtime, job_id)
    if job is None:
        log.info("job %s is final or running elsewhere; nothing to do", job_id)
        return Step.SKIPPED
    try:
        outcome = execute(runtime, job)
        return Step.SUCCEEDED if _record(runtime, job_id, outcome) else Step.SKIPPED
    except Cancelled as stopped:
        return Step.CANCELLED if record_cancelled(runtime, job_id, stopped) else Step.SKIPPED
    except TransientError:
        if job.kind is not JobKind.PARSE:
            give_back(runtime, job_id)
        raise
    finally:
        if job.kind is not JobKind.PARSE:
            release_leases(runtime, [job_id])


def fail_job(runtime: Runtime, job_id: uuid.UUID, error: GrumpError | Exception) -> bool:
    """Mark a job failed with a message a caller can act on."""
    if isinstance(error, GrumpError):
        detail = error.to_dict()
    else:
        detail = {"code": "internal", "message": f"{type(error).__name__}: {error}"}
    with session_scope(runtime.sessions) as session:
        job = session.get(Job, job_id)
        failed = rows.fail(session, job_id, detail)
        kind, tier = (job.kind, job.tier) if job else ("unknown", "unknown")
        tenant, queue = (job.tenant, job.queue) if job else ("", "")
    if failed:
        runtime.job_waiters.announce_final([job_id])
        admission.job_ended(runtime, tenant, queue)
        metrics.JOBS_FINISHED.labels(kind, tier, "failed").inc()
    return failed
