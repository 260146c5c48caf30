"""Cost reports: the report data, advice drawn from it, and three renderers.

Importing this package does not import matplotlib; ``render_html`` does, when
it first draws a chart.
"""

from grump.money.reports.csv import render_csv
from grump.money.reports.html import render_html
from grump.money.reports.markdown import render_markdown
from grump.money.reports.model import (
    BreakdownRow,
    BudgetHealth,
    BudgetStatusRow,
    CostReport,
    DailyModelCost,
    ReportPeriod,
    Totals,
)
from grump.money.reports.periods import last_complete, previous_bounds, report_bounds
from grump.money.reports.recommend import recommendations

__all__ = [
    "BreakdownRow",
    "BudgetHealth",
    "BudgetStatusRow",
    "CostReport",
    "DailyModelCost",
    "ReportPeriod",
    "Totals",
    "last_complete",
    "previous_bounds",
    "recommendations",
    "render_csv",
    "render_html",
    "render_markdown",
    "report_bounds",
]
