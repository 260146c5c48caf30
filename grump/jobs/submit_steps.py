"""The steps of recording and publishing a group of submits, each caller answered on its own.

One transaction records the whole group (``record_group``): idempotency keys
looked up in one SELECT, the new rows written in one multi-row ``INSERT … ON
CONFLICT DO NOTHING RETURNING``, the jobs identical to one in flight coalesced
onto it, and the new jobs' budget reservations taken (``grump.money.reservations``).
After the commit the new jobs' messages go out together (``publish_group``).

Each submit gets its own answer: its job, or its own error (a 402, a 409 for a
reused Idempotency-Key). A submit whose answer depends on an earlier one of the
same group (the same request, or the same key) is answered after that one, on
its own, exactly as if the two had come one after the other. A lone submit is
a group of one: the sync driver and the API's group commit run the same steps.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from celery import Celery
from sqlalchemy.orm import Session

from grump.errors import BrokerUnavailable, Conflict, GrumpError
from grump.jobs import admission, submit_rows
from grump.jobs.enqueue import publish_jobs
from grump.jobs.models import AnyJobRequest
from grump.jobs.plan import Plan
from grump.jobs.records import JobRecord
from grump.ledger.models import Job
from grump.money.reservations import Ask, reserve_group
from grump.runtime import Runtime


@dataclass(frozen=True)
class Submitted:
    """What a submit gave the caller: its job, and whether it is new, coalesced or replayed."""

    job: JobRecord
    created: bool = True
    coalesced: bool = False
    replayed: bool = False


@dataclass(frozen=True)
class Pending:
    """A planned submit waiting to be recorded: the row it gets if it is new."""

    tenant: str
    request: AnyJobRequest
    plan: Plan
    key: str | None
    lineage: int | None
    record: JobRecord


# A submit's answer: its job, its own error, or None: answer it alone, after the group.
Answer = Submitted | GrumpError | None


def _leaders(items: Sequence[Pending]) -> list[int]:
    """The submits not repeating an earlier one of the group (same request or same key)."""
    requests: set[tuple[str, str]] = set()
    keys: set[tuple[str, str]] = set()
    leaders = []
    for index, item in enumerate(items):
        request, key = (item.tenant, item.plan.fingerprint), (item.tenant, item.key or "")
        if request in requests or (item.key is not None and key in keys):
            continue
        requests.add(request)
        if item.key is not None:
            keys.add(key)
        leaders.append(index)
    return leaders


def _replays(session: Session, items: Sequence[Pending], leaders: list[int]) -> list[Answer]:
    """The answers of submits whose Idempotency-Key made a job earlier (None for the rest)."""
    answers: list[Answer] = [None] * len(items)
    keyed = [(items[i].tenant, items[i].key) for i in leaders if items[i].key is not None]
    earlier = submit_rows.by_idempotency(session, [(t, k) for t, k in keyed if k is not None])
    for i in leaders:
        item = items[i]
        found = earlier.get((item.tenant, item.key or "")) if item.key is not None else None
        if found is None:
            continue
        if found.fingerprint != item.plan.fingerprint:
            answers[i] = Conflict("Idempotency-Key was used for a different request")
        else:
            answers[i] = Submitted(found, created=False, replayed=True)
    return answers


def record_group(session: Session, items: Sequence[Pending]) -> list[Answer]:
    """The group's statements, in one transaction: replay, insert, coalesce, reserve.

    A job refused by a budget is not recorded (its row is deleted again in the
    same transaction) and the others keep theirs. None answers a submit that
    must be recorded alone after this group: it repeats an earlier one of the
    group, or the in-flight job it met ended before it could join it.
    """
    leaders = _leaders(items)
    answers = _replays(session, items, leaders)
    fresh = [i for i in leaders if answers[i] is None]
    inserted = submit_rows.insert_unless_inflight(session, [items[i].record for i in fresh])
    joining = [i for i in fresh if items[i].record.id not in inserted]
    running = submit_rows.inflight(
        session, [(items[i].tenant, items[i].plan.fingerprint) for i in joining]
    )
    joined: list[uuid.UUID] = []
    for i in joining:
        found = running.get((items[i].tenant, items[i].plan.fingerprint))
        if found is not None:
            answers[i] = Submitted(found, created=False, coalesced=True)
            joined.append(found.id)
    submit_rows.note_coalesced(session, joined)
    new = [i for i in fresh if items[i].record.id in inserted]
    asks = [_ask(items[i]) for i in new]
    # Last in the transaction, so the budget rows stay locked only until the commit.
    refusals = reserve_group(session, asks)
    for i, refusal in zip(new, refusals, strict=True):
        answers[i] = Submitted(items[i].record) if refusal is None else refusal
    submit_rows.forget(session, [a.job_id for a, r in zip(asks, refusals, strict=True) if r])
    return answers


def _ask(item: Pending) -> Ask:
    record = item.record
    return Ask(
        record.id,
        item.tenant,
        item.request.user,
        item.lineage,
        record.reserved_cost,
        record.created_at,
    )


def answer_of(answer: Answer) -> Submitted:
    """The submit's job, or its error raised."""
    if isinstance(answer, GrumpError):
        raise answer
    assert isinstance(answer, Submitted)
    return answer


def to_publish(answers: Sequence[Answer]) -> list[int]:
    """The submits whose new jobs need a message now (not deferred to a provider batch)."""
    return [
        i
        for i, answer in enumerate(answers)
        if isinstance(answer, Submitted) and answer.created and answer.job.defer_until is None
    ]


def _admitted(runtime: Runtime, record: JobRecord) -> bool:
    """Fair share's admission of a new job (``grump.jobs.admission``), when it applies."""
    if not admission.applies(runtime.settings, record.queue):
        return True
    job = Job(
        id=record.id, tenant=record.tenant, queue=record.queue, enqueued_at=record.enqueued_at
    )
    return admission.admitted(runtime, job)


def publish_group(
    runtime: Runtime, app: Celery, answers: list[Answer], indexes: Sequence[int]
) -> list[uuid.UUID]:
    """Publish the new jobs' messages together (blocking: kombu's); the ids the broker refused.

    A job fair share holds gets no message (its answer says so); a refused
    one's answer becomes its ``BrokerUnavailable``.
    """
    sending: list[int] = []
    for i in indexes:
        answer = answers[i]
        assert isinstance(answer, Submitted)
        if _admitted(runtime, answer.job):
            sending.append(i)
        else:  # held: released when the tenant's jobs end
            answers[i] = Submitted(answer.job.held())
    jobs = [_job_of(answers[i]) for i in sending]
    retry_after = runtime.settings.retry_after_seconds
    sent = publish_jobs(app, [(j.id, j.queue, j.priority) for j in jobs], retry_after)
    refused = [job.id for job in jobs[sent:]]
    for i in sending[sent:]:
        answers[i] = BrokerUnavailable("broker unavailable", retry_after=retry_after)
    return refused


def _job_of(answer: Answer) -> JobRecord:
    assert isinstance(answer, Submitted)
    return answer.job
