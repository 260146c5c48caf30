"""Cost queries for the API and reports: summaries, and what the ledger suggests.

Every query is scoped to one tenant and reads the append-only cost events
(indexed by tenant and time), so the figures are exact to the last job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import SQLColumnExpression, select
from sqlalchemy.orm import Session

from grump.jobs.models import JobKind, JobStatus
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from grump.money.sums import ZERO, Sums, as_day, day_bucket, grouped_sums
from grump.routing.pricing import ModelPrice, PriceCatalogue

NO_USER = "(none)"


class GroupBy(StrEnum):
    """What a cost summary groups its sums by."""

    DAY = "day"
    MODEL = "model"
    KIND = "kind"
    TIER = "tier"
    USER = "user"


def _window(tenant: str, start: datetime, end: datetime) -> list[SQLColumnExpression[bool]]:
    return [CostEvent.tenant == tenant, CostEvent.created_at >= start, CostEvent.created_at < end]


def _key(session: Session, group_by: GroupBy) -> SQLColumnExpression[Any]:
    if group_by is GroupBy.DAY:
        return day_bucket(session)
    columns: dict[GroupBy, SQLColumnExpression[Any]] = {
        GroupBy.MODEL: CostEvent.model,
        GroupBy.KIND: CostEvent.kind,
        GroupBy.TIER: CostEvent.tier,
        GroupBy.USER: CostEvent.user_id,
    }
    return columns[group_by]


def _label(group_by: GroupBy, value: Any) -> str:
    if group_by is GroupBy.DAY:
        return as_day(value).isoformat()
    return NO_USER if value is None else str(value)


def summary(
    session: Session, tenant: str, start: datetime, end: datetime, group_by: GroupBy
) -> list[tuple[str, Sums]]:
    """Sums per group: days in order, anything else dearest first."""
    found = grouped_sums(session, [_key(session, group_by)], _window(tenant, start, end))
    rows = [(_label(group_by, key[0]), sums) for key, sums in found.items()]
    if group_by is GroupBy.DAY:
        return sorted(rows)
    return sorted(rows, key=lambda row: (-row[1].cost, row[0]))


def totals(session: Session, tenant: str, start: datetime, end: datetime) -> Sums:
    """A tenant's sums over ``[start, end)``, all groups together."""
    found = grouped_sums(session, [], _window(tenant, start, end))
    return next(iter(found.values()), Sums())


def daily_by_model(
    session: Session, tenant: str, start: datetime, end: datetime
) -> list[tuple[str, str, Decimal]]:
    """(day, model, cost) for every day and model with spending."""
    keys = [day_bucket(session), CostEvent.model]
    found = grouped_sums(session, keys, _window(tenant, start, end))
    return sorted((as_day(day).isoformat(), model, s.cost) for (day, model), s in found.items())


@dataclass(frozen=True)
class ThresholdOption:
    """What the same jobs would have cost had routing used another threshold."""

    threshold: int
    cost: Decimal
    saving: Decimal  # actual cost minus this option's cost; negative: it would cost more


@dataclass(frozen=True)
class _RoutedJob:
    """What threshold options need of one auto-routed completion."""

    score: int
    model: str
    tokens_in: int
    tokens_out: int
    tokens_cache_read: int
    tokens_cache_write: int
    cost: Decimal

    def priced_on(self, price: ModelPrice) -> Decimal:
        """Its cost on ``price``'s model: as billed on the model it ran on, uncached on another.

        Moving a job to another model throws the prompt cache it used away.
        """
        if price.model != self.model:
            return price.cost(self.tokens_in, self.tokens_out)
        return price.cost(
            self.tokens_in,
            self.tokens_out,
            cached_tokens_in=self.tokens_cache_read,
            cache_write_tokens=self.tokens_cache_write,
        )


def _routed_jobs(session: Session, tenant: str, since: datetime) -> list[_RoutedJob]:
    """The auto-routed completions that succeeded since ``since``."""
    query = select(
        Job.routing,
        Job.model,
        Job.tokens_in,
        Job.tokens_out,
        Job.tokens_cache_read,
        Job.tokens_cache_write,
        Job.cost,
    ).where(
        Job.tenant == tenant,
        Job.kind == JobKind.COMPLETE.value,
        Job.status == JobStatus.SUCCEEDED.value,
        Job.created_at >= since,
    )
    found: list[_RoutedJob] = []
    for routing, *usage in session.execute(query):
        if not routing or routing.get("reason") == "pinned" or "score" not in routing:
            continue  # a caller's pinned model is not routing's choice
        model, tokens_in, tokens_out, read, write, cost = usage
        found.append(
            _RoutedJob(int(routing["score"]), str(model), tokens_in, tokens_out, read, write, cost)
        )
    return found


def threshold_options(
    session: Session,
    tenant: str,
    since: datetime,
    catalogue: PriceCatalogue,
    models: tuple[str, str],
    thresholds: Sequence[int],
) -> tuple[Decimal, list[ThresholdOption]]:
    """The actual cost of routed jobs since ``since`` and each threshold's alternative.

    ``models`` is (economy, premium). A job scoring below a threshold is priced
    on the economy model, otherwise on premium, with the tokens it really used
    (and the prompt cache it really used, on the model it ran on).
    """
    jobs = _routed_jobs(session, tenant, since)
    economy, premium = (catalogue.price(model) for model in models)
    actual = sum((job.cost for job in jobs), ZERO)
    options: list[ThresholdOption] = []
    for threshold in thresholds:
        cost = sum(
            (job.priced_on(economy if job.score < threshold else premium) for job in jobs),
            ZERO,
        )
        options.append(ThresholdOption(threshold, cost, actual - cost))
    return actual, options


def cache_hits_by_kind(
    session: Session, tenant: str, start: datetime, end: datetime
) -> dict[str, Sums]:
    """Per job kind: requests and how many were answered from the cache (``Sums.cached``)."""
    found = grouped_sums(session, [CostEvent.kind], _window(tenant, start, end))
    return {str(key[0]): sums for key, sums in sorted(found.items())}


def tenants_with_costs(session: Session, start: datetime, end: datetime) -> list[str]:
    """The tenants with cost events in ``[start, end)``: those a cost report is made for."""
    query = (
        select(CostEvent.tenant)
        .where(CostEvent.created_at >= start, CostEvent.created_at < end)
        .distinct()
    )
    return sorted(session.scalars(query))
