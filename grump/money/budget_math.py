"""Budget arithmetic: calendar periods in UTC, a budget's figures, its alert line and refusal.

Pure functions over ``Decimal`` and aware ``datetime`` values; the ledger and
the rest of ``grump.money`` do the I/O. A period is half-open: ``start <= t < end``, so
the instant of UTC midnight belongs to the period it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

DEFAULT_ALERT_THRESHOLD = Decimal("0.80")


class Period(StrEnum):
    """How long a budget's period lasts: a UTC calendar day or month."""

    DAILY = "daily"
    MONTHLY = "monthly"


def as_utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive datetime is refused, since its zone is a guess."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: pass an aware datetime (UTC)")
    return at.astimezone(UTC)


def _month_start(year: int, month: int) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def period_bounds(period: Period, at: datetime) -> tuple[datetime, datetime]:
    """The calendar period (UTC) holding ``at``, as ``(start, end)`` with ``end`` excluded."""
    at = as_utc(at)
    if period is Period.DAILY:
        start = datetime(at.year, at.month, at.day, tzinfo=UTC)
        return start, start + timedelta(days=1)
    return _month_start(at.year, at.month), _month_start(at.year, at.month + 1)


@dataclass(frozen=True)
class BudgetState:
    """One budget's figures for the current period."""

    limit: Decimal
    spent: Decimal
    reserved: Decimal
    alert_threshold: Decimal = DEFAULT_ALERT_THRESHOLD

    @property
    def used(self) -> Decimal:
        """Money settled plus money held for jobs still running."""
        return self.spent + self.reserved

    @property
    def available(self) -> Decimal:
        """What can still be reserved; never negative."""
        return max(Decimal(0), self.limit - self.used)


def alert_line(limit: Decimal, threshold: Decimal) -> Decimal:
    """The amount of use at which a budget alerts."""
    return limit * threshold


def _money(amount: Decimal) -> str:
    # Strings keep every digit through JSON; fixed-point so no client sees "1E-10".
    return format(amount, "f")


def exceeded_details(state: BudgetState, amount: Decimal, resets_at: datetime) -> dict[str, Any]:
    """The body fields of a 402 answer: what the budget holds and what was asked for."""
    return {
        "limit": _money(state.limit),
        "spent": _money(state.spent),
        "reserved": _money(state.reserved),
        "available": _money(state.available),
        "requested": _money(amount),
        "resets_at": as_utc(resets_at).isoformat(),
    }
