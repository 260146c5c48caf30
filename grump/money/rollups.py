"""Hourly and daily cost rollups, built incrementally from the append-only cost events.

``rollup_costs`` folds the events after the watermark (``rollup_watermarks``,
the last folded ``cost_events.id``) into ``cost_rollups`` and moves the
watermark, all in one transaction: running it twice changes nothing, and it
never rescans history. Events younger than ``SETTLE_LAG`` wait for the next
run, since a transaction that took a lower id may still be committing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from grump.ledger.db import dialect_insert, session_scope, utcnow
from grump.ledger.money_models import CostEvent, CostRollup, RollupWatermark
from grump.money.sums import Sums, as_hour, grouped_sums, hour_bucket
from grump.runtime import Runtime

log = logging.getLogger(__name__)

WATERMARK = "cost_events"
SETTLE_LAG = timedelta(seconds=30)
HOUR, DAY = "hour", "day"
_BUCKET_KEY = ["granularity", "bucket_start", "tenant", "model", "kind", "tier"]
_SUMMED = (
    "requests",
    "tokens_in",
    "tokens_out",
    "cost",
    "baseline_cost",
    "cache_savings",
    "routing_savings",
    "tokens_cache_read",
    "tokens_cache_write",
    "provider_cache_savings",
    "batch_savings",
    "direct_baseline_cost",
    "coalescing_savings",
    "kept_off_llm",
)


@dataclass(frozen=True)
class RollupRun:
    """What one rollup run folded, for its log line."""

    events: int  # cost events folded in this run
    buckets: int  # rollup rows written (hourly and daily)
    watermark: int


def _lock_watermark(session: Session, now: datetime) -> int:
    """The watermark, locked until the commit: two concurrent runs take turns."""
    session.execute(
        dialect_insert(session, RollupWatermark)
        .values(name=WATERMARK, last_event_id=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    query = select(RollupWatermark.last_event_id).where(RollupWatermark.name == WATERMARK)
    return int(session.execute(query.with_for_update()).scalar_one())


def _upper_bound(session: Session, after: int, cutoff: datetime) -> int | None:
    query = select(func.max(CostEvent.id)).where(
        CostEvent.id > after, CostEvent.created_at < cutoff
    )
    found = session.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def _rows(hourly: dict[tuple[Any, ...], Sums]) -> list[dict[str, Any]]:
    """Rollup rows for each hour, and for each day as the sum of its hours."""
    daily: dict[tuple[Any, ...], Sums] = {}
    rows: list[dict[str, Any]] = []
    for (tenant, model, kind, tier, bucket), sums in hourly.items():
        hour = as_hour(bucket)
        rows.append(_row(HOUR, hour, (tenant, model, kind, tier), sums))
        day = hour.replace(hour=0)
        daily.setdefault((day, tenant, model, kind, tier), Sums()).add(sums)
    for (day, *labels), sums in daily.items():
        rows.append(_row(DAY, day, tuple(labels), sums))
    return rows


def _row(granularity: str, start: datetime, labels: Sequence[Any], sums: Sums) -> dict[str, Any]:
    tenant, model, kind, tier = labels
    return {
        "granularity": granularity,
        "bucket_start": start,
        "tenant": tenant,
        "model": model,
        "kind": kind,
        "tier": tier,
        "requests": sums.requests,
        "tokens_in": sums.tokens_in,
        "tokens_out": sums.tokens_out,
        "cost": sums.cost,
        "baseline_cost": sums.baseline,
        "cache_savings": sums.cache_savings,
        "routing_savings": sums.routing_savings,
        "tokens_cache_read": sums.tokens_cache_read,
        "tokens_cache_write": sums.tokens_cache_write,
        "provider_cache_savings": sums.provider_cache_savings,
        "batch_savings": sums.batch_savings,
        "direct_baseline_cost": sums.direct_baseline,
        "coalescing_savings": sums.coalescing_savings,
        "kept_off_llm": sums.kept_off_llm,
    }


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    statement = dialect_insert(session, CostRollup)
    # Counters are integers (money in 1e-10 USD units): adding is exact on both databases.
    added = {name: getattr(CostRollup, name) + statement.excluded[name] for name in _SUMMED}
    session.execute(statement.on_conflict_do_update(index_elements=_BUCKET_KEY, set_=added), rows)


def rollup_costs(session: Session, now: datetime) -> RollupRun:
    """Fold new cost events into the rollups; call it in its own transaction."""
    after = _lock_watermark(session, now)
    upper = _upper_bound(session, after, now - SETTLE_LAG)
    if upper is None:
        return RollupRun(0, 0, after)
    keys = [CostEvent.tenant, CostEvent.model, CostEvent.kind, CostEvent.tier, hour_bucket(session)]
    hourly = grouped_sums(session, keys, [CostEvent.id > after, CostEvent.id <= upper])
    rows = _rows(hourly)
    if rows:
        _upsert(session, rows)
    session.execute(
        update(RollupWatermark)
        .where(RollupWatermark.name == WATERMARK)
        .values(last_event_id=upper, updated_at=now)
    )
    return RollupRun(sum(s.requests for s in hourly.values()), len(rows), upper)


def run_rollup(runtime: Runtime) -> int:
    """Fold new cost events into the rollups (beat); returns how many were folded."""
    started = time.perf_counter()
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        run = rollup_costs(session, utcnow())
    if run.events:
        log.info(
            "rolled up %d cost events into %d buckets in %.2fs (watermark %d)",
            run.events,
            run.buckets,
            time.perf_counter() - started,
            run.watermark,
        )
    return run.events
