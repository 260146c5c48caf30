"""Grouped sums of cost events, exact on both databases.

Postgres sums NUMERIC exactly, so it aggregates in SQL. SQLite keeps money
as text and would add it as floats, so there the rows are folded in Python
with ``Decimal``. Either way the caller gets the same ``Sums`` per group key.
Time buckets are UTC hours and days, rendered the same on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, SQLColumnExpression, cast, func, select
from sqlalchemy.orm import Session

from grump.ledger.models import CostEvent

ZERO = Decimal(0)


@dataclass
class Sums:
    """Totals of a group of cost events."""

    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = ZERO
    baseline: Decimal = ZERO
    cache_savings: Decimal = ZERO
    routing_savings: Decimal = ZERO
    cached: int = 0

    def add(self, other: Sums) -> None:
        """Fold ``other``'s totals into these."""
        self.requests += other.requests
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.cost += other.cost
        self.baseline += other.baseline
        self.cache_savings += other.cache_savings
        self.routing_savings += other.routing_savings
        self.cached += other.cached


_MONEY = (
    CostEvent.cost,
    CostEvent.baseline_cost,
    CostEvent.cache_savings,
    CostEvent.routing_savings,
)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def hour_bucket(session: Session) -> SQLColumnExpression[Any]:
    """The UTC hour of an event; read it back with ``as_hour``."""
    if _is_postgres(session):
        return func.date_trunc("hour", func.timezone("UTC", CostEvent.created_at))
    return func.substr(CostEvent.created_at, 1, 13)  # SQLite text: "YYYY-MM-DD HH"


def day_bucket(session: Session) -> SQLColumnExpression[Any]:
    """The UTC day of an event; read it back with ``as_day``."""
    if _is_postgres(session):
        return func.date_trunc("day", func.timezone("UTC", CostEvent.created_at))
    return func.substr(CostEvent.created_at, 1, 10)


def as_hour(value: Any) -> datetime:
    """A value of ``hour_bucket`` as an aware UTC datetime, whichever database made it."""
    return datetime.strptime(str(value)[:13], "%Y-%m-%d %H").replace(tzinfo=UTC)


def as_day(value: Any) -> date:
    """A value of ``day_bucket`` as a date, whichever database made it."""
    return date.fromisoformat(str(value)[:10])


def _sql_sums(
    session: Session,
    keys: Sequence[SQLColumnExpression[Any]],
    where: Sequence[SQLColumnExpression[bool]],
) -> dict[tuple[Any, ...], Sums]:
    columns = (
        func.count(),
        func.sum(CostEvent.tokens_in),
        func.sum(CostEvent.tokens_out),
        *(func.sum(column) for column in _MONEY),
        func.sum(cast(CostEvent.cached, Integer)),
    )
    query = select(*keys, *columns).where(*where).group_by(*keys)
    found: dict[tuple[Any, ...], Sums] = {}
    width = len(keys)
    for row in session.execute(query):
        n, t_in, t_out, cost, base, cache, routing, cached = row[width:]
        found[tuple(row[:width])] = Sums(
            requests=int(n),
            tokens_in=int(t_in or 0),
            tokens_out=int(t_out or 0),
            cost=Decimal(cost or 0),
            baseline=Decimal(base or 0),
            cache_savings=Decimal(cache or 0),
            routing_savings=Decimal(routing or 0),
            cached=int(cached or 0),
        )
    return found


def _python_sums(
    session: Session,
    keys: Sequence[SQLColumnExpression[Any]],
    where: Sequence[SQLColumnExpression[bool]],
) -> dict[tuple[Any, ...], Sums]:
    query = select(
        *keys,
        CostEvent.tokens_in,
        CostEvent.tokens_out,
        *_MONEY,
        CostEvent.cached,
    ).where(*where)
    found: dict[tuple[Any, ...], Sums] = {}
    width = len(keys)
    for row in session.execute(query.execution_options(yield_per=5000)):
        t_in, t_out, cost, base, cache, routing, cached = row[width:]
        key = tuple(row[:width])
        found.setdefault(key, Sums()).add(
            Sums(1, t_in, t_out, cost, base, cache, routing, int(bool(cached)))
        )
    return found


def grouped_sums(
    session: Session,
    keys: Sequence[SQLColumnExpression[Any]],
    where: Sequence[SQLColumnExpression[bool]],
) -> dict[tuple[Any, ...], Sums]:
    """Sums of the cost events matching ``where``, per distinct value of ``keys``."""
    if _is_postgres(session):
        return _sql_sums(session, keys, where)
    return _python_sums(session, keys, where)
