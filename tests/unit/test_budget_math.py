"""Budget periods, a budget's figures and the fields of a refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grump.money.budget_math import (
    BudgetState,
    Period,
    exceeded_details,
    period_bounds,
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# period_bounds


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (utc(2024, 3, 15, 13, 45), utc(2024, 3, 15), utc(2024, 3, 16)),
        (utc(2024, 3, 15), utc(2024, 3, 15), utc(2024, 3, 16)),  # midnight opens the day
        (utc(2024, 3, 15, 23, 59, 59, 999999), utc(2024, 3, 15), utc(2024, 3, 16)),
        (utc(2024, 1, 31, 12), utc(2024, 1, 31), utc(2024, 2, 1)),  # month end
        (utc(2024, 2, 28, 12), utc(2024, 2, 28), utc(2024, 2, 29)),  # leap year
        (utc(2023, 2, 28, 12), utc(2023, 2, 28), utc(2023, 3, 1)),  # common year
        (utc(2024, 12, 31, 23, 30), utc(2024, 12, 31), utc(2025, 1, 1)),  # year end
    ],
)
def test_daily_periods_are_utc_calendar_days(at: datetime, start: datetime, end: datetime) -> None:
    assert period_bounds(Period.DAILY, at) == (start, end)


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (utc(2024, 3, 15, 13, 45), utc(2024, 3, 1), utc(2024, 4, 1)),
        (utc(2024, 3, 1), utc(2024, 3, 1), utc(2024, 4, 1)),  # first instant of the month
        (utc(2024, 3, 31, 23, 59, 59), utc(2024, 3, 1), utc(2024, 4, 1)),  # the 31st
        (utc(2024, 4, 30, 22), utc(2024, 4, 1), utc(2024, 5, 1)),  # a 30-day month
        (utc(2024, 2, 29, 8), utc(2024, 2, 1), utc(2024, 3, 1)),  # leap day
        (utc(2023, 2, 28, 8), utc(2023, 2, 1), utc(2023, 3, 1)),
        (utc(2024, 12, 31, 23, 59), utc(2024, 12, 1), utc(2025, 1, 1)),  # December -> January
        (utc(2025, 1, 1), utc(2025, 1, 1), utc(2025, 2, 1)),
    ],
)
def test_monthly_periods_are_utc_calendar_months(
    at: datetime, start: datetime, end: datetime
) -> None:
    assert period_bounds(Period.MONTHLY, at) == (start, end)


def test_rollover_at_utc_midnight_moves_to_the_next_period() -> None:
    last_instant = utc(2024, 1, 31, 23, 59, 59, 999999)
    first_instant = utc(2024, 2, 1)
    for period in Period:
        before, after = period_bounds(period, last_instant), period_bounds(period, first_instant)
        assert before[1] == after[0] == first_instant


def test_other_time_zones_are_converted_to_utc() -> None:
    # 01:30 on 1 March in UTC+02:00 is still 29 February in UTC.
    plus_two = datetime(2024, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert period_bounds(Period.DAILY, plus_two) == (utc(2024, 2, 29), utc(2024, 3, 1))
    assert period_bounds(Period.MONTHLY, plus_two) == (utc(2024, 2, 1), utc(2024, 3, 1))


@pytest.mark.parametrize("period", list(Period))
def test_naive_datetimes_are_rejected(period: Period) -> None:
    with pytest.raises(ValueError, match="naive"):
        period_bounds(period, datetime(2024, 3, 15, 12))


@given(
    at=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 1), timezones=st.just(UTC)
    ),
    period=st.sampled_from(list(Period)),
)
def test_every_instant_lies_in_its_period_and_periods_tile(at: datetime, period: Period) -> None:
    start, end = period_bounds(period, at)
    assert start <= at < end
    assert start.tzinfo is UTC and (start.hour, start.minute, start.second) == (0, 0, 0)
    assert period_bounds(period, end)[0] == end  # the next period starts where this one ends
    assert period_bounds(period, start - timedelta(microseconds=1))[1] == start
    if period is Period.MONTHLY:
        assert start.day == 1 and end.day == 1


def test_state_reports_used_and_available() -> None:
    state = BudgetState(limit=Decimal("10"), spent=Decimal("7.5"), reserved=Decimal("1.25"))
    assert state.used == Decimal("8.75")
    assert state.available == Decimal("1.25")
    over = BudgetState(limit=Decimal("10"), spent=Decimal("11"), reserved=Decimal(0))
    assert over.available == 0
    assert state.alert_threshold == Decimal("0.80")


# exceeded_details


def test_exceeded_details_carry_the_402_body_fields_exactly() -> None:
    state = BudgetState(limit=Decimal("25.00"), spent=Decimal("24.1"), reserved=Decimal("0.75"))
    resets = datetime(2024, 7, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    details = exceeded_details(state, Decimal("0.0000000001"), resets)
    assert details == {
        "limit": "25.00",
        "spent": "24.1",
        "reserved": "0.75",
        "available": "0.15",
        "requested": "0.0000000001",
        "resets_at": "2024-07-01T00:00:00+00:00",
    }
    assert Decimal(details["requested"]) == Decimal("1e-10")


def test_exceeded_details_reject_a_naive_reset_time() -> None:
    state = BudgetState(limit=Decimal(1), spent=Decimal(1), reserved=Decimal(0))
    with pytest.raises(ValueError):
        exceeded_details(state, Decimal(1), datetime(2024, 7, 1))
