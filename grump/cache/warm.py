"""Beat's warm_cache: keep the most frequent recent complete requests in the shared tiers.

Requests asked at least twice in the last day are ranked by how often; the
top ``GRUMP_CACHE_WARM_TOP`` that are missing from Redis/disk are filled from
the newest answer the ledger holds, which costs nothing. A request with no
usable answer in the ledger is submitted again as a job (user ``grump:warm``,
so it is charged and recorded like any other) while the estimated cost stays
within ``GRUMP_CACHE_WARM_MAX_USD`` per run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from celery import Celery
from sqlalchemy import func, select

from grump.cache.build import SHARED_TIERS, build_tiered_cache
from grump.cache.completions import CachedAnswer, CompletionCache
from grump.errors import RequestError
from grump.jobs.models import CompleteInput, CompleteJobRequest, JobKind, JobStatus
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.routing.pricing import estimate_max_cost
from grump.runtime import Runtime

log = logging.getLogger(__name__)
WARM_USER = "grump:warm"
WINDOW = timedelta(hours=24)


@dataclass
class WarmReport:
    """What one warm_cache run found and did, for its log line and beat's task result."""

    candidates: int = 0
    already_cached: int = 0
    filled_from_ledger: int = 0
    submitted: int = 0
    estimated_usd: Decimal = Decimal(0)


def frequent_requests(runtime: Runtime, limit: int) -> list[Job]:
    """The newest job of each complete request asked twice or more in the window, by count."""
    since = utcnow() - WINDOW
    counted = (
        select(Job.tenant, Job.fingerprint, func.count().label("n"))
        .where(Job.kind == JobKind.COMPLETE.value, Job.created_at >= since)
        .group_by(Job.tenant, Job.fingerprint)
        .having(func.count() >= 2)
        .order_by(func.count().desc())
        .limit(limit)
    )
    with session_scope(runtime.sessions) as session:
        ranked = list(session.execute(counted))
        newest: list[Job] = []
        for tenant, fingerprint, _ in ranked:
            job = session.scalars(
                select(Job)
                .where(Job.tenant == tenant, Job.fingerprint == fingerprint)
                .order_by(Job.status != JobStatus.SUCCEEDED.value, Job.created_at.desc())
                .limit(1)
            ).first()
            if job is not None:
                session.expunge(job)
                newest.append(job)
    return newest


def _ledger_answer(job: Job, fresh_after: Any) -> CachedAnswer | None:
    if job.status != JobStatus.SUCCEEDED.value or not job.result or job.model is None:
        return None
    if job.finished_at is None or job.finished_at < fresh_after:
        return None
    result = {k: v for k, v in job.result.items() if k != "cached"}
    usage = result.get("usage") or {}
    return CachedAnswer(
        result,
        job.model,
        "ledger",
        int(usage.get("prompt_tokens", job.tokens_in)),
        int(usage.get("completion_tokens", job.tokens_out)),
    )


def warm_cache(runtime: Runtime, app: Celery) -> WarmReport:
    """Fill the shared cache tiers with the frequent requests they miss (beat's warm_cache)."""
    settings = runtime.settings
    report = WarmReport()
    tiered = build_tiered_cache(settings, runtime.redis, with_memory=False)
    if tiered is None or settings.cache_warm_top == 0:
        return report
    cache = CompletionCache(tiered, settings.cache_compress_min_bytes)
    fresh_after = utcnow() - timedelta(
        seconds=min(settings.cache_redis_ttl_seconds, settings.cache_disk_ttl_seconds)
    )
    try:
        for job in frequent_requests(runtime, settings.cache_warm_top):
            report.candidates += 1
            _warm_one(runtime, app, cache, job, fresh_after, report)
    finally:
        tiered.close()
    log.info("warm_cache: %s", report)
    return report


def _warm_one(
    runtime: Runtime,
    app: Celery,
    cache: CompletionCache,
    job: Job,
    fresh_after: Any,
    report: WarmReport,
) -> None:
    from grump.jobs.submit import submit_job

    payload = CompleteInput.model_validate(job.input)
    model = job.model or runtime.settings.economy_model
    if cache.holds(job.tenant, model, payload, only=SHARED_TIERS):
        report.already_cached += 1
        return
    answer = _ledger_answer(job, fresh_after)
    if answer is not None:
        cache.store(job.tenant, model, payload, answer, only=SHARED_TIERS)
        report.filled_from_ledger += 1
        return
    estimate = estimate_max_cost(runtime.catalogue.price(model), payload)
    if report.estimated_usd + estimate > runtime.settings.cache_warm_max_usd:
        return
    request = CompleteJobRequest.model_validate(
        {"kind": "complete", "input": job.input, "user": WARM_USER, "priority": 0}
    )
    try:
        submit_job(runtime, app, job.tenant, request)
    except RequestError as exc:  # e.g. the tenant's budget is spent: skip, never fail the run
        log.info("warm_cache: not warming a request of %s: %s", job.tenant, exc.message)
        return
    report.submitted += 1
    report.estimated_usd += estimate
