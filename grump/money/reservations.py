"""Budget reservations for a group of submits, in the group's one transaction.

``grump.money.budgets.reserve`` holds one job's amount with one conditional
UPDATE per counter row. A group does the same arithmetic for all its jobs at
once: it locks every counter row the group touches (``SELECT … FOR UPDATE``, in
budget-id order, the order everyone locks them in), decides job by job in the
order the jobs arrived, exactly as one-at-a-time submits would, and writes one
guarded UPDATE per row and one INSERT of all the holds. A job that does not fit
is refused alone, with the same 402 details ``reserve`` gives; the others keep
their holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, insert, literal, select, tuple_, update
from sqlalchemy.orm import Session

from grump.errors import BudgetExceeded
from grump.ledger.money_models import (
    BUDGETS,
    HOLDS,
    NO_KEY,
    PERIODS,
    TENANT_WIDE,
)
from grump.ledger.money_units import from_units, to_units
from grump.money.budget_math import Period, period_bounds
from grump.money.budgets import BudgetStatus, _refusal
from grump.money.periods import ensure_period


@dataclass(frozen=True)
class Ask:
    """One job's reservation: the most it may cost, on the budgets of its tenant, user and key."""

    job_id: uuid.UUID
    tenant: str
    user: str | None
    key: int | None
    amount: Decimal
    at: datetime


@dataclass
class _Counter:
    """One locked counter row, in units, with what this group has taken from it so far."""

    id: int
    limit: int
    spent: int
    reserved: int
    taken: int = 0

    def fits(self, units: int) -> bool:
        return self.spent + self.reserved + self.taken + units <= self.limit


def _covers(budget: Any, user: str | None, key: int | None) -> bool:
    """``budgets.applicable``'s scopes: the tenant's, the user's, the key's."""
    if budget.key_id == NO_KEY:
        return budget.user_id in (TENANT_WIDE, user)
    return key is not None and budget.user_id == TENANT_WIDE and budget.key_id == key


def _start(budget: Any, at: datetime) -> datetime:
    return period_bounds(Period(budget.period), at)[0]


def _lock_counters(
    session: Session, wanted: dict[tuple[int, datetime], Any]
) -> dict[tuple[int, datetime], _Counter]:
    """Lock the counter rows of (budget, period start), making those missing first."""
    for attempt in range(2):
        query = (
            select(PERIODS.c.id, PERIODS.c.budget_id, PERIODS.c.period_start)
            .add_columns(PERIODS.c.limit_usd, PERIODS.c.spent, PERIODS.c.reserved)
            .where(tuple_(PERIODS.c.budget_id, PERIODS.c.period_start).in_(list(wanted)))
            .order_by(PERIODS.c.budget_id, PERIODS.c.period_start)
            .with_for_update()
        )
        found = {
            (r.budget_id, r.period_start): _Counter(
                r.id, to_units(r.limit_usd), to_units(r.spent), to_units(r.reserved)
            )
            for r in session.execute(query)
        }
        missing = [k for k in wanted if k not in found]
        if not missing or attempt:
            return found
        for budget_id, start in missing:  # the first job of a period
            ensure_period(session, wanted[(budget_id, start)], start)
    raise AssertionError("unreachable")


def _refused(budget: Any, counter: _Counter, ask: Ask) -> BudgetExceeded:
    start, end = period_bounds(Period(budget.period), ask.at)
    status = BudgetStatus(
        budget_id=budget.id,
        tenant=budget.tenant,
        user=budget.user_id or None,
        period=Period(budget.period),
        start=start,
        end=end,
        limit=from_units(counter.limit),
        spent=from_units(counter.spent),
        reserved=from_units(counter.reserved + counter.taken),
        alert_threshold=budget.alert_threshold,
        key=budget.key_id or None,
    )
    return _refusal(status, ask.amount)


# Whose budgets a submit is routed against: (tenant, user, API key).
Scope = tuple[str, str | None, int | None]


def money_left(
    session: Session, tenant: str, user: str | None, key: int | None, at: datetime
) -> Decimal | None:
    """``budgets.budget_left`` in two Core reads: the least any of the job's budgets can
    still hold (a budget with no row for the period yet holds its whole limit); None
    when none applies."""
    return money_left_many(session, [(tenant, user, key)], at)[(tenant, user, key)]


def money_left_many(
    session: Session, scopes: Sequence[Scope], at: datetime
) -> dict[Scope, Decimal | None]:
    """``money_left`` of each of ``scopes``, in the same two Core reads for all of them."""
    tenants = sorted({tenant for tenant, _, _ in scopes})
    every = list(session.execute(select(BUDGETS).where(BUDGETS.c.tenant.in_(tenants))))
    covering = {
        scope: [b for b in every if b.tenant == scope[0] and _covers(b, scope[1], scope[2])]
        for scope in scopes
    }
    starts = {(b.id, _start(b, at)): b for budgets in covering.values() for b in budgets}
    left: dict[tuple[int, datetime], Decimal] = {k: b.limit_usd for k, b in starts.items()}
    if starts:
        rows = session.execute(
            select(PERIODS.c.budget_id, PERIODS.c.period_start)
            .add_columns(PERIODS.c.limit_usd, PERIODS.c.spent, PERIODS.c.reserved)
            .where(tuple_(PERIODS.c.budget_id, PERIODS.c.period_start).in_(list(starts)))
        )
        for r in rows:
            left[(r.budget_id, r.period_start)] = r.limit_usd - r.spent - r.reserved
    return {
        scope: max(Decimal(0), min(left[(b.id, _start(b, at))] for b in budgets))
        if budgets
        else None
        for scope, budgets in covering.items()
    }


def reserve_group(session: Session, asks: Sequence[Ask]) -> list[BudgetExceeded | None]:
    """Hold each job's amount on all its budgets, or refuse that job alone (None: held).

    Call it last in the group's transaction, after the job rows are written,
    as ``budgets.reserve`` is: the counter rows stay locked only until the commit.
    """
    answers: list[BudgetExceeded | None] = [None] * len(asks)
    asking = [i for i, ask in enumerate(asks) if ask.amount > 0]
    if not asking:
        return answers
    tenants = {asks[i].tenant for i in asking}
    every = list(session.execute(select(BUDGETS).where(BUDGETS.c.tenant.in_(tenants))))
    every.sort(key=lambda b: b.id)  # lock order
    scopes = {
        i: [
            b for b in every if b.tenant == asks[i].tenant and _covers(b, asks[i].user, asks[i].key)
        ]
        for i in asking
    }
    wanted = {(b.id, _start(b, asks[i].at)): b for i in asking for b in scopes[i]}
    if not wanted:
        return answers
    counters = _lock_counters(session, wanted)
    held: list[dict[str, Any]] = []
    for i in asking:
        ask, units = asks[i], to_units(asks[i].amount)
        mine = [(b, counters[(b.id, _start(b, ask.at))]) for b in scopes[i]]
        short = next(((b, c) for b, c in mine if not c.fits(units)), None)
        if short is not None:
            answers[i] = _refused(short[0], short[1], ask)
            continue
        for budget, counter in mine:
            counter.taken += units
            held.append(
                {"job_id": ask.job_id, "period_id": counter.id, "budget_id": budget.id}
                | {"amount": ask.amount}
            )
    _take(session, sorted(counters.values(), key=lambda c: c.id))
    if held:
        session.execute(insert(HOLDS).values(held))
    return answers


def _take(session: Session, counters: list[_Counter]) -> None:
    """One guarded UPDATE per counter row the group took from: exact under the row lock."""
    for counter in counters:
        if not counter.taken:
            continue
        units = literal(counter.taken, BigInteger)
        took = session.execute(
            update(PERIODS)
            .where(
                PERIODS.c.id == counter.id,
                PERIODS.c.spent + PERIODS.c.reserved + units <= PERIODS.c.limit_usd,
            )
            .values(reserved=PERIODS.c.reserved + units)
            .returning(PERIODS.c.id)
        ).scalar_one_or_none()
        if took is None:  # cannot happen under the lock; the group falls back to one by one
            raise RuntimeError(f"budget period {counter.id} changed under its lock")
