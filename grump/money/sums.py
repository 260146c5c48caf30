"""Grouped sums of cost events, exact on both databases.

Postgres sums NUMERIC exactly, so it aggregates in SQL. SQLite keeps money
as text and would add it as floats, so there the rows are folded in Python
with ``Decimal``. Either way the caller gets the same ``Sums`` per group key.
Time buckets are UTC hours and days, rendered the same on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, SQLColumnExpression, cast, func, select
from sqlalchemy.orm import Session

from grump.ledger.money_models import CostEvent

ZERO = Decimal(0)


@dataclass
class Sums:
    """Totals of a group of cost events.

    ``tokens_cache_read`` and ``tokens_cache_write`` are the part of
    ``tokens_in`` the provider's prompt cache read and wrote;
    ``provider_cache_savings`` is what those reads saved, a cause of its own
    beside the cache's and routing's; ``batch_savings`` what a provider's batch
    discount took off deferred jobs (``grump.jobs.batches``).

    The two baselines (``grump.money.baselines``): ``baseline`` is the premium
    model uncached, ``direct_baseline`` the premium model with the clients' own
    breakpoints; both count LLM and embedding work only. ``coalescing_savings``
    is the baseline of requests that joined a job in flight; ``kept_off_llm``
    what the premium model would have charged for the parse jobs.
    """

    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = ZERO
    baseline: Decimal = ZERO
    cache_savings: Decimal = ZERO
    routing_savings: Decimal = ZERO
    cached: int = 0
    tokens_cache_read: int = 0
    tokens_cache_write: int = 0
    provider_cache_savings: Decimal = ZERO
    batch_savings: Decimal = ZERO
    direct_baseline: Decimal = ZERO
    coalescing_savings: Decimal = ZERO
    kept_off_llm: Decimal = ZERO

    @property
    def savings(self) -> Decimal:
        """LLM and embedding spend every cause avoided against ``baseline`` (premium, uncached).

        The exact cache, coalescing, routing, the provider's prompt cache, batches.
        """
        saved = self.cache_savings + self.coalescing_savings + self.routing_savings
        return saved + self.provider_cache_savings + self.batch_savings

    @property
    def direct_savings(self) -> Decimal:
        """What was spent less than going direct with the clients' own breakpoints (negative: more)."""
        return self.direct_baseline - self.cost

    def add(self, other: Sums) -> None:
        """Fold ``other``'s totals into these."""
        for name in _FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_FIELDS = tuple(f.name for f in fields(Sums))
# The summed columns, in the order ``_sums`` reads them after the count.
_COLUMNS = (
    CostEvent.tokens_in,
    CostEvent.tokens_out,
    CostEvent.cost,
    CostEvent.baseline_cost,
    CostEvent.cache_savings,
    CostEvent.routing_savings,
    CostEvent.cached,
    CostEvent.tokens_cache_read,
    CostEvent.tokens_cache_write,
    CostEvent.provider_cache_savings,
    CostEvent.batch_savings,
    CostEvent.direct_baseline_cost,
    CostEvent.coalescing_savings,
    CostEvent.kept_off_llm,
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


def _sums(values: Sequence[Any]) -> Sums:
    """The Sums of one group from its count and column totals (None where nothing was summed)."""
    n, t_in, t_out, cost, base, cache, routing, cached, read, write, provider, batch, *more = (
        value or 0 for value in values
    )
    direct, coalescing, kept = more
    return Sums(
        requests=int(n),
        tokens_in=int(t_in),
        tokens_out=int(t_out),
        cost=Decimal(cost),
        baseline=Decimal(base),
        cache_savings=Decimal(cache),
        routing_savings=Decimal(routing),
        cached=int(cached),
        tokens_cache_read=int(read),
        tokens_cache_write=int(write),
        provider_cache_savings=Decimal(provider),
        batch_savings=Decimal(batch),
        direct_baseline=Decimal(direct),
        coalescing_savings=Decimal(coalescing),
        kept_off_llm=Decimal(kept),
    )


def _summed(column: Any) -> Any:
    return func.sum(cast(column, Integer)) if column is CostEvent.cached else func.sum(column)


def _sql_sums(
    session: Session,
    keys: Sequence[SQLColumnExpression[Any]],
    where: Sequence[SQLColumnExpression[bool]],
) -> dict[tuple[Any, ...], Sums]:
    columns = (func.count(), *(_summed(column) for column in _COLUMNS))
    query = select(*keys, *columns).where(*where).group_by(*keys)
    width = len(keys)
    return {tuple(row[:width]): _sums(row[width:]) for row in session.execute(query)}


def _python_sums(
    session: Session,
    keys: Sequence[SQLColumnExpression[Any]],
    where: Sequence[SQLColumnExpression[bool]],
) -> dict[tuple[Any, ...], Sums]:
    query = select(*keys, *_COLUMNS).where(*where)
    found: dict[tuple[Any, ...], Sums] = {}
    width = len(keys)
    for row in session.execute(query.execution_options(yield_per=5000)):
        key = tuple(row[:width])
        found.setdefault(key, Sums()).add(_sums((1, *row[width:])))
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
