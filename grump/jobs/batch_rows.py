"""Ledger writes for many jobs at once: the cpu and gpu workers record a batch together.

The guarantees are those of ``grump.jobs.rows``, per job: a claim and a
result are each one conditional UPDATE, a job is charged at most once
(``cost_events.job_id`` is unique), and the budget is settled in the result's
transaction. What changes is that a whole batch shares one transaction and one
commit, and its budget counters are settled with one UPDATE per counter row.
``record_batch`` is the workers' one way in: the batch in one transaction, and
job by job when that fails, each worker saying what a ledger outage does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Column, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from grump.errors import DatabaseUnavailable
from grump.jobs.models import JobStatus, Outcome
from grump.jobs.rows import (
    ACTIVE_STATUS_VALUES,
    cost_event,
    finish_values,
)
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import JOBS, Job
from grump.ledger.money_models import COST_EVENTS, CostEvent
from grump.money.holds import settle_many

log = logging.getLogger(__name__)

Finished = tuple[Job, Outcome]
OnError = Callable[[Job, Exception], None]


class OnOutage(Enum):
    """What ``record_batch`` does when the ledger is unavailable."""

    # DatabaseUnavailable propagates: nothing more is recorded and the batch's messages
    # are delivered again (parse jobs are cheap to run twice).
    RAISE = "raise"
    # Each job not recorded is handed to the error handler, as any other error is
    # (embed jobs spent provider calls: the handler retries them one by one).
    PER_JOB = "per_job"


@dataclass
class RecordedBatch:
    """Where each finished job of a batch ended, in the batch's order."""

    recorded: list[Finished] = field(default_factory=list)
    # Final already (finished elsewhere in between): neither recorded nor an error.
    skipped: list[uuid.UUID] = field(default_factory=list)


def record_batch(
    sessions: sessionmaker[Session],
    finished: Sequence[Finished],
    on_error: OnError,
    on_outage: OnOutage,
) -> RecordedBatch:
    """Record ``finished`` in one transaction; job by job when it fails.

    A row finished elsewhere in between (its cost event already there) rolls the
    whole batch back, so each job is then recorded on its own and one row costs
    the others nothing; a job whose own record fails goes to ``on_error``. A
    ledger outage propagates or goes to ``on_error`` per job, as ``on_outage``
    says. Every job of ``finished`` ends recorded, skipped or handed to ``on_error``.
    """
    if not finished:
        return RecordedBatch()
    try:
        with session_scope(sessions) as session:
            recorded = set(finish_many(session, finished))
    except DatabaseUnavailable as exc:
        if on_outage is OnOutage.RAISE:
            raise
        for job, _ in finished:
            on_error(job, exc)
        return RecordedBatch()
    except Exception:
        kinds = ", ".join(sorted({job.kind for job, _ in finished}))
        log.exception("recording a batch of %d %s jobs failed; one by one", len(finished), kinds)
        return _record_each(sessions, finished, on_error, on_outage)
    return _sorted(finished, recorded, set())


def _record_each(
    sessions: sessionmaker[Session],
    finished: Sequence[Finished],
    on_error: OnError,
    on_outage: OnOutage,
) -> RecordedBatch:
    recorded: set[uuid.UUID] = set()
    errored: set[uuid.UUID] = set()
    for job, outcome in finished:
        try:
            with session_scope(sessions) as session:
                if finish_many(session, [(job, outcome)]):
                    recorded.add(job.id)
        except DatabaseUnavailable as exc:
            if on_outage is OnOutage.RAISE:
                raise
            errored.add(job.id)
            on_error(job, exc)
        except Exception as exc:
            errored.add(job.id)
            on_error(job, exc)
    return _sorted(finished, recorded, errored)


def _sorted(
    finished: Sequence[Finished], recorded: set[uuid.UUID], errored: set[uuid.UUID]
) -> RecordedBatch:
    batch = RecordedBatch()
    for job, outcome in finished:
        if job.id in recorded:
            batch.recorded.append((job, outcome))
        elif job.id not in errored:
            batch.skipped.append(job.id)
    return batch


def finish_many(session: Session, finished: Sequence[tuple[Job, Outcome]]) -> list[uuid.UUID]:
    """Record each job's success and cost event; the ids recorded (final ones are skipped).

    The rows still active are locked first (in job-id order, like every other
    writer), so the results are written by one pipelined statement per row and
    the cost events by one INSERT. A row finished elsewhere in between cannot
    be charged twice: ``cost_events.job_id`` is unique and the whole batch
    rolls back, for the caller to record job by job.
    """
    if not finished:
        return []
    by_id = {job.id: (job, outcome) for job, outcome in finished}
    # Core statements built once, on the session's connection: the ORM's execution
    # path cost more CPU than the statements on the llm worker's hot path.
    connection = session.connection()
    locked = connection.execute(_LOCK_ACTIVE, {"job_ids": list(by_id)})
    joined: dict[uuid.UUID, int] = {job_id: count for job_id, count in locked}
    active = list(joined)
    if not active:
        return []
    now = utcnow()
    connection.execute(_FINISH_STATEMENT, [_result_row(*by_id[job_id], now) for job_id in active])
    # Core rows, not ORM objects flushed one by one: one executemany INSERT.
    events = [_event_row(cost_event(*by_id[job_id], now, joined[job_id])) for job_id in active]
    connection.execute(_INSERTCOST_EVENTS, events)
    settle_many(session, {job_id: by_id[job_id][1].cost for job_id in active})
    return list(active)


# The columns of finish_values that differ per job (status and error are the same for
# all; ``attempts`` is counted apart: a claimed job's attempt is already counted, an
# unclaimed parse job's is not).
_RESULT_COLUMNS = (
    "result",
    "model",
    "tier",
    "routing",
    "tokens_in",
    "tokens_out",
    "tokens_cache_read",
    "tokens_cache_write",
    "cost",
    "baseline_cost",
    "finished_at",
)
_FINISH_STATEMENT = (
    update(JOBS)
    # Equalities, not IN: an expanding IN parameter cannot run as executemany.
    .where(
        JOBS.c.id == bindparam("job_id"),
        or_(*(JOBS.c.status == status for status in ACTIVE_STATUS_VALUES)),
    )
    .values(
        status=JobStatus.SUCCEEDED.value,
        error=None,
        attempts=JOBS.c.attempts + bindparam("new_attempt"),
        **{name: bindparam(f"new_{name}") for name in _RESULT_COLUMNS},
    )
)

# The rows still active among a group's, locked in job-id order (every writer's order),
# each with its count of requests coalesced onto it (its cost event answers those too).
_LOCK_ACTIVE = (
    select(JOBS.c.id, JOBS.c.coalesced_count)
    .where(
        JOBS.c.id.in_(bindparam("job_ids", expanding=True)),
        JOBS.c.status.in_(ACTIVE_STATUS_VALUES),
    )
    .order_by(JOBS.c.id)
    .with_for_update()
)


def _result_row(job: Job, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The parameters of ``_FINISH_STATEMENT`` for one job."""
    values = finish_values(job, outcome, now)
    row = {f"new_{name}": values[name] for name in _RESULT_COLUMNS}
    row["job_id"] = job.id
    row["new_attempt"] = 0 if job.started_at else 1
    return row


_INSERTCOST_EVENTS = insert(COST_EVENTS)
_EVENT_COLUMNS: list[Column[Any]] = [c for c in COST_EVENTS.columns if not c.primary_key]


def _event_row(event: CostEvent) -> dict[str, Any]:
    """A cost event's INSERT parameters: every column but the id, defaults filled in (every
    row of an executemany must name the same columns)."""
    row: dict[str, Any] = {}
    for column in _EVENT_COLUMNS:
        value = getattr(event, column.key)
        default = column.default
        if value is None and default is not None and getattr(default, "is_scalar", False):
            value = getattr(default, "arg", None)
        row[column.key] = value
    return row
