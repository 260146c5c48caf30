"""Budget alert records: one per budget period and threshold, ever.

``record_crossings`` inserts a row for each threshold a current period has
reached; the unique (period, threshold) key makes a second insert a no-op, so
concurrent or repeated checks alert once. ``notified_at`` stays empty until the
alert was delivered, so a failed webhook is retried within the period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from grump.ledger.models import BudgetAlert, BudgetPeriod
from grump.money.budget_math import alert_line
from grump.money.budgets import dialect_insert


@dataclass(frozen=True)
class PendingAlert:
    id: int
    tenant: str
    user: str | None
    period: str
    threshold: Decimal
    spent: Decimal
    limit: Decimal
    resets_at: datetime


def _current_periods(session: Session, now: datetime) -> list[BudgetPeriod]:
    query = select(BudgetPeriod).where(
        BudgetPeriod.period_start <= now, BudgetPeriod.period_end > now
    )
    return list(session.scalars(query.order_by(BudgetPeriod.id)))


def _insert_alert(session: Session, row: BudgetPeriod, threshold: Decimal, now: datetime) -> bool:
    statement = (
        dialect_insert(session, BudgetAlert)
        .values(
            period_id=row.id,
            threshold=threshold,
            spent=row.spent,
            limit_usd=row.limit_usd,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["period_id", "threshold"])
        .returning(BudgetAlert.id)
    )
    return session.execute(statement).first() is not None


def record_crossings(
    session: Session, now: datetime, extra_thresholds: Sequence[Decimal] = ()
) -> list[PendingAlert]:
    """Alerts for thresholds reached by settled spending, recorded once; the new ones."""
    new: list[PendingAlert] = []
    for row in _current_periods(session, now):
        for threshold in sorted({row.alert_threshold, *extra_thresholds}):
            if row.spent < alert_line(row.limit_usd, threshold):
                continue
            if _insert_alert(session, row, threshold, now):
                new.append(_pending(0, row, threshold))
    return new


def _pending(alert_id: int, row: BudgetPeriod, threshold: Decimal) -> PendingAlert:
    return PendingAlert(
        id=alert_id,
        tenant=row.tenant,
        user=row.user_id or None,
        period=row.period,
        threshold=threshold,
        spent=row.spent,
        limit=row.limit_usd,
        resets_at=row.period_end,
    )


def pending(session: Session, now: datetime) -> list[PendingAlert]:
    """Alerts not yet delivered whose period is still running."""
    query = (
        select(BudgetAlert, BudgetPeriod)
        .join(BudgetPeriod, BudgetPeriod.id == BudgetAlert.period_id)
        .where(BudgetAlert.notified_at.is_(None), BudgetPeriod.period_end > now)
        .order_by(BudgetAlert.id)
    )
    found: list[PendingAlert] = []
    for alert, row in session.execute(query):
        # The figures as they were when the threshold was crossed, not as they are now.
        item = _pending(alert.id, row, alert.threshold)
        found.append(replace(item, spent=alert.spent, limit=alert.limit_usd))
    return found


def mark_delivered(session: Session, alert_ids: Sequence[int], at: datetime) -> None:
    session.execute(update(BudgetAlert).where(BudgetAlert.id.in_(alert_ids)).values(notified_at=at))
