"""The Core statements of a group of submits: a few statements for the whole group.

``grump.jobs.rows`` has the one-job statements the workers share; these take
many jobs at once and build no ORM object.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Uuid, delete, select, text, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from grump.jobs.models import JobStatus
from grump.jobs.records import INSERTED as _INSERTED
from grump.jobs.records import JobRecord, insert_values, record_of
from grump.jobs.rows import ACTIVE_STATUS_VALUES
from grump.ledger.db import dialect_insert, utcnow
from grump.ledger.models import INFLIGHT_SQL, JOBS
from grump.money import holds
from grump.money.amounts import quantize_money


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


def _pg_type(column: Any) -> str:
    """The record type json_to_recordset reads a column as: its base type, no length, so an
    over-long value is refused by the INSERT into the column, as a plain insert's would be."""
    name = column.type.compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
    return "text" if name.startswith("VARCHAR") else name


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(quantize_money(value))
    return value


@lru_cache(maxsize=1)
def _pg_insert() -> Any:
    """One statement text whatever the group's size: the rows go as one JSON parameter."""
    columns = [c for c in JOBS.c if c.name in _INSERTED]
    names = ", ".join(c.name for c in columns)
    record = ", ".join(f"{c.name} {_pg_type(c)}" for c in columns)
    return text(
        f"INSERT INTO jobs ({names}) SELECT {names}"
        f" FROM json_to_recordset(CAST(:rows AS json)) AS r({record})"
        f" ON CONFLICT (tenant, fingerprint) WHERE {INFLIGHT_SQL} DO NOTHING RETURNING id"
    ).columns(id=Uuid)


def insert_unless_inflight(session: Session, records: Sequence[JobRecord]) -> set[uuid.UUID]:
    """Insert the jobs not identical to one in flight, in ONE statement; the ids inserted.

    The rows go in (tenant, fingerprint) order, the order of the unique index
    deciding the conflicts, so two groups inserting the same requests wait on
    each other in one order, never in a cycle. On Postgres the statement's text
    is the same for any number of rows (they travel as one JSON document), so it
    is compiled and parsed once; SQLite (embedded) takes them as an executemany.
    """
    if not records:
        return set()
    ordered = sorted(records, key=lambda r: (r.tenant, r.fingerprint))
    if session.get_bind().dialect.name == "postgresql":
        rows = [{k: _json_value(v) for k, v in insert_values(r).items()} for r in ordered]
        document = orjson.dumps(rows).decode()
        return set(session.scalars(_pg_insert(), {"rows": document}))
    statement = (
        dialect_insert(session, JOBS)
        .on_conflict_do_nothing(
            index_elements=["tenant", "fingerprint"], index_where=text(INFLIGHT_SQL)
        )
        .returning(JOBS.c.id)
    )
    inserted: set[uuid.UUID] = set()
    for routed in (True, False):  # a row without routing leaves it SQL NULL, not JSON null
        batch = [insert_values(r) for r in ordered if (r.routing is not None) == routed]
        if batch:
            inserted.update(session.scalars(statement, batch))
    return inserted


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
