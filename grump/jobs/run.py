"""Running one job against the ledger: claim, execute, record. No Celery here.

The order is what makes effects exactly-once under at-least-once delivery:
a job already final is skipped; the result and its cost event are committed
together by one conditional UPDATE, so a second run of the same job (a
redelivered message, a requeue) can never record or charge it twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from grump import metrics
from grump.cache.completions import CachedAnswer, hit_outcome
from grump.errors import GrumpError, ProviderTransient
from grump.jobs import rows as ledger
from grump.jobs.complete import run_complete, run_parse
from grump.jobs.embed import embed_service
from grump.jobs.models import CompleteInput, EmbedInput, JobKind, ParseInput
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.providers.registry import fallback_model, is_rate_limited
from grump.routing.policy import estimate_max_cost
from grump.runtime import Runtime

log = logging.getLogger(__name__)


class Step(StrEnum):
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Claimed:
    """The parts of a job row that running it needs, detached from the session."""

    id: uuid.UUID
    kind: JobKind
    tier: str
    model: str | None
    input: dict[str, Any]
    tenant: str = ""
    routing: dict[str, Any] | None = None


def _claim(runtime: Runtime, job_id: uuid.UUID) -> Claimed | None:
    deadline = utcnow() + timedelta(seconds=runtime.settings.job_deadline_seconds)
    with session_scope(runtime.sessions) as session:
        # Parsing takes microseconds: marking it running first would double its ledger writes.
        job = session.get(Job, job_id)
        if job is not None and job.kind != JobKind.PARSE:
            job = ledger.claim(session, job_id, deadline)
        elif job is not None:
            job = ledger.load_active(session, job_id)
        if job is None:
            return None
        return Claimed(
            job.id, JobKind(job.kind), job.tier, job.model, dict(job.input), job.tenant, job.routing
        )


def execute(runtime: Runtime, job: Claimed) -> ledger.Outcome:
    settings = runtime.settings
    catalogue = runtime.catalogue
    if job.kind is JobKind.PARSE:
        return run_parse(ParseInput.model_validate(job.input), catalogue, settings.premium_model)
    if job.kind is JobKind.COMPLETE:
        return _complete(runtime, job)
    model = job.model or settings.embed_model
    # Batched with other jobs' texts; this thread waits for its share before recording.
    return embed_service(runtime).run(job.tenant, EmbedInput.model_validate(job.input), model)


def _complete(runtime: Runtime, job: Claimed) -> ledger.Outcome:
    """A complete job: the cache first; on a miss the provider (or its fallback), then store."""
    settings = runtime.settings
    payload = CompleteInput.model_validate(job.input)
    model = job.model or settings.economy_model
    cache = runtime.completion_cache
    if cache is not None:
        found = cache.lookup(job.tenant, model, payload)
        if found is not None:
            return hit_outcome(found.answer, runtime.catalogue, settings.premium_model)
    outcome = _call_with_fallback(runtime, job, payload, model)
    if cache is not None:
        # Under the model that answered: a fallback answer never serves the routed model.
        cache.store(job.tenant, outcome.model, payload, CachedAnswer.of(outcome))
    return outcome


def _fallback_for(runtime: Runtime, job: Claimed, payload: CompleteInput, model: str) -> str | None:
    """The other tier's model when this job may fall back to it, else None."""
    if job.routing is None or job.routing.get("reason") == "pinned":
        return None  # the caller chose the model: running another would not be what was asked
    other = fallback_model(model, runtime.catalogue, runtime.settings)
    cap = runtime.settings.max_cost_per_request
    if other is None or (
        cap is not None and estimate_max_cost(runtime.catalogue.price(other), payload) > cap
    ):
        return None
    return other


def _call_with_fallback(
    runtime: Runtime, job: Claimed, payload: CompleteInput, model: str
) -> ledger.Outcome:
    settings, catalogue = runtime.settings, runtime.catalogue
    try:
        return run_complete(payload, model, runtime.chat(model), catalogue, settings.premium_model)
    except ProviderTransient as exc:
        other = None if is_rate_limited(exc) else _fallback_for(runtime, job, payload, model)
        if other is None:
            raise
        log.warning("job %s: %s is down (%s); falling back to %s", job.id, model, exc, other)
        outcome = run_complete(
            payload, other, runtime.chat(other), catalogue, settings.premium_model
        )
    routing = {**(job.routing or {}), "model": other, "reason": f"fallback:{model}"}
    tier = catalogue.price(other).tier
    return replace(outcome, tier=tier, routing={**routing, "tier": tier})


def _record(runtime: Runtime, job_id: uuid.UUID, outcome: ledger.Outcome) -> bool:
    with session_scope(runtime.sessions) as session:
        job = session.get(Job, job_id)
        if job is None:
            return False
        recorded = ledger.finish(session, job, outcome)
        created_at = job.created_at
        kind, tier = job.kind, job.tier
    if recorded:
        observe_success(kind, tier, outcome, (utcnow() - created_at).total_seconds())
    return recorded


def observe_success(kind: str, tier: str, outcome: ledger.Outcome, latency: float) -> None:
    metrics.JOBS_FINISHED.labels(kind, tier, "succeeded").inc()
    metrics.JOB_LATENCY.labels(kind, tier).observe(max(0.0, latency))
    metrics.LLM_COST_USD.labels(outcome.model, tier, kind).inc(float(outcome.cost))
    metrics.LLM_COST_PER_REQUEST.labels(kind, tier).observe(float(outcome.cost))
    if outcome.cache_savings:
        metrics.CACHE_SAVINGS_USD.labels(kind).inc(float(outcome.cache_savings))
    if outcome.routing_savings:
        metrics.ROUTING_SAVINGS_USD.labels(outcome.model, tier).inc(float(outcome.routing_savings))


def process_job(runtime: Runtime, job_id: uuid.UUID) -> Step:
    """Run a job once. Transient errors propagate for the caller to retry."""
    job = _claim(runtime, job_id)
    if job is None:
        log.info("job %s is already final; nothing to do", job_id)
        return Step.SKIPPED
    outcome = execute(runtime, job)
    return Step.SUCCEEDED if _record(runtime, job_id, outcome) else Step.SKIPPED


def fail_job(runtime: Runtime, job_id: uuid.UUID, error: GrumpError | Exception) -> bool:
    """Mark a job failed with a message a caller can act on."""
    if isinstance(error, GrumpError):
        detail = error.to_dict()
    else:
        detail = {"code": "internal", "message": f"{type(error).__name__}: {error}"}
    with session_scope(runtime.sessions) as session:
        job = session.get(Job, job_id)
        failed = ledger.fail(session, job_id, detail)
        kind, tier = (job.kind, job.tier) if job else ("unknown", "unknown")
    if failed:
        metrics.JOBS_FINISHED.labels(kind, tier, "failed").inc()
    return failed
