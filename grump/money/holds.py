"""Settling and releasing what jobs hold on budgets (``budget_holds``), in the caller's transaction.

A job's holds are deleted as they are taken, so whatever happens to its
messages it settles (or is released) exactly once. Counter rows are updated in
budget-id order, the order submits lock them in (``grump.money.budgets``), so
no two transactions wait on each other in a cycle.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, bindparam, delete, literal, select, update
from sqlalchemy.orm import Session

from grump.ledger.models import Job
from grump.ledger.money_models import HOLDS, PERIODS, BudgetHold, BudgetPeriod
from grump.ledger.money_units import to_units


def settle(session: Session, job_id: uuid.UUID, cost: Decimal) -> None:
    """Turn a job's holds into spending of its actual cost, in the caller's transaction."""
    settle_many(session, {job_id: cost})


def release(session: Session, job_id: uuid.UUID) -> None:
    """Give back what a job held (it failed, was cancelled or never enqueued)."""
    settle_many(session, {job_id: Decimal(0)})


_TAKEHOLDS = (
    delete(HOLDS)
    .where(HOLDS.c.job_id.in_(bindparam("job_ids", expanding=True)))
    .returning(HOLDS.c.job_id, HOLDS.c.period_id, HOLDS.c.budget_id, HOLDS.c.amount)
)
_SETTLE_PERIOD = (
    update(PERIODS)
    .where(PERIODS.c.id == bindparam("period_id"))
    .values(
        reserved=PERIODS.c.reserved - bindparam("released", type_=BigInteger),
        spent=PERIODS.c.spent + bindparam("spent", type_=BigInteger),
    )
)


def settle_many(session: Session, costs: dict[uuid.UUID, Decimal]) -> None:
    """Turn the holds of jobs into their costs: one UPDATE per counter row, in budget-id order.

    The holds are deleted as they are taken, so a second call for a job finds
    none: each job settles (or is released) exactly once.
    """
    if not costs:
        return
    connection = session.connection()  # Core statements built once: a worker's hot path
    taken = connection.execute(_TAKEHOLDS, {"job_ids": list(costs)}).all()
    released: defaultdict[tuple[int, int], Decimal] = defaultdict(Decimal)
    spent: defaultdict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for job_id, period_id, budget_id, amount in taken:
        released[(budget_id, period_id)] += amount
        spent[(budget_id, period_id)] += costs[job_id]
    for key in sorted(released):
        settled = {
            "period_id": key[1],
            "released": to_units(released[key]),
            "spent": to_units(spent[key]),
        }
        connection.execute(_SETTLE_PERIOD, settled)


def hold_at_least(session: Session, job_id: uuid.UUID, amount: Decimal) -> bool:
    """Make the job hold ``amount`` on every budget it holds on, or change nothing.

    A job about to run on a dearer model than it reserved for (a fallback to
    the other tier) first holds the difference, with the same conditional
    UPDATE a submit reserves with: True when every budget took it (or the job
    holds on none), False when one could not, and then what the others took
    is given back in the same transaction.
    """
    reserved = session.scalar(select(Job.reserved_cost).where(Job.id == job_id))
    extra = amount - (reserved or Decimal(0))
    if extra <= 0:
        return True
    units = literal(to_units(extra), BigInteger)
    held = session.scalars(
        select(BudgetHold.period_id)
        .where(BudgetHold.job_id == job_id)
        .order_by(BudgetHold.budget_id)  # the order submits lock counter rows in
    ).all()
    taken: list[int] = []
    for period_id in held:
        took = session.execute(
            update(BudgetPeriod)
            .where(
                BudgetPeriod.id == period_id,
                BudgetPeriod.spent + BudgetPeriod.reserved + units <= BudgetPeriod.limit_usd,
            )
            .values(reserved=BudgetPeriod.reserved + units)
            .returning(BudgetPeriod.id)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if took is None:
            _give_back(session, taken, units)
            return False
        taken.append(period_id)
    session.execute(
        update(BudgetHold)
        .where(BudgetHold.job_id == job_id)
        .values(amount=BudgetHold.amount + units)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(reserved_cost=Job.reserved_cost + extra)
        .execution_options(synchronize_session=False)
    )
    return True


def _give_back(session: Session, period_ids: list[int], units: Any) -> None:
    for period_id in period_ids:
        session.execute(
            update(BudgetPeriod)
            .where(BudgetPeriod.id == period_id)
            .values(reserved=BudgetPeriod.reserved - units)
            .execution_options(synchronize_session=False)
        )
