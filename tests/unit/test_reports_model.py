"""Report data, periods, number formatting and the advice drawn from a report."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from grump.money.reports import (
    BreakdownRow,
    BudgetHealth,
    BudgetStatusRow,
    DailyModelCost,
    ReportPeriod,
    Totals,
    last_complete,
    previous_bounds,
    recommendations,
    report_bounds,
)
from grump.money.reports.formatting import format_change, format_money, format_share
from tests.unit.test_reports import empty_report, seeded_report

RESET = datetime(2024, 4, 1, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# model


def test_totals_add_up_savings_and_tokens() -> None:
    totals = Totals(Decimal(1), Decimal(5), Decimal("1.5"), Decimal("2.25"), 3, 100, 20)
    assert totals.savings == Decimal("3.75")
    assert totals.tokens == 120


def test_daily_table_fills_missing_days_with_zero_and_orders_models_by_cost() -> None:
    report = replace(
        empty_report(),
        daily=[
            DailyModelCost(date(2024, 3, 1), "cheap", Decimal("0.5")),
            DailyModelCost(date(2024, 3, 2), "dear", Decimal("9")),
            DailyModelCost(date(2024, 3, 2), "cheap", Decimal("0.25")),
        ],
    )
    assert report.models() == ["dear", "cheap"]
    assert report.daily_table() == {
        date(2024, 3, 1): {"dear": Decimal(0), "cheap": Decimal("0.5")},
        date(2024, 3, 2): {"dear": Decimal(9), "cheap": Decimal("0.25")},
    }


@pytest.mark.parametrize(
    ("limit", "spent", "health"),
    [
        ("100", "79.99", BudgetHealth.OK),
        ("100", "80", BudgetHealth.ALERT),
        ("100", "99.99", BudgetHealth.ALERT),
        ("100", "100", BudgetHealth.EXCEEDED),
        ("100", "130", BudgetHealth.EXCEEDED),
        ("0", "0", BudgetHealth.OK),
        ("0", "0.01", BudgetHealth.EXCEEDED),
    ],
)
def test_budget_health_follows_the_alert_threshold_and_the_limit(
    limit: str, spent: str, health: BudgetHealth
) -> None:
    row = BudgetStatusRow("tenant", "monthly", Decimal(limit), Decimal(spent), RESET)
    assert row.health is health


# periods


@pytest.mark.parametrize(
    ("kind", "at", "bounds"),
    [
        (ReportPeriod.DAY, utc(2024, 3, 13, 15), (utc(2024, 3, 13), utc(2024, 3, 14))),
        (ReportPeriod.WEEK, utc(2024, 3, 13, 15), (utc(2024, 3, 11), utc(2024, 3, 18))),
        (ReportPeriod.WEEK, utc(2024, 3, 11), (utc(2024, 3, 11), utc(2024, 3, 18))),  # Monday
        (ReportPeriod.WEEK, utc(2024, 3, 17, 23), (utc(2024, 3, 11), utc(2024, 3, 18))),  # Sun
        (ReportPeriod.WEEK, utc(2025, 1, 1), (utc(2024, 12, 30), utc(2025, 1, 6))),  # over NY
        (ReportPeriod.MONTH, utc(2024, 2, 29, 12), (utc(2024, 2, 1), utc(2024, 3, 1))),
    ],
)
def test_report_periods_are_utc_calendar_periods(
    kind: ReportPeriod, at: datetime, bounds: tuple[datetime, datetime]
) -> None:
    assert report_bounds(kind, at) == bounds


def test_previous_and_last_complete_periods() -> None:
    assert previous_bounds(ReportPeriod.MONTH, utc(2024, 1, 1)) == (
        utc(2023, 12, 1),
        utc(2024, 1, 1),
    )
    assert previous_bounds(ReportPeriod.WEEK, utc(2024, 3, 11)) == (
        utc(2024, 3, 4),
        utc(2024, 3, 11),
    )
    # A report sent at 06:00 on 1 April covers March; one sent on Monday covers last week.
    assert last_complete(ReportPeriod.MONTH, utc(2024, 4, 1, 6)) == (
        utc(2024, 3, 1),
        utc(2024, 4, 1),
    )
    assert last_complete(ReportPeriod.WEEK, utc(2024, 3, 18, 6)) == (
        utc(2024, 3, 11),
        utc(2024, 3, 18),
    )
    assert last_complete(ReportPeriod.DAY, utc(2024, 3, 1, 0)) == (
        utc(2024, 2, 29),
        utc(2024, 3, 1),
    )


def test_report_periods_convert_other_zones_and_refuse_naive_times() -> None:
    tokyo = datetime(2024, 3, 18, 8, tzinfo=timezone(timedelta(hours=9)))  # Sunday 23:00 UTC
    assert report_bounds(ReportPeriod.WEEK, tokyo) == (utc(2024, 3, 11), utc(2024, 3, 18))
    with pytest.raises(ValueError):
        report_bounds(ReportPeriod.DAY, datetime(2024, 3, 18))


# formatting


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("1234.56785", "$1,234.5678"),  # half-even: ...67|85 -> ...678
        ("1234.56775", "$1,234.5678"),  # half-even: ...67|75 -> ...678
        ("0.12344999", "$0.1234"),
        ("1000000", "$1,000,000.0000"),
        ("0", "$0.0000"),
        ("0.00004", "<$0.0001"),
        ("1E-10", "<$0.0001"),
        ("-12.5", "-$12.5000"),
    ],
)
def test_money_is_printed_from_the_decimal(amount: str, text: str) -> None:
    assert format_money(Decimal(amount)) == text


def test_money_formatting_does_not_go_through_float() -> None:
    # 0.1 + 0.2 in float is 0.30000000000000004; in Decimal it is exactly 0.3.
    big = Decimal("12345678901234.56785")
    assert format_money(big) == "$12,345,678,901,234.5678"
    assert format_money(Decimal("0.1") + Decimal("0.2")) == "$0.3000"


@pytest.mark.parametrize(
    ("current", "previous", "text"),
    [
        ("120", "100", "+20.0%"),
        ("75", "100", "-25.0%"),
        ("100", "100", "no change"),
        ("5", "0", "new"),
        ("0", "0", "no change"),
        ("5", None, "-"),
    ],
)
def test_change_against_the_previous_period(current: str, previous: str | None, text: str) -> None:
    before = None if previous is None else Decimal(previous)
    assert format_change(Decimal(current), before) == text


def test_shares_round_to_a_tenth_and_never_hide_a_small_part() -> None:
    assert format_share(Decimal(1), Decimal(3)) == "33.3%"
    assert format_share(Decimal("0.0001"), Decimal(1000)) == "<0.1%"
    assert format_share(Decimal(0), Decimal(10)) == "0.0%"
    assert format_share(Decimal(1), Decimal(0)) == "-"


# recommendations


def test_the_seeded_report_gets_budget_spend_and_user_advice() -> None:
    report = seeded_report()
    assert report.previous is not None
    advice = recommendations(replace(report, previous=replace(report.previous, cost=Decimal(900))))
    joined = "\n".join(advice)
    assert "The tenant's monthly budget is at 82.3%" in joined
    assert "daily budget of user:alice@acme.test is used up" in joined
    assert "HTTP 402" in joined
    assert "Spend is up 37.2% on the previous month; claude-sonnet-4-5 cost" in joined
    assert "Premium models took 73.0% of spend" in joined
    assert "User alice@acme.test accounts for 56.7%" in joined
    assert advice.index(next(a for a in advice if "used up" in a)) < advice.index(
        next(a for a in advice if "Spend is up" in a)
    )


def test_spend_up_by_a_quarter_or_less_is_not_advice() -> None:
    assert not any("Spend is up" in a for a in recommendations(seeded_report()))  # +23.5%


def test_a_healthy_report_gets_no_advice() -> None:
    report = replace(
        seeded_report(),
        previous=replace(seeded_report().totals, cost=Decimal("1200")),
        by_tier=[BreakdownRow("premium", 1, 1, Decimal("100"), Decimal(0))],
        top_users=[BreakdownRow("alice", 1, 1, Decimal("100"), Decimal(0))],
        budgets=[BudgetStatusRow("tenant", "monthly", Decimal(10_000), Decimal(1234), RESET)],
    )
    assert recommendations(report) == []


def test_no_budget_is_worth_saying_only_when_money_was_spent() -> None:
    spent = replace(seeded_report(), budgets=[])
    assert any("No budget is set" in a for a in recommendations(spent))
    assert recommendations(empty_report()) == []


def test_a_cache_that_saves_almost_nothing_is_pointed_out() -> None:
    totals = replace(seeded_report().totals, cache_savings=Decimal("10"))  # 0.3% of baseline
    advice = recommendations(replace(seeded_report(), totals=totals))
    assert any("The cache saved 0.3% of baseline" in a for a in advice)
    few = replace(totals, requests=10)
    assert not any("cache" in a for a in recommendations(replace(seeded_report(), totals=few)))
