"""Accepting a job: validate, route, fingerprint, coalesce, record, enqueue.

A job is accepted only when it is both recorded and enqueued: the row is
committed first, then the message published; if publishing fails the row is
marked rejected and the caller gets a 503. If even that write fails, the job
stays ``queued`` and ``requeue_stuck_jobs`` publishes it later, so nothing
accepted is ever left behind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from anyio import to_thread
from celery import Celery
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grump import metrics
from grump.errors import BrokerUnavailable, BudgetExceeded, Conflict
from grump.jobs import admission, rows
from grump.jobs.enqueue import publish_job
from grump.jobs.limits import validate_limits
from grump.jobs.models import (
    AnyJobRequest,
    CompleteJobRequest,
    JobStatus,
)
from grump.jobs.plan import Plan, plan_job
from grump.jobs.ratelimits import Caller, admit, admit_async, caller_of
from grump.ledger.aio import async_session_scope
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.money import budgets
from grump.runtime import Runtime
from grump.settings import Settings


@dataclass(frozen=True)
class Submitted:
    """What a submit gave the caller: its job, and whether it is new, coalesced or replayed."""

    job: Job
    created: bool = True
    coalesced: bool = False
    replayed: bool = False


def _new_job(
    settings: Settings,
    tenant: str,
    request: AnyJobRequest,
    plan: Plan,
    key: str | None,
    lineage: int | None = None,
) -> Job:
    now = utcnow()
    defer_until = None if plan.wait is None else now + plan.wait
    return Job(
        id=uuid.uuid4(),
        tenant=tenant,
        user_id=request.user,
        session_id=request.session,
        kind=request.kind.value,
        status=JobStatus.QUEUED.value,
        priority=request.priority,
        tier=plan.tier.value,
        queue=plan.queue,
        model=plan.model,
        routing=plan.routing.model_dump(mode="json") if plan.routing else None,
        input=request.input.model_dump(mode="json", exclude_none=True),
        fingerprint=plan.fingerprint,
        idempotency_key=key,
        attempts=0,
        tokens_in=0,
        tokens_out=0,
        cost=Decimal(0),  # set here, not only by the column default: the 202 answer shows it
        baseline_cost=Decimal(0),
        reserved_cost=plan.reservation,
        coalesced_count=0,
        created_at=now,
        enqueued_at=now,
        # A deferred job is not stuck while it waits: beat's batches look after it.
        deadline_at=defer_until or now + timedelta(seconds=settings.job_deadline_seconds),
        defer_until=defer_until,
        lineage_id=lineage,
    )


def _record_in(
    session: Session,
    settings: Settings,
    tenant: str,
    request: AnyJobRequest,
    plan: Plan,
    key: str | None,
    lineage: int | None = None,
) -> Submitted:
    """The submit transaction's statements: replay, insert with holds, or coalesce."""
    if key is not None:
        earlier = rows.find_by_idempotency(session, tenant, key)
        if earlier is not None:
            if earlier.fingerprint != plan.fingerprint:
                raise Conflict("Idempotency-Key was used for a different request")
            return Submitted(earlier, created=False, replayed=True)
    job = _new_job(settings, tenant, request, plan, key, lineage)
    if rows.insert_unless_inflight(session, job):
        # Last in the transaction, so the budget rows stay locked only until the commit;
        # a refusal rolls back the job row too: a refused job is not recorded.
        budgets.reserve(
            session, job.id, tenant, request.user, plan.reservation, job.created_at, lineage
        )
        return Submitted(job)
    running = rows.find_inflight(session, tenant, plan.fingerprint)
    if running is None:
        raise IntegrityError("coalesce", None, Exception("in-flight job finished meanwhile"))
    rows.note_coalesced(session, running.id)
    return Submitted(running, created=False, coalesced=True)


def _money_left(
    session: Session, tenant: str, request: AnyJobRequest, lineage: int | None
) -> Decimal | None:
    """What routing may spend: the least any of the job's budgets can still hold."""
    return budgets.budget_left(session, tenant, request.user, utcnow(), lineage)


def _routed_by_budget(request: AnyJobRequest) -> bool:
    # Routing may send a premium-worthy job to the economy model when the budget is short.
    return isinstance(request, CompleteJobRequest)


def _refused(request: AnyJobRequest, exc: BudgetExceeded) -> None:
    metrics.JOBS_REJECTED.labels(request.kind.value, "budget").inc()
    scope = str(exc.details.get("scope", "tenant")).partition(":")[0]
    metrics.BUDGET_REFUSED.labels(scope).inc()


def _accepted(job: Job, plan: Plan) -> None:
    metrics.JOBS_SUBMITTED.labels(job.kind, job.tier).inc()
    if plan.routing is not None:  # complete jobs: the score routing gave it, once per new job
        metrics.COMPLEXITY_SCORE.labels(job.kind).observe(plan.routing.score)


_UNENQUEUED = "broker unavailable at submit"


def _record(
    runtime: Runtime,
    tenant: str,
    request: AnyJobRequest,
    plan: Plan,
    key: str | None,
    lineage: int | None,
) -> Submitted:
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        return _record_in(session, runtime.settings, tenant, request, plan, key, lineage)


def submit_job(
    runtime: Runtime,
    app: Celery,
    tenant: str,
    request: AnyJobRequest,
    key: str | None = None,
    caller: Caller | None = None,
) -> Submitted:
    """Accept a request as a job: validated, rate-limited, routed, recorded with its holds, published.

    ``caller`` is the key submitting (its lineage's budgets and rate limits apply);
    by default, the caller of the API request being served.
    """
    settings = runtime.settings
    validate_limits(settings, request)
    who = caller_of(tenant, caller)
    admit(runtime, tenant, request, who)
    money_left = None
    if _routed_by_budget(request):
        with session_scope(runtime.sessions, settings.retry_after_seconds) as session:
            money_left = _money_left(session, tenant, request, who.key_id)
    try:
        plan = plan_job(runtime, request, money_left, tenant)
        try:
            outcome = _record(runtime, tenant, request, plan, key, who.key_id)
        except IntegrityError:
            # A concurrent identical submit won the race; the second look finds its job.
            outcome = _record(runtime, tenant, request, plan, key, who.key_id)
    except BudgetExceeded as exc:
        _refused(request, exc)
        raise
    if not outcome.created:
        return outcome
    if plan.wait is not None:  # a deferred job has no message: beat sends it in a batch
        _accepted(outcome.job, plan)
        return outcome
    job = outcome.job
    if not admission.admitted(runtime, job):  # held: released when the tenant's jobs end
        _accepted(job, plan)
        return outcome
    try:
        publish_job(app, job.id, job.queue, job.priority, settings.retry_after_seconds)
    except BrokerUnavailable:
        with session_scope(runtime.sessions, settings.retry_after_seconds) as session:
            rows.reject_unenqueued(session, job.id, _UNENQUEUED)
        raise
    _accepted(job, plan)
    return outcome


async def _record_async(
    runtime: Runtime,
    tenant: str,
    request: AnyJobRequest,
    plan: Plan,
    key: str | None,
    lineage: int | None,
) -> Submitted:
    settings = runtime.settings
    async with async_session_scope(runtime.aio_sessions, settings.retry_after_seconds) as session:
        return await session.run_sync(_record_in, settings, tenant, request, plan, key, lineage)


async def submit_job_async(
    runtime: Runtime,
    app: Celery,
    tenant: str,
    request: AnyJobRequest,
    key: str | None = None,
    caller: Caller | None = None,
) -> Submitted:
    """``submit_job`` on the event loop: the same steps and statements, through the async ledger.

    The transaction runs ``_record_in`` as it is (``run_sync``); only the message's
    publish, which kombu makes blocking, goes to a worker thread.
    """
    settings = runtime.settings
    validate_limits(settings, request)
    who = caller_of(tenant, caller)
    await admit_async(runtime, tenant, request, who)
    money_left = None
    if _routed_by_budget(request):
        async with async_session_scope(runtime.aio_sessions, settings.retry_after_seconds) as s:
            money_left = await s.run_sync(_money_left, tenant, request, who.key_id)
    try:
        plan = plan_job(runtime, request, money_left, tenant)
        try:
            outcome = await _record_async(runtime, tenant, request, plan, key, who.key_id)
        except IntegrityError:
            # A concurrent identical submit won the race; the second look finds its job.
            outcome = await _record_async(runtime, tenant, request, plan, key, who.key_id)
    except BudgetExceeded as exc:
        _refused(request, exc)
        raise
    if not outcome.created:
        return outcome
    if plan.wait is not None:  # a deferred job has no message: beat sends it in a batch
        _accepted(outcome.job, plan)
        return outcome
    job = outcome.job
    if not await admission.admitted_async(runtime, job):  # held, as in submit_job
        _accepted(job, plan)
        return outcome
    try:
        await to_thread.run_sync(
            publish_job, app, job.id, job.queue, job.priority, settings.retry_after_seconds
        )
    except BrokerUnavailable:
        async with async_session_scope(runtime.aio_sessions, settings.retry_after_seconds) as s:
            await s.run_sync(rows.reject_unenqueued, job.id, _UNENQUEUED)
        raise
    _accepted(job, plan)
    return outcome
