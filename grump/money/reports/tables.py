"""The tables every rendering of a report shows, as formatted text cells.

Markdown and HTML differ only in syntax; what each table holds, in which
order and how each figure is printed is decided here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from grump.money.reports.formatting import (
    format_change,
    format_count,
    format_money,
    format_share,
    format_time,
)
from grump.money.reports.model import BreakdownRow, CostReport, Totals

_BREAKDOWN_TITLES = {
    "model": "Spend by model",
    "kind": "Spend by job kind",
    "tier": "Spend by tier",
    "user": "Top users",
}


@dataclass(frozen=True)
class Table:
    """One table of a report as text cells, with what renderers need to lay it out."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]  # right-aligned columns
    empty_note: str = "Nothing in this period."
    row_classes: tuple[str, ...] = ()  # a status per row, for renderers that colour rows


def headline(report: CostReport) -> str:
    """What was spent on how many requests, and the LLM and embedding spend avoided against each baseline.

    Parse jobs' premium price is a sentence of its own, never in the saving.
    """
    totals = report.totals
    spent = f"Spent {format_money(totals.cost)} on {format_count(totals.requests)} requests"
    kept = (
        f" Work kept off the LLM (parse jobs, at premium prices): {format_money(totals.kept_off_llm)}."
        if totals.kept_off_llm > 0
        else ""
    )
    if totals.baseline <= 0:
        return f"{spent}.{kept}"
    share = format_share(totals.savings, totals.baseline)
    direct = (
        f" and {format_money(totals.direct_savings)}"
        f" ({format_share(totals.direct_savings, totals.direct_baseline)}) against going direct"
        " with the clients' own cache breakpoints"
        if totals.direct_baseline > 0
        else ""
    )
    return (
        f"{spent}; LLM and embedding spend avoided: {format_money(totals.savings)}"
        f" ({share} of the premium, uncached baseline){direct}.{kept}"
    )


def _summary_lines(totals: Totals) -> list[tuple[str, Decimal | int]]:
    return [
        ("Spend", totals.cost),
        ("Baseline (premium model, no cache)", totals.baseline),
        ("Baseline (direct, the clients' own cache breakpoints)", totals.direct_baseline),
        ("Saved by the exact cache", totals.cache_savings),
        ("Saved by coalescing", totals.coalescing_savings),
        ("Saved by routing", totals.routing_savings),
        ("Saved by the provider's prompt cache", totals.provider_cache_savings),
        ("Saved by the batch discount", totals.batch_savings),
        ("Saved in all (against premium, no cache)", totals.savings),
        ("Saved against going direct", totals.direct_savings),
        ("Work kept off the LLM (parse jobs at premium prices)", totals.kept_off_llm),
        ("Requests", totals.requests),
        ("Tokens in", totals.tokens_in),
        ("of which read from the prompt cache", totals.tokens_cache_read),
        ("of which written to the prompt cache", totals.tokens_cache_write),
        ("Tokens out", totals.tokens_out),
    ]


def _figure(value: Decimal | int) -> str:
    return format_money(value) if isinstance(value, Decimal) else format_count(value)


def summary_table(report: CostReport) -> Table:
    """This period against the previous one."""
    current = _summary_lines(report.totals)
    previous = _summary_lines(report.previous) if report.previous is not None else None
    rows = []
    for index, (label, value) in enumerate(current):
        before = previous[index][1] if previous is not None else None
        change = format_change(Decimal(value), None if before is None else Decimal(before))
        rows.append((label, _figure(value), "-" if before is None else _figure(before), change))
    return Table(
        title="Summary",
        columns=("", f"This {report.period}", f"Previous {report.period}", "Change"),
        rows=tuple(rows),
        numeric=(False, True, True, True),
    )


def daily_table(report: CostReport) -> Table:
    """Spend per UTC day, one column per model, dearest model first."""
    models = report.models()
    rows = []
    for day, costs in report.daily_table().items():
        cells = [format_money(costs[model]) for model in models]
        rows.append((f"{day:%Y-%m-%d}", *cells, format_money(sum(costs.values(), Decimal(0)))))
    return Table(
        title="Spend per day",
        columns=("Day", *models, "Total"),
        rows=tuple(rows),
        numeric=(False, *(True for _ in models), True),
    )


def breakdown_table(dimension: str, rows: Sequence[BreakdownRow], total: Decimal) -> Table:
    """One breakdown, dearest first, with each row's share of the period's spend."""
    ordered = sorted(rows, key=lambda row: (-row.cost, row.key))
    return Table(
        title=_BREAKDOWN_TITLES.get(dimension, f"Spend by {dimension}"),
        columns=(dimension.capitalize(), "Requests", "Tokens", "Cost", "Share", "Saved"),
        rows=tuple(
            (
                row.key,
                format_count(row.requests),
                format_count(row.tokens),
                format_money(row.cost),
                format_share(row.cost, total),
                format_money(row.savings),
            )
            for row in ordered
        ),
        numeric=(False, True, True, True, True, True),
    )


def budget_table(report: CostReport) -> Table:
    """Each budget's spend against its limit, its health and when it resets."""
    return Table(
        title="Budgets",
        columns=("Budget", "Period", "Spent", "Limit", "Used", "Status", "Resets"),
        rows=tuple(
            (
                row.scope,
                row.period,
                format_money(row.spent),
                format_money(row.limit),
                format_share(row.spent, row.limit),
                str(row.health),
                format_time(row.resets_at),
            )
            for row in report.budgets
        ),
        numeric=(False, False, True, True, True, False, False),
        empty_note="No budget is set.",
        row_classes=tuple(str(row.health) for row in report.budgets),
    )


def report_tables(report: CostReport) -> list[Table]:
    """Every table of a report, in reading order."""
    total = report.totals.cost
    breakdowns = [breakdown_table(dimension, rows, total) for dimension, rows in report.breakdowns]
    return [summary_table(report), daily_table(report), *breakdowns, budget_table(report)]
