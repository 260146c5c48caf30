"""A budget's period rows: created on a period's first reservation, by whoever gets there first."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy.orm import Session

from grump.ledger.db import dialect_insert
from grump.ledger.money_models import BudgetPeriod
from grump.money.budget_math import Period, period_bounds


class BudgetTerms(Protocol):
    """What a period row copies from its budget: a :class:`Budget` or a row read of one."""

    id: int
    tenant: str
    user_id: str
    period: str
    limit_usd: Decimal
    alert_threshold: Decimal


def ensure_period(session: Session, budget: BudgetTerms, at: datetime) -> None:
    """Create the row of ``budget``'s period that holds ``at``, unless it exists (ON CONFLICT DO NOTHING)."""
    start, end = period_bounds(Period(budget.period), at)
    statement = dialect_insert(session, BudgetPeriod).values(
        budget_id=budget.id,
        tenant=budget.tenant,
        user_id=budget.user_id,
        period=budget.period,
        period_start=start,
        period_end=end,
        limit_usd=budget.limit_usd,
        alert_threshold=budget.alert_threshold,
        spent=Decimal(0),
        reserved=Decimal(0),
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["budget_id", "period_start"]))
