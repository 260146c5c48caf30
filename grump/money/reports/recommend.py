"""Plain-language advice drawn from a report's own figures.

``recommendations(report)`` reads a report (its own ``recommendations`` are
ignored) and returns what an operator should look at, most urgent first. Each
rule names the setting or action that addresses it.
"""

from __future__ import annotations

from decimal import Decimal

from grump.money.reports.formatting import (
    format_change,
    format_count,
    format_money,
    format_share,
    format_time,
)
from grump.money.reports.model import BudgetHealth, CostReport

PREMIUM_SHARE_ADVICE = Decimal("0.70")  # premium above this share of spend
SPEND_RISE_ADVICE = Decimal("0.25")  # spend up more than this on the previous period
USER_SHARE_ADVICE = Decimal("0.50")  # one user above this share of spend
CACHE_SHARE_ADVICE = Decimal("0.02")  # cache savings below this share of baseline
CACHE_ADVICE_MIN_REQUESTS = 50  # too few requests say nothing about the cache


def _budget_advice(report: CostReport) -> list[str]:
    advice: list[str] = []
    for row in report.budgets:
        name = (
            f"The tenant's {row.period} budget"
            if row.scope == "tenant"
            else f"The {row.period} budget of {row.scope}"
        )
        figures = f"{format_money(row.spent)} of {format_money(row.limit)}"
        resets = f"it resets {format_time(row.resets_at)}"
        if row.health is BudgetHealth.EXCEEDED:
            advice.append(f"{name} is used up ({figures}): new jobs get HTTP 402 until {resets}.")
        elif row.health is BudgetHealth.ALERT:
            share = format_share(row.spent, row.limit)
            advice.append(f"{name} is at {share} ({figures}); {resets}.")
    if not report.budgets and report.totals.cost > 0:
        advice.append(
            "No budget is set: a monthly budget turns runaway spend into HTTP 402 refusals"
            " instead of a bill."
        )
    return advice


def _spend_advice(report: CostReport) -> list[str]:
    totals, previous, advice = report.totals, report.previous, []
    rising = (
        previous is not None
        and previous.cost > 0
        and (totals.cost - previous.cost) / previous.cost > SPEND_RISE_ADVICE
    )
    if rising and previous is not None:
        change = format_change(totals.cost, previous.cost).lstrip("+")
        top = max(report.by_model, key=lambda row: row.cost, default=None)
        lead = f"; {top.key} cost the most ({format_money(top.cost)})" if top else ""
        advice.append(f"Spend is up {change} on the previous {report.period}{lead}.")
    if totals.cost <= 0:
        return advice
    premium = sum((row.cost for row in report.by_tier if row.key == "premium"), Decimal(0))
    if premium / totals.cost > PREMIUM_SHARE_ADVICE:
        advice.append(
            f"Premium models took {format_share(premium, totals.cost)} of spend: raising the"
            " routing threshold (GRUMP_ROUTING_THRESHOLD) sends more requests to the economy"
            " model."
        )
    top_user = max(report.top_users, key=lambda row: row.cost, default=None)
    if top_user is not None and top_user.cost / totals.cost > USER_SHARE_ADVICE:
        advice.append(
            f"User {top_user.key} accounts for {format_share(top_user.cost, totals.cost)} of"
            " spend: a per-user budget would cap it."
        )
    return advice


def _cache_advice(report: CostReport) -> list[str]:
    totals = report.totals
    if totals.requests < CACHE_ADVICE_MIN_REQUESTS or totals.baseline <= 0:
        return []
    if totals.cache_savings / totals.baseline >= CACHE_SHARE_ADVICE:
        return []
    return [
        f"The cache saved {format_share(totals.cache_savings, totals.baseline)} of baseline:"
        " repeated requests only hit it when model, temperature and max_tokens match too."
    ]


def _prompt_cache_advice(report: CostReport) -> list[str]:
    """A prompt cache written more than read: its writes (1.25x or 2x input) cost more than reads save."""
    totals = report.totals
    if totals.requests < CACHE_ADVICE_MIN_REQUESTS:
        return []
    if totals.tokens_cache_write <= totals.tokens_cache_read:
        return []
    return [
        f"The provider's prompt cache was written more than read"
        f" ({format_count(totals.tokens_cache_write)} tokens written,"
        f" {format_count(totals.tokens_cache_read)} read; reads saved"
        f" {format_money(totals.provider_cache_savings)}): a write costs 1.25x input (2x with"
        " the 1-hour TTL) and only reads repay it, so cache_control on prefixes that change"
        " between calls, or on sessions idle longer than the TTL, costs more than it saves."
    ]


def recommendations(report: CostReport) -> list[str]:
    """Advice for ``report``, most urgent first (budgets, then spend, then the caches)."""
    return (
        _budget_advice(report)
        + _spend_advice(report)
        + _cache_advice(report)
        + _prompt_cache_advice(report)
    )
