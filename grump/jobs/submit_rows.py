"""The Core statements of a group of submits: a few statements for the whole group.

``grump.jobs.rows`` has the one-job statements the workers share; these take
many jobs at once and build no ORM object.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import delete, select, text, tuple_, update
from sqlalchemy.orm import Session

from grump.jobs.models import JobStatus
from grump.jobs.records import JOBS, JobRecord, insert_values, record_of
from grump.jobs.rows import ACTIVE_STATUS_VALUES
from grump.ledger.db import dialect_insert, utcnow
from grump.ledger.models import INFLIGHT_SQL
from grump.money import holds


def by_idempotency(
    session: Session, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], JobRecord]:
    """The jobs submitted earlier under these (tenant, Idempotency-Key) pairs, by pair."""
    wanted = list(set(pairs))
    if not wanted:
        return {}
    query = select(JOBS).where(tuple_(JOBS.c.tenant, JOBS.c.idempotency_key).in_(wanted))
    found = (record_of(row) for row in session.execute(query))
    return {(r.tenant, r.idempotency_key or ""): r for r in found}


def inflight(
    session: Session, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], JobRecord]:
    """The queued or running jobs with these (tenant, fingerprint) pairs, by pair."""
    wanted = list(set(pairs))
    if not wanted:
        return {}
    query = select(JOBS).where(
        tuple_(JOBS.c.tenant, JOBS.c.fingerprint).in_(wanted),
        JOBS.c.status.in_(ACTIVE_STATUS_VALUES),
    )
    found = (record_of(row) for row in session.execute(query))
    return {(r.tenant, r.fingerprint): r for r in found}


def insert_unless_inflight(session: Session, records: Sequence[JobRecord]) -> set[uuid.UUID]:
    """Insert the jobs not identical to one in flight, in ONE statement; the ids inserted.

    The rows go in (tenant, fingerprint) order, the order of the unique index
    deciding the conflicts, so two groups inserting the same requests wait on
    each other in one order, never in a cycle.
    """
    if not records:
        return set()
    ordered = sorted(records, key=lambda r: (r.tenant, r.fingerprint))
    statement = (
        dialect_insert(session, JOBS)
        .values([insert_values(r) for r in ordered])
        .on_conflict_do_nothing(
            index_elements=["tenant", "fingerprint"], index_where=text(INFLIGHT_SQL)
        )
        .returning(JOBS.c.id)
    )
    return set(session.scalars(statement))


def note_coalesced(session: Session, job_ids: Iterable[uuid.UUID]) -> None:
    """Count one more submit coalesced onto each of these in-flight jobs."""
    ids = list(job_ids)
    if ids:
        session.execute(
            update(JOBS)
            .where(JOBS.c.id.in_(ids))
            .values(coalesced_count=JOBS.c.coalesced_count + 1)
        )


def forget(session: Session, job_ids: Iterable[uuid.UUID]) -> None:
    """Delete rows written earlier in this transaction whose jobs were then refused."""
    ids = list(job_ids)
    if ids:
        session.execute(delete(JOBS).where(JOBS.c.id.in_(ids)))


def reject_unenqueued(session: Session, job_ids: Sequence[uuid.UUID], reason: str) -> None:
    """Jobs whose messages never reached the broker are rejected, not left queued."""
    if not job_ids:
        return
    rejected = session.execute(
        update(JOBS)
        .where(JOBS.c.id.in_(list(job_ids)), JOBS.c.status == JobStatus.QUEUED.value)
        .values(
            status=JobStatus.REJECTED.value,
            error={"code": "broker_unavailable", "message": reason},
            finished_at=utcnow(),
        )
        .returning(JOBS.c.id)
    )
    holds.settle_many(session, dict.fromkeys(rejected.scalars(), Decimal(0)))
