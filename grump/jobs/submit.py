"""Accepting a job: validate, rate-limit, plan, then record and publish it (``grump.jobs.submit_steps``).

A job is accepted only when it is both recorded and enqueued: the row is
committed first, then the message published; if publishing fails the row is
marked rejected and the caller gets a 503. If even that write fails, the job
stays ``queued`` and ``requeue_stuck_jobs`` publishes it later, so nothing
accepted is ever left behind.

The API's submits (``submit_job_async``) are group-committed with those that
arrive with them (``grump.jobs.submit_groups``); ``submit_job`` (the CLI, cache
warming, tools) records a group of one in its own transaction. Both run the
same steps: ``record_group`` in the transaction, ``publish_group`` after it.
"""

from __future__ import annotations

from decimal import Decimal

from celery import Celery
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grump import metrics
from grump.errors import BudgetExceeded, GrumpError, ServiceUnavailable
from grump.jobs import submit_rows
from grump.jobs.limits import validate_limits
from grump.jobs.models import AnyJobRequest, CompleteJobRequest
from grump.jobs.plan import Plan, plan_job
from grump.jobs.ratelimits import Caller, admit, admit_async, caller_of
from grump.jobs.records import JobRecord, new_record
from grump.jobs.submit_groups import UNENQUEUED
from grump.jobs.submit_steps import (
    Pending,
    Submitted,
    answer_of,
    publish_group,
    record_group,
    to_publish,
)
from grump.ledger.db import session_scope, utcnow
from grump.money import reservations
from grump.runtime import Runtime

__all__ = ["Submitted", "submit_job", "submit_job_async"]


def _money_left(
    session: Session, tenant: str, request: AnyJobRequest, lineage: int | None
) -> Decimal | None:
    """What routing may spend: the least any of the job's budgets can still hold."""
    return reservations.money_left(session, tenant, request.user, lineage, utcnow())


def _routed_by_budget(request: AnyJobRequest) -> bool:
    # Routing may send a premium-worthy job to the economy model when the budget is short.
    return isinstance(request, CompleteJobRequest)


def _refused(request: AnyJobRequest, exc: BudgetExceeded) -> None:
    metrics.JOBS_REJECTED.labels(request.kind.value, "budget").inc()
    scope = str(exc.details.get("scope", "tenant")).partition(":")[0]
    metrics.BUDGET_REFUSED.labels(scope).inc()


def _accepted(job: JobRecord, plan: Plan) -> None:
    metrics.JOBS_SUBMITTED.labels(job.kind, job.tier).inc()
    if plan.routing is not None:  # complete jobs: the score routing gave it, once per new job
        metrics.COMPLEXITY_SCORE.labels(job.kind).observe(plan.routing.score)


def _pending(
    runtime: Runtime,
    tenant: str,
    request: AnyJobRequest,
    plan: Plan,
    key: str | None,
    lineage: int | None,
) -> Pending:
    record = new_record(runtime.settings, tenant, request, plan, key, lineage)
    return Pending(tenant, request, plan, key, lineage, record)


def _answered(request: AnyJobRequest, plan: Plan, outcome: Submitted | GrumpError) -> Submitted:
    """The caller's answer, counted: a new job, or the refusal raised."""
    if isinstance(outcome, BudgetExceeded):
        _refused(request, outcome)
    done = answer_of(outcome)
    if done.created:
        _accepted(done.job, plan)
    return done


def _record_alone(runtime: Runtime, app: Celery, pending: Pending) -> Submitted | GrumpError:
    """A group of one in its own transaction, then its message; retried once on a race."""
    retry_after = runtime.settings.retry_after_seconds
    for _ in range(2):  # a second look finds what a concurrent identical submit made
        try:
            with session_scope(runtime.sessions, retry_after) as session:
                answers = record_group(session, [pending])
                if isinstance(answers[0], GrumpError):
                    raise answers[0]  # rolled back: a refused job is not recorded
        except IntegrityError:
            continue
        except BudgetExceeded as exc:
            return exc
        if answers[0] is None:
            continue
        refused = publish_group(runtime, app, answers, to_publish(answers))
        if refused:
            with session_scope(runtime.sessions, retry_after) as session:
                submit_rows.reject_unenqueued(session, refused, UNENQUEUED)
        assert answers[0] is not None
        return answers[0]
    raise ServiceUnavailable("submit raced another; retry", retry_after=1)


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
    except BudgetExceeded as exc:
        _refused(request, exc)
        raise
    pending = _pending(runtime, tenant, request, plan, key, who.key_id)
    return _answered(request, plan, _record_alone(runtime, app, pending))


async def submit_job_async(
    runtime: Runtime,
    app: Celery,
    tenant: str,
    request: AnyJobRequest,
    key: str | None = None,
    caller: Caller | None = None,
) -> Submitted:
    """``submit_job`` on the event loop, group-committed with the submits that arrive with it."""
    settings = runtime.settings
    validate_limits(settings, request)
    who = caller_of(tenant, caller)
    await admit_async(runtime, tenant, request, who)
    money_left = None
    if _routed_by_budget(request):
        # Read with the submits that ask at the same time: no connection held while waiting.
        money_left = await runtime.submit_groups().money.left(tenant, request.user, who.key_id)
    try:
        plan = plan_job(runtime, request, money_left, tenant)
    except BudgetExceeded as exc:
        _refused(request, exc)
        raise
    pending = _pending(runtime, tenant, request, plan, key, who.key_id)
    try:
        outcome: Submitted | GrumpError = await runtime.submit_groups().submit(app, pending)
    except GrumpError as exc:
        outcome = exc
    return _answered(request, plan, outcome)
