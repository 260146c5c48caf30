"""/v1/costs: a tenant's spending, its budgets' state, and advice drawn from its ledger.

Every answer covers the caller's own tenant only. Times without a zone are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from grump.api.deps import PrincipalDep, RuntimeDep
from grump.api.responses import ERROR_RESPONSES
from grump.api.routes.budgets import BudgetList, tenant_budgets
from grump.errors import ValidationFailed
from grump.jobs.ratelimits import key_limits, tenant_limits
from grump.ledger.db import session_scope, utcnow
from grump.money import costs
from grump.money.amounts import quantize_money
from grump.money.sums import Sums

router = APIRouter(prefix="/v1/costs", tags=["costs"], responses=ERROR_RESPONSES)

RECOMMENDATION_DAYS = 7
THRESHOLDS = (20, 30, 40, 50, 60, 70, 80, 90)
TOP_USERS = 5


class CostLine(BaseModel):
    """Spending of one group (or the total): requests, tokens, cost, both baselines and what each cause saved.

    Two baselines, of LLM and embedding work only: ``baseline_cost``, the same
    requests on the premium model with no cache, and ``direct_baseline_cost``, sent
    direct to the premium model with the clients' own ``cache_control``
    breakpoints (cache reads and writes as the provider bills them; a request with
    none goes uncached). ``savings`` is spend avoided against ``baseline_cost``,
    cause by cause: ``cache_savings`` (grump's exact cache), ``coalescing_savings``
    (requests that joined an identical job in flight), ``routing_savings``,
    ``provider_cache_savings`` (the provider's prompt cache reads) and
    ``batch_savings`` (Message Batches' discount on deferred jobs).
    ``direct_savings`` is ``direct_baseline_cost`` less ``cost`` (negative when
    going direct would have cost less). ``kept_off_llm`` is a line apart: what the
    premium model would have charged for the parse jobs grump's parser did.
    ``tokens_cache_read`` and ``tokens_cache_write`` are the part of
    ``tokens_in`` the provider's prompt cache read and wrote.
    """

    key: str
    requests: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    baseline_cost: Decimal
    cache_savings: Decimal
    routing_savings: Decimal
    tokens_cache_read: int = 0
    tokens_cache_write: int = 0
    provider_cache_savings: Decimal = Decimal(0)
    batch_savings: Decimal = Decimal(0)
    savings: Decimal = Decimal(0)
    direct_baseline_cost: Decimal = Decimal(0)
    coalescing_savings: Decimal = Decimal(0)
    direct_savings: Decimal = Decimal(0)
    kept_off_llm: Decimal = Decimal(0)

    @classmethod
    def of(cls, key: str, sums: Sums) -> CostLine:
        """The line for a group's sums, with money quantised."""
        return cls(
            key=key,
            requests=sums.requests,
            tokens_in=sums.tokens_in,
            tokens_out=sums.tokens_out,
            cost=quantize_money(sums.cost),
            baseline_cost=quantize_money(sums.baseline),
            cache_savings=quantize_money(sums.cache_savings),
            routing_savings=quantize_money(sums.routing_savings),
            tokens_cache_read=sums.tokens_cache_read,
            tokens_cache_write=sums.tokens_cache_write,
            provider_cache_savings=quantize_money(sums.provider_cache_savings),
            batch_savings=quantize_money(sums.batch_savings),
            savings=quantize_money(sums.savings),
            direct_baseline_cost=quantize_money(sums.direct_baseline),
            coalescing_savings=quantize_money(sums.coalescing_savings),
            direct_savings=quantize_money(sums.direct_savings),
            kept_off_llm=quantize_money(sums.kept_off_llm),
        )


class CostSummary(BaseModel):
    """A tenant's spending over a window, in total and per group."""

    tenant: str
    start: datetime
    end: datetime
    group_by: costs.GroupBy
    total: CostLine
    groups: list[CostLine]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get("/summary", response_model=CostSummary)
def summary(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    group_by: costs.GroupBy = costs.GroupBy.DAY,
) -> CostSummary:
    """Spending from ``from`` (default: 7 days before ``to``) up to ``to`` (default: now)."""
    stop = _utc(end) if end else utcnow()
    begin = _utc(start) if start else stop - timedelta(days=RECOMMENDATION_DAYS)
    if begin >= stop:
        raise ValidationFailed("from", "must be before 'to'")
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        rows = costs.summary(session, principal.tenant, begin, stop, group_by)
        total = costs.totals(session, principal.tenant, begin, stop)
    return CostSummary(
        tenant=principal.tenant,
        start=begin,
        end=stop,
        group_by=group_by,
        total=CostLine.of("total", total),
        groups=[CostLine.of(key, sums) for key, sums in rows],
    )


class RateLimitView(BaseModel):
    """The rate limits a scope submits under: requests per second, tokens per minute (0: none)."""

    scope: str  # "key" (the calling key's lineage) or "tenant"
    key: int | None = None
    rps_limit: float
    tpm_limit: int


class BudgetStatus(BudgetList):
    """Your tenant's budgets (its users' and keys' included) and the rate limits you submit under."""

    rate_limits: list[RateLimitView]


@router.get("/budget-status", response_model=BudgetStatus)
def budget_status(principal: PrincipalDep, runtime: RuntimeDep) -> BudgetStatus:
    """Your tenant's budgets, its users' and keys', with what each has spent and holds this period, and the rate limits of your key and tenant."""
    settings = runtime.settings
    rps, tpm = key_limits(settings, principal.caller)
    tenant_rps, tenant_tpm = tenant_limits(settings, principal.tenant)
    limits = [
        RateLimitView(scope="key", key=principal.lineage_id, rps_limit=rps, tpm_limit=tpm),
        RateLimitView(scope="tenant", rps_limit=tenant_rps, tpm_limit=tenant_tpm),
    ]
    return BudgetStatus(items=tenant_budgets(runtime, principal.tenant).items, rate_limits=limits)


class ThresholdLine(BaseModel):
    """What the window's routed jobs would have cost at one routing threshold, and the saving."""

    threshold: int
    cost: Decimal
    saving: Decimal


class UserLine(BaseModel):
    """One of the users who spent most, with their share of the tenant's spending."""

    user: str
    cost: Decimal
    share: Decimal


class CacheLine(BaseModel):
    """How often one kind of job was answered from the cache."""

    kind: str
    requests: int
    hits: int
    hit_rate: Decimal


class Recommendations(BaseModel):
    """Advice drawn from a tenant's recent ledger: routing thresholds, top users and cache use."""

    tenant: str
    start: datetime
    end: datetime
    routing_threshold: int
    routed_cost: Decimal
    thresholds: list[ThresholdLine]
    top_users: list[UserLine]
    cache: list[CacheLine]
    advice: list[str]


def _share(part: Decimal, whole: Decimal) -> Decimal:
    return (part / whole).quantize(Decimal("0.0001")) if whole else Decimal(0)


def _advice(current: int, actual: Decimal, options: list[ThresholdLine]) -> list[str]:
    best = max(options, key=lambda o: (o.saving, -abs(o.threshold - current)), default=None)
    if best is None or best.saving <= 0 or best.threshold == current:
        return []
    return [
        f"A routing threshold of {best.threshold} (now {current}) would have cost"
        f" {best.cost:.4f} instead of {actual:.4f} USD over the last {RECOMMENDATION_DAYS} days:"
        " set GRUMP_ROUTING_THRESHOLD, and check answer quality on the jobs it moves."
    ]


@router.get("/recommendations", response_model=Recommendations)
def recommendations(principal: PrincipalDep, runtime: RuntimeDep) -> Recommendations:
    """What the last 7 days' ledger suggests: routing threshold, users, cache."""
    settings, tenant = runtime.settings, principal.tenant
    end = utcnow()
    start = end - timedelta(days=RECOMMENDATION_DAYS)
    models = (settings.economy_model, settings.premium_model)
    with session_scope(runtime.sessions, settings.retry_after_seconds) as session:
        actual, options = costs.threshold_options(
            session, tenant, start, runtime.catalogue, models, THRESHOLDS
        )
        users = costs.summary(session, tenant, start, end, costs.GroupBy.USER)
        cache = costs.cache_hits_by_kind(session, tenant, start, end)
    spend = sum((sums.cost for _, sums in users), Decimal(0))
    lines = [ThresholdLine(threshold=o.threshold, cost=o.cost, saving=o.saving) for o in options]
    return Recommendations(
        tenant=tenant,
        start=start,
        end=end,
        routing_threshold=settings.routing_threshold,
        routed_cost=actual,
        thresholds=lines,
        top_users=[
            UserLine(user=user, cost=sums.cost, share=_share(sums.cost, spend))
            for user, sums in users[:TOP_USERS]
        ],
        cache=[
            CacheLine(
                kind=kind,
                requests=sums.requests,
                hits=sums.cached,
                hit_rate=_share(Decimal(sums.cached), Decimal(sums.requests)),
            )
            for kind, sums in cache.items()
        ],
        advice=_advice(settings.routing_threshold, actual, lines),
    )
