"""The data a cost report shows, independent of how it is rendered.

A ``CostReport`` is built from the ledger by whoever schedules reports; the
renderers (Markdown, HTML, CSV) only read it. Money is ``Decimal`` throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class ReportPeriod(StrEnum):
    """How long a report's period is: a UTC day, an ISO week or a calendar month."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Totals:
    """What a tenant spent in one period, against both baselines, and what each cause saved.

    ``baseline`` is the LLM and embedding work on the premium model uncached,
    ``direct_baseline`` the same sent direct with the clients' own breakpoints
    (``grump.money.baselines``). The causes (the exact cache, coalescing,
    routing, the provider's prompt cache, the batch discount) add up to
    ``savings`` against ``baseline``. ``kept_off_llm`` is apart: the premium
    model's price of the parse jobs. ``tokens_cache_read`` and
    ``tokens_cache_write`` are the part of ``tokens_in`` the provider's prompt
    cache read and wrote.
    """

    cost: Decimal
    baseline: Decimal
    cache_savings: Decimal
    routing_savings: Decimal
    requests: int
    tokens_in: int
    tokens_out: int
    tokens_cache_read: int = 0
    tokens_cache_write: int = 0
    provider_cache_savings: Decimal = Decimal(0)
    direct_baseline: Decimal = Decimal(0)
    coalescing_savings: Decimal = Decimal(0)
    batch_savings: Decimal = Decimal(0)
    kept_off_llm: Decimal = Decimal(0)

    @property
    def savings(self) -> Decimal:
        """LLM and embedding spend every cause avoided against the premium, uncached baseline."""
        saved = self.cache_savings + self.coalescing_savings + self.routing_savings
        return saved + self.provider_cache_savings + self.batch_savings

    @property
    def direct_savings(self) -> Decimal:
        """What was spent less than going direct with the clients' breakpoints (negative: more)."""
        return self.direct_baseline - self.cost

    @property
    def tokens(self) -> int:
        """Tokens in and out together."""
        return self.tokens_in + self.tokens_out

    @classmethod
    def zero(cls) -> Totals:
        """The totals of a period with no cost events."""
        return cls(Decimal(0), Decimal(0), Decimal(0), Decimal(0), 0, 0, 0)


@dataclass(frozen=True)
class BreakdownRow:
    """One line of a breakdown: a model, a job kind, a tier or a user.

    ``savings`` counts every cause, the provider's prompt cache included;
    ``provider_cache_savings`` is that cause's part of it.
    """

    key: str
    requests: int
    tokens: int
    cost: Decimal
    savings: Decimal
    tokens_cache_read: int = 0
    tokens_cache_write: int = 0
    provider_cache_savings: Decimal = Decimal(0)


@dataclass(frozen=True)
class DailyModelCost:
    """What one model cost on one UTC day."""

    day: date
    model: str
    cost: Decimal


class BudgetHealth(StrEnum):
    """Where a budget stands against its limit: fine, past its alert threshold, or exhausted."""

    OK = "ok"
    ALERT = "alert"
    EXCEEDED = "exceeded"


@dataclass(frozen=True)
class BudgetStatusRow:
    """A budget as it stood when the report was made."""

    scope: str  # "tenant" or "user:<id>"
    period: str  # "daily" or "monthly"
    limit: Decimal
    spent: Decimal
    resets_at: datetime
    alert_threshold: Decimal = Decimal("0.80")

    @property
    def used_fraction(self) -> Decimal:
        """The share of the limit spent; a zero limit counts as wholly used once anything is spent."""
        if self.limit <= 0:
            return Decimal(1) if self.spent > 0 else Decimal(0)
        return self.spent / self.limit

    @property
    def health(self) -> BudgetHealth:
        """``exceeded`` at or over the limit (nothing more can be reserved)."""
        used = self.used_fraction
        if used >= 1:
            return BudgetHealth.EXCEEDED
        if used >= self.alert_threshold:
            return BudgetHealth.ALERT
        return BudgetHealth.OK


@dataclass(frozen=True)
class CostReport:
    """One tenant's costs over one period, with the previous period for the trend."""

    tenant: str
    period: ReportPeriod
    start: datetime
    end: datetime  # excluded
    totals: Totals
    previous: Totals | None = None
    daily: Sequence[DailyModelCost] = ()
    by_model: Sequence[BreakdownRow] = ()
    by_kind: Sequence[BreakdownRow] = ()
    by_tier: Sequence[BreakdownRow] = ()
    top_users: Sequence[BreakdownRow] = ()
    budgets: Sequence[BudgetStatusRow] = ()
    recommendations: Sequence[str] = field(default_factory=list)
    generated_at: datetime | None = None

    @property
    def breakdowns(self) -> tuple[tuple[str, Sequence[BreakdownRow]], ...]:
        """Every breakdown with its title, in the order reports show them."""
        return (
            ("model", self.by_model),
            ("kind", self.by_kind),
            ("tier", self.by_tier),
            ("user", self.top_users),
        )

    def days(self) -> list[date]:
        """Every day of the daily series, in order."""
        return sorted({entry.day for entry in self.daily})

    def models(self) -> list[str]:
        """Models of the daily series, dearest first (the order of chart stacks and columns)."""
        totals: dict[str, Decimal] = {}
        for entry in self.daily:
            totals[entry.model] = totals.get(entry.model, Decimal(0)) + entry.cost
        return sorted(totals, key=lambda model: (-totals[model], model))

    def daily_table(self) -> dict[date, dict[str, Decimal]]:
        """The daily series as day -> model -> cost; a missing pair costs 0."""
        table = {day: dict.fromkeys(self.models(), Decimal(0)) for day in self.days()}
        for entry in self.daily:
            table[entry.day][entry.model] += entry.cost
        return table
