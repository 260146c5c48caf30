"""Planning a job before its row is written: its tier, queue and model, its price, its fingerprint.

Routing (``grump.routing.policy``) decides complete jobs, weighing what is warm
in the provider's prompt cache (one Redis read) and the budget left; a job that
may wait for a provider batch is planned as deferred, held at the batch price.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from grump.celery.queues import queue_for
from grump.errors import BudgetExceeded, ValidationFailed
from grump.jobs.defer import DEFERRED_QUEUE, batchable, wait_of
from grump.jobs.models import (
    AnyJobRequest,
    CompleteJobRequest,
    EmbedJobRequest,
    RoutingDecision,
    Tier,
)
from grump.routing.policy import AUTO_MODEL, RoutingPolicy, route
from grump.routing.pricing import PARSER_MODEL, estimate_reservation
from grump.routing.prompt_cache import warm_tokens_for
from grump.runtime import Runtime


@dataclass(frozen=True)
class Plan:
    """Where a job goes and the most it may cost, decided before its row is written."""

    tier: Tier
    queue: str
    model: str
    routing: RoutingDecision | None
    fingerprint: str
    reservation: Decimal = Decimal(0)  # the most the job can cost: held on its budgets
    # A job that waits for a provider batch (grump.jobs.batches): how long it may wait.
    wait: timedelta | None = None


def fingerprint(request: AnyJobRequest, model: str) -> str:
    """Hash of everything that changes the answer: kind, model and the whole input."""
    canonical = json.dumps(
        {"kind": request.kind.value, "model": model, "input": request.input.model_dump()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _warm_tokens(runtime: Runtime, request: CompleteJobRequest, model: str, tenant: str) -> int:
    """The request's input warm in ``model``'s prompt cache: one Redis MGET, 0 when pinned."""
    pinned = request.input.model not in (None, AUTO_MODEL)
    if pinned or model not in runtime.catalogue:
        return 0
    return warm_tokens_for(runtime, model, request.input, tenant)


def _routing_money(
    runtime: Runtime, request: AnyJobRequest, tenant: str, money_left: Decimal | None
) -> Decimal | None:
    """The budget routing weighs a job against: for one that waits for a batch on the premium
    model, what is left grossed up by the batch discount (routing prices calls at list price)."""
    if money_left is None or wait_of(runtime.settings, tenant, request) is None:
        return money_left
    premium = runtime.catalogue.price(runtime.settings.premium_model)
    if not batchable(premium, runtime.settings) or not premium.batch_discount:
        return money_left
    return money_left / (Decimal(1) - premium.batch_discount)


def plan_job(
    runtime: Runtime, request: AnyJobRequest, money_left: Decimal | None = None, tenant: str = ""
) -> Plan:
    """Route a request to its tier, queue and model, and price what its budgets must hold.

    A job that may wait (``grump.jobs.defer``) on a model with a batch API is
    planned as deferred, its budgets held at the batch price.
    """
    settings, catalogue = runtime.settings, runtime.catalogue
    decision: RoutingDecision | None = None
    if isinstance(request, CompleteJobRequest):
        policy = RoutingPolicy.from_settings(settings)
        money_left = _routing_money(runtime, request, tenant, money_left)
        warm = _warm_tokens(runtime, request, policy.premium_model, tenant)
        try:
            decision = route(
                request.input, policy, catalogue, budget_left=money_left, warm_tokens=warm
            )
        except BudgetExceeded as exc:
            if exc.details.get("limit_kind") != "budget":
                raise
            # Nothing fits the budget left: the reservation refuses it with the budget's figures.
            decision = route(request.input, policy, catalogue, budget_left=None, warm_tokens=warm)
        tier, model = decision.tier, decision.model
    elif isinstance(request, EmbedJobRequest):
        # `is None`, not `or`: an empty model name is unknown, not the default.
        pinned = request.input.model
        tier, model = Tier.GPU, settings.embed_model if pinned is None else pinned
        if catalogue.price(model).kind != "embed":
            raise ValidationFailed("input.model", f"{model!r} is not an embedding model")
    else:
        tier, model = Tier.CPU, PARSER_MODEL
    wait = wait_of(settings, tenant, request)
    if wait is not None and not batchable(catalogue.price(model), settings):
        wait = None  # no batch API on this route: no discount to wait for, so it runs now
    reservation = estimate_reservation(catalogue, request, model, batched=wait is not None)
    print_ = fingerprint(request, model)
    if wait is not None:  # an ordinary job must not coalesce onto one that waits for hours
        print_ = hashlib.sha256(f"deferred:{print_}".encode()).hexdigest()
    # A deferred job has no message on its tier's queue (nor a fair-share slot there) until
    # it runs as an ordinary one; its queue says where it waits.
    queue = DEFERRED_QUEUE if wait is not None else queue_for(tier)
    return Plan(tier, queue, model, decision, print_, reservation, wait)
