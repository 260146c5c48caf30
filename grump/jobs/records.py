"""A job row as submit writes and answers it: plain values, no ORM object per job.

Submit inserts its rows with Core statements and reads the rows it coalesces
onto or replays with Core selects; a ``JobRecord`` carries either to the
caller's answer (``JobView.of`` takes it as it takes a ``Job``).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from grump.jobs.models import AnyJobRequest, JobStatus
from grump.jobs.plan import Plan
from grump.ledger.db import utcnow
from grump.settings import Settings


@dataclass(frozen=True, slots=True)
class JobRecord:
    """The columns of one ``jobs`` row."""

    id: uuid.UUID
    tenant: str
    user_id: str | None
    session_id: str | None
    kind: str
    status: str
    priority: int
    tier: str
    queue: str
    model: str | None
    routing: dict[str, Any] | None
    input: dict[str, Any]
    fingerprint: str
    idempotency_key: str | None
    created_at: datetime
    deadline_at: datetime
    enqueued_at: datetime | None = None
    reserved_cost: Decimal = Decimal(0)
    lineage_id: int | None = None
    defer_until: datetime | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    claimed_by: str | None = None
    worker_losses: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cache_read: int = 0
    tokens_cache_write: int = 0
    cost: Decimal = Decimal(0)
    baseline_cost: Decimal = Decimal(0)
    coalesced_count: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    batch_id: str | None = None

    def held(self) -> JobRecord:
        """The record with no message sent: fair share held it (``grump.jobs.admission``)."""
        return dataclasses.replace(self, enqueued_at=None)


_FIELDS = frozenset(f.name for f in dataclasses.fields(JobRecord))
# What a new row leaves to its columns' defaults (all of them NULL or 0 at first).
_UNSET_AT_INSERT = ("result", "error", "claimed_by", "started_at", "finished_at", "batch_id")


def new_record(
    settings: Settings,
    tenant: str,
    request: AnyJobRequest,
    plan: Plan,
    key: str | None,
    lineage: int | None = None,
) -> JobRecord:
    """The row a new job gets: queued, published now (unless deferred), its deadline set."""
    now = utcnow()
    defer_until = None if plan.wait is None else now + plan.wait
    return JobRecord(
        id=uuid.uuid4(),
        tenant=tenant,
        user_id=request.user,
        session_id=request.session,
        kind=request.kind.value,
        status=JobStatus.QUEUED.value,
        priority=request.priority,
        tier=plan.tier.value,
        queue=plan.queue,
        model=plan.model,
        routing=plan.routing.model_dump(mode="json") if plan.routing else None,
        input=request.input.model_dump(mode="json", exclude_none=True),
        fingerprint=plan.fingerprint,
        idempotency_key=key,
        created_at=now,
        enqueued_at=now,
        reserved_cost=plan.reservation,
        # A deferred job is not stuck while it waits: beat's batches look after it.
        deadline_at=defer_until or now + timedelta(seconds=settings.job_deadline_seconds),
        defer_until=defer_until,
        lineage_id=lineage,
    )


# The columns a new row is inserted with, the same for every row of a group.
INSERTED = frozenset(_FIELDS - set(_UNSET_AT_INSERT))


def insert_values(record: JobRecord) -> dict[str, Any]:
    """The record as one row of a multi-row INSERT; ``routing`` left out when it has none
    (a JSON column given None would store JSON ``null``, not SQL NULL)."""
    values = {f: getattr(record, f) for f in INSERTED}
    if values["routing"] is None:
        del values["routing"]
    return values


def record_of(row: Any) -> JobRecord:
    """A ``jobs`` row read with a Core select of the whole table, as a record."""
    mapping = row._mapping
    return JobRecord(**{name: mapping[name] for name in _FIELDS})
