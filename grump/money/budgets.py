"""Budget rows: define, reserve, and read their state (settling and releasing: ``holds``).

Each budget has one counter row per calendar period (``budget_periods``),
created on first use. A reservation is ONE conditional UPDATE per counter row::

    UPDATE budget_periods SET reserved = reserved + :amount
    WHERE budget_id = :b AND period_start = :start
      AND spent + reserved + :amount <= limit_usd

and no row changed means refused. What a job holds on which row is written to
``budget_holds``, so a job settles (or is released) on the period it reserved
in, even after midnight. Rows are always locked in budget-id order, by submits
and by settlements alike, so two transactions never wait on each other in a
cycle.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, and_, delete, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from grump.errors import BudgetExceeded, NotFound
from grump.ledger.money_models import (
    NO_KEY,
    TENANT_WIDE,
    Budget,
    BudgetAlert,
    BudgetHold,
    BudgetPeriod,
)
from grump.ledger.money_units import to_units
from grump.money.budget_math import BudgetState, Period, exceeded_details, period_bounds
from grump.money.periods import ensure_period


@dataclass(frozen=True)
class BudgetStatus:
    """A budget and its counters in the period holding a given instant."""

    budget_id: int
    tenant: str
    user: str | None
    period: Period
    start: datetime
    end: datetime
    limit: Decimal
    spent: Decimal
    reserved: Decimal
    alert_threshold: Decimal
    key: int | None = None  # the key lineage of a key's budget

    @property
    def scope(self) -> str:
        """Whom the budget covers, as messages and reports name it: ``tenant``, ``user:<id>`` or ``key:<id>``."""
        if self.key is not None:
            return f"key:{self.key}"
        return "tenant" if self.user is None else f"user:{self.user}"

    @property
    def state(self) -> BudgetState:
        """The budget's figures as ``budget_math`` works on them."""
        return BudgetState(self.limit, self.spent, self.reserved, self.alert_threshold)


@dataclass(frozen=True)
class Hold:
    """What one job holds on one budget's period counter."""

    period_id: int
    budget_id: int
    amount: Decimal


def _user_key(user: str | None) -> str:
    return TENANT_WIDE if user is None else user


def _key_id(key: int | None) -> int:
    return NO_KEY if key is None else key


def applicable(
    session: Session, tenant: str, user: str | None, key: int | None = None
) -> list[Budget]:
    """The tenant's budgets, the user's and the key's when there are, in lock order (by id)."""
    users = [TENANT_WIDE] if user is None else [TENANT_WIDE, user]
    scopes = and_(Budget.user_id.in_(users), Budget.key_id == NO_KEY)
    if key is not None:
        scopes = or_(scopes, and_(Budget.user_id == TENANT_WIDE, Budget.key_id == key))
    query = select(Budget).where(Budget.tenant == tenant, scopes)
    return list(session.scalars(query.order_by(Budget.id)))


def _period_row(session: Session, budget_id: int, start: datetime) -> BudgetPeriod | None:
    query = select(BudgetPeriod).where(
        BudgetPeriod.budget_id == budget_id, BudgetPeriod.period_start == start
    )
    return session.scalars(query.execution_options(populate_existing=True)).first()


def _try_reserve(session: Session, budget_id: int, start: datetime, units: int) -> int | None:
    amount = literal(units, BigInteger)
    statement = (
        update(BudgetPeriod)
        .where(
            BudgetPeriod.budget_id == budget_id,
            BudgetPeriod.period_start == start,
            BudgetPeriod.spent + BudgetPeriod.reserved + amount <= BudgetPeriod.limit_usd,
        )
        .values(reserved=BudgetPeriod.reserved + amount)
        .returning(BudgetPeriod.id)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).scalar_one_or_none()


def _status(budget: Budget, row: BudgetPeriod | None, at: datetime) -> BudgetStatus:
    period = Period(budget.period)
    start, end = period_bounds(period, at)
    return BudgetStatus(
        budget_id=budget.id,
        tenant=budget.tenant,
        user=budget.user_id or None,
        period=period,
        start=start,
        end=end,
        limit=row.limit_usd if row else budget.limit_usd,
        spent=row.spent if row else Decimal(0),
        reserved=row.reserved if row else Decimal(0),
        alert_threshold=budget.alert_threshold,
        key=budget.key_id or None,
    )


def _refusal(status: BudgetStatus, amount: Decimal) -> BudgetExceeded:
    details = exceeded_details(status.state, amount, status.end)
    return BudgetExceeded(
        f"the {status.period.value} budget of {status.scope} has {details['available']} USD"
        f" left; this job may cost up to {details['requested']} USD",
        scope=status.scope,
        period=status.period.value,
        **details,
    )


def reserve(
    session: Session,
    job_id: uuid.UUID,
    tenant: str,
    user: str | None,
    amount: Decimal,
    at: datetime,
    key: int | None = None,
) -> list[Hold]:
    """Hold ``amount`` on every budget of the job, or raise ``BudgetExceeded``.

    Call it last in the submit transaction (after the job row is written): the
    row locks it takes are then held only until the commit. A refusal raises,
    so the caller's rollback undoes the holds already taken on other rows.
    """
    if amount <= 0:
        return []
    units = to_units(amount)
    holds: list[Hold] = []
    for budget in applicable(session, tenant, user, key):
        start, _ = period_bounds(Period(budget.period), at)
        period_id = _try_reserve(session, budget.id, start, units)
        if period_id is None:
            if _period_row(session, budget.id, start) is None:
                ensure_period(session, budget, at)  # first job of the period
            # Again even when the row was there: a concurrent first job may have made it
            # between the two statements.
            period_id = _try_reserve(session, budget.id, start, units)
        if period_id is None:
            raise _refusal(_status(budget, _period_row(session, budget.id, start), at), amount)
        holds.append(Hold(period_id, budget.id, amount))
    if holds:
        session.execute(
            insert(BudgetHold),
            [
                {
                    "job_id": job_id,
                    "period_id": h.period_id,
                    "budget_id": h.budget_id,
                    "amount": h.amount,
                }
                for h in holds
            ],
        )
    return holds


def budget_left(
    session: Session, tenant: str, user: str | None, at: datetime, key: int | None = None
) -> Decimal | None:
    """The least any of the job's budgets can still hold; None when none applies."""
    statuses = statuses_for(session, applicable(session, tenant, user, key), at)
    if not statuses:
        return None
    return min(s.state.available for s in statuses)


def statuses_for(session: Session, budgets: list[Budget], at: datetime) -> list[BudgetStatus]:
    """Each budget's counters in the period holding ``at`` (zero before its first job)."""
    if not budgets:
        return []
    starts = {b.id: period_bounds(Period(b.period), at)[0] for b in budgets}
    rows = session.scalars(
        select(BudgetPeriod).where(
            BudgetPeriod.budget_id.in_(starts),
            BudgetPeriod.period_start.in_(set(starts.values())),
        )
    )
    current = {r.budget_id: r for r in rows if starts.get(r.budget_id) == r.period_start}
    return [_status(b, current.get(b.id), at) for b in budgets]


def tenant_statuses(session: Session, tenant: str, at: datetime) -> list[BudgetStatus]:
    """Every budget of a tenant with its counters in the period holding ``at``, for reports."""
    query = select(Budget).where(Budget.tenant == tenant)
    order = (Budget.key_id, Budget.user_id, Budget.period)
    budgets = list(session.scalars(query.order_by(*order)))
    return statuses_for(session, budgets, at)


def set_budget(
    session: Session,
    tenant: str,
    user: str | None,
    period: Period,
    limit: Decimal,
    alert_threshold: Decimal,
    at: datetime,
    key: int | None = None,
) -> Budget:
    """Create or change a budget (a key's, with ``key``); it applies to the current period at once."""
    budget = _find(session, tenant, user, period, key)
    if budget is None:
        budget = Budget(
            tenant=tenant,
            user_id=_user_key(user),
            key_id=_key_id(key),
            period=period.value,
            created_at=at,
        )
        session.add(budget)
    budget.limit_usd = limit
    budget.alert_threshold = alert_threshold
    budget.updated_at = at
    session.flush()
    session.execute(
        update(BudgetPeriod)
        .where(BudgetPeriod.budget_id == budget.id, BudgetPeriod.period_end > at)
        .values(limit_usd=limit, alert_threshold=alert_threshold)
        .execution_options(synchronize_session=False)
    )
    return budget


def _find(
    session: Session, tenant: str, user: str | None, period: Period, key: int | None
) -> Budget | None:
    query = select(Budget).where(
        Budget.tenant == tenant,
        Budget.user_id == _user_key(user),
        Budget.key_id == _key_id(key),
        Budget.period == period.value,
    )
    return session.scalars(query).first()


def delete_budget(
    session: Session, tenant: str, user: str | None, period: Period, key: int | None = None
) -> None:
    """Remove a budget with its history; jobs holding money on it settle against nothing."""
    budget = _find(session, tenant, user, period, key)
    if budget is None:
        whom = f" user {user}" if user else (f" key {key}" if key is not None else "")
        raise NotFound(f"no {period.value} budget for {tenant}{whom}")
    periods = select(BudgetPeriod.id).where(BudgetPeriod.budget_id == budget.id)
    session.execute(delete(BudgetHold).where(BudgetHold.period_id.in_(periods)))
    session.execute(delete(BudgetAlert).where(BudgetAlert.period_id.in_(periods)))
    session.execute(delete(BudgetPeriod).where(BudgetPeriod.budget_id == budget.id))
    session.delete(budget)
