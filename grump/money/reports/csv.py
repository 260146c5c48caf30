"""A cost report as CSV: every figure of the report, exact, one row per fact.

Money is written in full precision as plain decimal text (no rounding, no
exponent notation), so ``Decimal(cell)`` gives back the exact amount. Every
row names its tenant and period, so the CSVs of many reports can be
concatenated. Columns a section does not use are left empty.

Sections: ``totals`` (key ``current`` or ``previous``), ``daily`` (key is
the model, with ``day``), ``model``, ``kind``, ``tier``, ``user`` (the
breakdowns) and ``budget`` (key is the scope; ``cost`` is what it spent).

``tokens_cache_read`` and ``tokens_cache_write`` are the part of ``tokens_in``
the provider's prompt cache read and wrote, ``provider_cache_savings`` what
those reads saved; ``savings`` counts every cause. They come last, so the
older columns keep their places, and after them the totals' second baseline
(``direct_baseline``: direct to the premium model with the clients' own
breakpoints), the causes ``coalescing_savings`` and ``batch_savings``,
``direct_savings`` and ``kept_off_llm`` (parse jobs at premium prices).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from grump.money.reports.model import BreakdownRow, CostReport, Totals

COLUMNS = (
    "tenant",
    "period",
    "period_start",
    "period_end",
    "section",
    "key",
    "day",
    "requests",
    "tokens",
    "tokens_in",
    "tokens_out",
    "cost",
    "baseline",
    "cache_savings",
    "routing_savings",
    "savings",
    "budget_period",
    "limit",
    "resets_at",
    "tokens_cache_read",
    "tokens_cache_write",
    "provider_cache_savings",
    "direct_baseline",
    "coalescing_savings",
    "batch_savings",
    "direct_savings",
    "kept_off_llm",
)

_Row = dict[str, str]


def _money(amount: Decimal) -> str:
    return format(amount, "f")


def _totals_row(key: str, totals: Totals) -> _Row:
    return {
        "section": "totals",
        "key": key,
        "requests": str(totals.requests),
        "tokens": str(totals.tokens),
        "tokens_in": str(totals.tokens_in),
        "tokens_out": str(totals.tokens_out),
        "cost": _money(totals.cost),
        "baseline": _money(totals.baseline),
        "cache_savings": _money(totals.cache_savings),
        "routing_savings": _money(totals.routing_savings),
        "savings": _money(totals.savings),
        "tokens_cache_read": str(totals.tokens_cache_read),
        "tokens_cache_write": str(totals.tokens_cache_write),
        "provider_cache_savings": _money(totals.provider_cache_savings),
        "direct_baseline": _money(totals.direct_baseline),
        "coalescing_savings": _money(totals.coalescing_savings),
        "batch_savings": _money(totals.batch_savings),
        "direct_savings": _money(totals.direct_savings),
        "kept_off_llm": _money(totals.kept_off_llm),
    }


def _breakdown_row(section: str, row: BreakdownRow) -> _Row:
    return {
        "section": section,
        "key": row.key,
        "requests": str(row.requests),
        "tokens": str(row.tokens),
        "cost": _money(row.cost),
        "savings": _money(row.savings),
        "tokens_cache_read": str(row.tokens_cache_read),
        "tokens_cache_write": str(row.tokens_cache_write),
        "provider_cache_savings": _money(row.provider_cache_savings),
    }


def _rows(report: CostReport) -> list[_Row]:
    rows = [_totals_row("current", report.totals)]
    if report.previous is not None:
        rows.append(_totals_row("previous", report.previous))
    for entry in sorted(report.daily, key=lambda e: (e.day, e.model)):
        rows.append(
            {
                "section": "daily",
                "key": entry.model,
                "day": entry.day.isoformat(),
                "cost": _money(entry.cost),
            }
        )
    for section, breakdown in report.breakdowns:
        rows.extend(_breakdown_row(section, row) for row in breakdown)
    for budget in report.budgets:
        rows.append(
            {
                "section": "budget",
                "key": budget.scope,
                "cost": _money(budget.spent),
                "budget_period": budget.period,
                "limit": _money(budget.limit),
                "resets_at": budget.resets_at.isoformat(),
            }
        )
    return rows


def render_csv(report: CostReport) -> str:
    """The report's figures as CSV text with a header row (``\\r\\n`` line ends, per RFC 4180)."""
    common = {
        "tenant": report.tenant,
        "period": str(report.period),
        "period_start": report.start.isoformat(),
        "period_end": report.end.isoformat(),
    }
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="")
    writer.writeheader()
    for row in _rows(report):
        writer.writerow({**common, **row})
    return out.getvalue()
