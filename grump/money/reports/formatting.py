"""How reports print money, counts, shares and changes: Decimal all the way."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from grump.money.reports.model import CostReport, ReportPeriod

MONEY_PLACES = Decimal("0.0001")  # LLM calls cost fractions of a cent: cents would show $0.00
_SMALLEST = f"${MONEY_PLACES}"


def format_money(amount: Decimal) -> str:
    """``$1,234.5678``; a cost too small to show is ``<$0.0001``, never ``$0.0000``."""
    shown = amount.quantize(MONEY_PLACES, rounding=ROUND_HALF_EVEN)
    if shown == 0 and amount != 0:
        return f"<{_SMALLEST}" if amount > 0 else f"-<{_SMALLEST}"
    sign = "-" if shown < 0 else ""
    return f"{sign}${abs(shown):,}"


def format_count(count: int) -> str:
    """A count with thousands separators: ``12,345``."""
    return f"{count:,}"


def format_share(part: Decimal, whole: Decimal) -> str:
    """``part`` as a percentage of ``whole``, one decimal; ``-`` when ``whole`` is 0."""
    if whole == 0:
        return "-"
    percent = (part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    if percent == 0 and part != 0:
        return "<0.1%" if part * whole > 0 else ">-0.1%"
    return f"{percent}%"


def format_change(current: Decimal, previous: Decimal | None) -> str:
    """The change from ``previous`` to ``current`` as a signed percentage."""
    if previous is None:
        return "-"
    if previous == 0:
        return "new" if current > 0 else "no change"
    percent = ((current - previous) * 100 / previous).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_EVEN
    )
    if percent == 0:
        return "no change"
    return f"+{percent}%" if percent > 0 else f"{percent}%"


def format_time(at: datetime) -> str:
    """``2024-03-15 14:00 UTC``, the instant taken as already in UTC."""
    return at.strftime("%Y-%m-%d %H:%M UTC")


def period_label(report: CostReport) -> str:
    """``2024-03-15``, ``week of 2024-03-11``, ``March 2024``, or the raw range."""
    start, last_day = report.start, report.end - timedelta(microseconds=1)
    if report.period is ReportPeriod.MONTH:
        return start.strftime("%B %Y")
    if report.period is ReportPeriod.WEEK:
        return f"week of {start:%Y-%m-%d} (ISO week {start.isocalendar().week})"
    if start.date() == last_day.date():
        return f"{start:%Y-%m-%d}"
    return f"{start:%Y-%m-%d} to {last_day:%Y-%m-%d}"
