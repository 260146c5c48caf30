"""A ``CostReport`` from the ledger: one tenant, one day, ISO week or month (UTC)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from grump.money import costs
from grump.money.budgets import tenant_statuses
from grump.money.reports.model import (
    BreakdownRow,
    BudgetStatusRow,
    CostReport,
    DailyModelCost,
    ReportPeriod,
    Totals,
)
from grump.money.reports.periods import previous_bounds, report_bounds
from grump.money.reports.recommend import recommendations
from grump.money.sums import Sums

TOP_USERS = 10


def _totals(sums: Sums) -> Totals:
    return Totals(
        cost=sums.cost,
        baseline=sums.baseline,
        cache_savings=sums.cache_savings,
        routing_savings=sums.routing_savings,
        requests=sums.requests,
        tokens_in=sums.tokens_in,
        tokens_out=sums.tokens_out,
        tokens_cache_read=sums.tokens_cache_read,
        tokens_cache_write=sums.tokens_cache_write,
        provider_cache_savings=sums.provider_cache_savings,
        direct_baseline=sums.direct_baseline,
        coalescing_savings=sums.coalescing_savings,
        batch_savings=sums.batch_savings,
        kept_off_llm=sums.kept_off_llm,
    )


def _breakdown(
    session: Session,
    tenant: str,
    bounds: tuple[datetime, datetime],
    group_by: costs.GroupBy,
) -> list[BreakdownRow]:
    return [
        BreakdownRow(
            key=key,
            requests=sums.requests,
            tokens=sums.tokens_in + sums.tokens_out,
            cost=sums.cost,
            savings=sums.savings,
            tokens_cache_read=sums.tokens_cache_read,
            tokens_cache_write=sums.tokens_cache_write,
            provider_cache_savings=sums.provider_cache_savings,
        )
        for key, sums in costs.summary(session, tenant, *bounds, group_by)
    ]


def _budgets(session: Session, tenant: str, now: datetime) -> list[BudgetStatusRow]:
    return [
        BudgetStatusRow(
            scope=status.scope,
            period=status.period.value,
            limit=status.limit,
            spent=status.spent,
            resets_at=status.end,
            alert_threshold=status.alert_threshold,
        )
        for status in tenant_statuses(session, tenant, now)
    ]


def build_report(
    session: Session, tenant: str, period: ReportPeriod, at: datetime, now: datetime
) -> CostReport:
    """The report of the ``period`` holding ``at``; budgets as they stand at ``now``."""
    start, end = report_bounds(period, at)
    bounds = (start, end)
    previous = previous_bounds(period, start)
    report = CostReport(
        tenant=tenant,
        period=period,
        start=start,
        end=end,
        totals=_totals(costs.totals(session, tenant, start, end)),
        previous=_totals(costs.totals(session, tenant, *previous)),
        daily=[
            DailyModelCost(date.fromisoformat(day), model, cost)
            for day, model, cost in costs.daily_by_model(session, tenant, start, end)
        ],
        by_model=_breakdown(session, tenant, bounds, costs.GroupBy.MODEL),
        by_kind=_breakdown(session, tenant, bounds, costs.GroupBy.KIND),
        by_tier=_breakdown(session, tenant, bounds, costs.GroupBy.TIER),
        top_users=_breakdown(session, tenant, bounds, costs.GroupBy.USER)[:TOP_USERS],
        budgets=_budgets(session, tenant, now),
        generated_at=now,
    )
    return replace(report, recommendations=recommendations(report))
