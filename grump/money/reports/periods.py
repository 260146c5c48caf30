"""Calendar periods of cost reports (UTC): a day, an ISO week, a month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from grump.money.budget_math import Period, as_utc, period_bounds
from grump.money.reports.model import ReportPeriod


def report_bounds(kind: ReportPeriod, at: datetime) -> tuple[datetime, datetime]:
    """The period of ``kind`` holding ``at``, as ``(start, end)`` with ``end`` excluded.

    Weeks are ISO weeks: Monday 00:00 UTC to the next Monday.
    """
    at = as_utc(at)
    if kind is ReportPeriod.DAY:
        return period_bounds(Period.DAILY, at)
    if kind is ReportPeriod.MONTH:
        return period_bounds(Period.MONTHLY, at)
    monday = datetime(at.year, at.month, at.day, tzinfo=UTC) - timedelta(days=at.weekday())
    return monday, monday + timedelta(days=7)


def previous_bounds(kind: ReportPeriod, start: datetime) -> tuple[datetime, datetime]:
    """The period of ``kind`` just before the one starting at ``start``."""
    return report_bounds(kind, as_utc(start) - timedelta(microseconds=1))


def last_complete(kind: ReportPeriod, now: datetime) -> tuple[datetime, datetime]:
    """The latest period of ``kind`` fully over by ``now``: what a scheduled report covers."""
    return previous_bounds(kind, report_bounds(kind, now)[0])
