"""Accepting a job: validate, route, fingerprint, coalesce, record, enqueue.

A job is accepted only when it is both recorded and enqueued: the row is
committed first, then the message published; if publishing fails the row is
marked rejected and the caller gets a 503. If even that write fails, the job
stays ``queued`` and ``requeue_stuck_jobs`` publishes it later, so nothing
accepted is ever left behind.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from celery import Celery
from sqlalchemy.exc import IntegrityError

from grump import metrics
from grump.celery.queues import queue_for
from grump.errors import BrokerUnavailable, BudgetExceeded, Conflict, ValidationFailed
from grump.jobs import rows
from grump.jobs.enqueue import publish_job
from grump.jobs.models import (
    AnyJobRequest,
    CompleteJobRequest,
    EmbedJobRequest,
    JobKind,
    JobStatus,
    RoutingDecision,
    Tier,
    input_texts,
)
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.money import budgets
from grump.routing.policy import RoutingPolicy, route
from grump.routing.pricing import PARSER_MODEL, estimate_reservation
from grump.runtime import Runtime
from grump.settings import Settings


@dataclass(frozen=True)
class Plan:
    """Where a job goes and the most it may cost, decided before its row is written."""

    tier: Tier
    queue: str
    model: str
    routing: RoutingDecision | None
    fingerprint: str
    reservation: Decimal = Decimal(0)  # the most the job can cost: held on its budgets


@dataclass(frozen=True)
class Submitted:
    """What a submit gave the caller: its job, and whether it is new, coalesced or replayed."""

    job: Job
    created: bool = True
    coalesced: bool = False
    replayed: bool = False


def _text_field(request: AnyJobRequest, index: int) -> str:
    if isinstance(request, CompleteJobRequest):
        return f"input.messages[{index}].content"
    if isinstance(request, EmbedJobRequest):
        return f"input.texts[{index}]"
    return "input.text" if request.input.texts is None else f"input.texts[{index}]"


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def refuse_unstorable_text(request: AnyJobRequest) -> None:
    """NUL and lone surrogates parse as JSON but are not text a ledger or a provider accepts."""
    for field, text in _strings(request.model_dump(mode="json"), ""):
        if "\x00" in text:
            raise ValidationFailed(field, "contains a NUL character")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationFailed(field, "is not valid Unicode (a lone surrogate)") from None


def validate_limits(settings: Settings, request: AnyJobRequest) -> None:
    """Limits that depend on settings, so pydantic's schema cannot hold them."""
    if request.kind is JobKind.PARSE and request.input.text is None and not request.input.texts:
        raise ValidationFailed("input.text", "a parse job needs 'text' or 'texts'")
    texts = input_texts(request)
    if len(texts) > settings.max_texts_per_job:
        field = "input.messages" if request.kind is JobKind.COMPLETE else "input.texts"
        raise ValidationFailed(field, f"at most {settings.max_texts_per_job} items per job")
    for index, text in enumerate(texts):
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > settings.max_text_bytes:
            reason = f"{size} bytes is over the limit of {settings.max_text_bytes}"
            raise ValidationFailed(_text_field(request, index), reason)
    refuse_unstorable_text(request)


def fingerprint(request: AnyJobRequest, model: str) -> str:
    """Hash of everything that changes the answer: kind, model and the whole input."""
    canonical = json.dumps(
        {"kind": request.kind.value, "model": model, "input": request.input.model_dump()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def plan_job(runtime: Runtime, request: AnyJobRequest, money_left: Decimal | None = None) -> Plan:
    """Route a request to its tier, queue and model, and price what its budgets must hold."""
    settings, catalogue = runtime.settings, runtime.catalogue
    decision: RoutingDecision | None = None
    if isinstance(request, CompleteJobRequest):
        policy = RoutingPolicy.from_settings(settings)
        try:
            decision = route(request.input, policy, catalogue, budget_left=money_left)
        except BudgetExceeded as exc:
            if exc.details.get("limit_kind") != "budget":
                raise
            # Nothing fits the budget left: the reservation refuses it with the budget's figures.
            decision = route(request.input, policy, catalogue, budget_left=None)
        tier, model = decision.tier, decision.model
    elif isinstance(request, EmbedJobRequest):
        # `is None`, not `or`: an empty model name is unknown, not the default.
        pinned = request.input.model
        tier, model = Tier.GPU, settings.embed_model if pinned is None else pinned
        if catalogue.price(model).kind != "embed":
            raise ValidationFailed("input.model", f"{model!r} is not an embedding model")
    else:
        tier, model = Tier.CPU, PARSER_MODEL
    reservation = estimate_reservation(catalogue, request, model)
    return Plan(tier, queue_for(tier), model, decision, fingerprint(request, model), reservation)


def _new_job(
    settings: Settings, tenant: str, request: AnyJobRequest, plan: Plan, key: str | None
) -> Job:
    now = utcnow()
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
        deadline_at=now + timedelta(seconds=settings.job_deadline_seconds),
    )


def _record(
    runtime: Runtime, tenant: str, request: AnyJobRequest, plan: Plan, key: str | None
) -> Submitted:
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        if key is not None:
            earlier = rows.find_by_idempotency(session, tenant, key)
            if earlier is not None:
                if earlier.fingerprint != plan.fingerprint:
                    raise Conflict("Idempotency-Key was used for a different request")
                return Submitted(earlier, created=False, replayed=True)
        job = _new_job(runtime.settings, tenant, request, plan, key)
        if rows.insert_unless_inflight(session, job):
            # Last in the transaction, so the budget rows stay locked only until the commit;
            # a refusal rolls back the job row too: a refused job is not recorded.
            budgets.reserve(session, job.id, tenant, request.user, plan.reservation, job.created_at)
            return Submitted(job)
        running = rows.find_inflight(session, tenant, plan.fingerprint)
        if running is None:
            raise IntegrityError("coalesce", None, Exception("in-flight job finished meanwhile"))
        rows.note_coalesced(session, running.id)
        return Submitted(running, created=False, coalesced=True)


def submit_job(
    runtime: Runtime, app: Celery, tenant: str, request: AnyJobRequest, key: str | None = None
) -> Submitted:
    """Accept a request as a job: validated, routed, recorded with its holds, then published."""
    settings = runtime.settings
    validate_limits(settings, request)
    # Routing may send a premium-worthy job to the economy model when the budget is short.
    money_left = None
    if isinstance(request, CompleteJobRequest):
        with session_scope(runtime.sessions, settings.retry_after_seconds) as session:
            money_left = budgets.budget_left(session, tenant, request.user, utcnow())
    try:
        plan = plan_job(runtime, request, money_left)
        try:
            outcome = _record(runtime, tenant, request, plan, key)
        except IntegrityError:
            # A concurrent identical submit won the race; the second look finds its job.
            outcome = _record(runtime, tenant, request, plan, key)
    except BudgetExceeded:
        metrics.JOBS_REJECTED.labels(request.kind.value, "budget").inc()
        raise
    if not outcome.created:
        return outcome
    job = outcome.job
    try:
        publish_job(app, job.id, job.queue, job.priority, settings.retry_after_seconds)
    except BrokerUnavailable:
        with session_scope(runtime.sessions, settings.retry_after_seconds) as session:
            rows.reject_unenqueued(session, job.id, "broker unavailable at submit")
        raise
    metrics.JOBS_SUBMITTED.labels(job.kind, job.tier).inc()
    if plan.routing is not None:  # complete jobs: the score routing gave it, once per new job
        metrics.COMPLEXITY_SCORE.labels(job.kind).observe(plan.routing.score)
    return outcome
