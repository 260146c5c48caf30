"""Fair share's pure parts: weights, a tenant's slots, which queues are admitted, release order."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.orm import Session

from grump.celery.profiles import default_capacity
from grump.celery.queues import ECONOMY_QUEUE as ECONOMY
from grump.jobs.admission import applies, fair_queues, release, slots
from grump.jobs.capacity import live_total
from grump.jobs.coalesce import Coalescer
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.settings import Settings, parse_weights
from tests.conftest import Api

BROKERED = {"broker_url": "redis://127.0.0.1:6379/0", "database_url": "postgresql://x/y"}


def test_weights_parse_tenant_equals_weight() -> None:
    assert parse_weights("") == {}
    assert parse_weights(" acme = 2 , free=0.5,") == {"acme": 2.0, "free": 0.5}
    assert parse_weights("team=a=3") == {"team=a": 3.0}  # the last '=' splits


@pytest.mark.parametrize("spec", ["acme", "acme=", "=2", "acme=0", "acme=-1", "acme=x", "a=inf"])
def test_a_bad_weight_is_refused_naming_the_entry(spec: str) -> None:
    with pytest.raises(ValueError, match="tenant=weight"):
        parse_weights(spec)
    with pytest.raises(ValidationError, match="fair_share_weights"):
        Settings(fair_share_weights=spec)


def test_a_tenants_slots_are_the_queues_capacity_times_its_weight() -> None:
    settings = Settings(**BROKERED, fair_share_weights="paid=2,free=0.25,tiny=0.001")
    assert slots(settings, "anyone", 128) == 128
    assert slots(settings, "anyone", 384) == 384  # three workers: a tenant alone fills them
    assert slots(settings, "paid", 128) == 256
    assert slots(settings, "free", 128) == 32
    assert slots(settings, "tiny", 128) == 1  # never none: every tenant's jobs run
    # GRUMP_FAIR_SHARE_SLOTS fixes the capacity, whatever the workers registered.
    fixed = Settings(**BROKERED, fair_share_slots=10, fair_share_weights="paid=3")
    assert slots(fixed, "paid", 500) == 30 and slots(fixed, "anyone", 500) == 10


def test_a_queues_default_capacity_is_one_worker_of_its_kind() -> None:
    settings = Settings(**BROKERED, llm_concurrency=16, cpu_concurrency=2)
    assert default_capacity(settings, ECONOMY) == 16
    assert default_capacity(settings, "complete.premium") == 16
    # A cpu worker reserves three batches' messages per process.
    assert default_capacity(settings, "parse") == 2 * 150


def test_admission_applies_by_default_to_the_llm_queues_and_never_embedded() -> None:
    assert not applies(Settings(**BROKERED, fair_share=False), "complete.economy")
    assert not Settings(**BROKERED).fair_share  # off by default
    settings = Settings(**BROKERED, fair_share=True)
    assert fair_queues(settings) == {"complete.economy", "complete.premium"}
    assert applies(settings, "complete.economy") and applies(settings, "complete.premium")
    assert not applies(settings, "parse") and not applies(settings, "embed")
    # The parse queue may be named; embed jobs are batched across jobs, so it never is.
    named = Settings(**BROKERED, fair_share=True, fair_share_queues="parse,embed,complete.premium")
    assert fair_queues(named) == {"parse", "complete.premium"}
    assert not applies(Settings(fair_share=True), "complete.economy")  # embedded: one process


def _job(session: Session, tenant: str, priority: int, age: int, published: bool) -> uuid.UUID:
    at = datetime(2026, 12, 4, 12, tzinfo=UTC) + timedelta(seconds=age)
    job = Job(
        id=uuid.uuid4(),
        tenant=tenant,
        kind="complete",
        status="queued",
        priority=priority,
        tier="economy",
        queue=ECONOMY,
        input={},
        fingerprint=uuid.uuid4().hex,
        created_at=at,
        enqueued_at=at if published else None,
        deadline_at=at,
    )
    session.add(job)
    session.flush()
    return job.id


def test_held_jobs_are_released_by_priority_then_age_up_to_the_free_slots(api: Api) -> None:
    settings = api.settings
    with session_scope(api.runtime.sessions) as session:
        running = _job(session, "acme", 5, 0, published=True)
        old_low = _job(session, "acme", 2, 1, published=False)
        urgent = _job(session, "acme", 9, 5, published=False)
        old_mid = _job(session, "acme", 5, 2, published=False)
        new_mid = _job(session, "acme", 5, 3, published=False)
        other = _job(session, "globex", 9, 0, published=False)
    with session_scope(api.runtime.sessions) as session:
        first = release(session, settings, "acme", ECONOMY, limit=3)  # one slot taken
    assert [job_id for job_id, _ in first] == [urgent, old_mid]
    assert [priority for _, priority in first] == [9, 5]
    with session_scope(api.runtime.sessions) as session:
        assert release(session, settings, "acme", ECONOMY, limit=3) == []  # all 3 published
        session.execute(update(Job).where(Job.id == running).values(status="succeeded"))
    with session_scope(api.runtime.sessions) as session:
        assert release(session, settings, "acme", ECONOMY, limit=3) == [(new_mid, 5)]
        session.execute(update(Job).where(Job.id.in_([urgent, old_mid])).values(status="failed"))
    with session_scope(api.runtime.sessions) as session:
        assert release(session, settings, "acme", ECONOMY, limit=3) == [(old_low, 2)]
        released = session.get(Job, old_low)
        assert released is not None and released.enqueued_at is not None
        # Its deadline starts at its release, not at its submit: it waited, it was not stuck.
        assert released.deadline_at > utcnow()
        held = session.get(Job, other)
        assert held is not None and held.enqueued_at is None  # another tenant's: untouched


def test_a_release_due_while_another_thread_releases_runs_after_it_never_lost() -> None:
    coalescer = Coalescer()
    key = ("acme", ECONOMY)
    inside, go_on = threading.Event(), threading.Event()
    passes: list[str] = []

    def slow_pass() -> int:
        passes.append("first")
        inside.set()
        go_on.wait(5)
        return 1

    first = threading.Thread(target=lambda: coalescer.run(key, slow_pass))
    first.start()
    inside.wait(5)
    # A second end while the first pass runs: it returns at once, its pass is owed.
    assert coalescer.run(key, lambda: passes.append("second") or 1) == 0
    assert coalescer.run(("globex", ECONOMY), lambda: 1) == 1  # another key: its own pass
    go_on.set()
    first.join(5)
    assert passes == ["first", "first"]  # the owed pass ran, by the thread already at it
    assert coalescer.run(key, lambda: 2) == 2  # and nothing stays busy after


def test_a_registration_counts_until_its_expiry_and_a_garbled_one_never() -> None:
    entries = {b"a": b"8 200.0", b"b": b"4 100.0", b"c": b"nonsense", "d": "16 300"}
    assert live_total(entries, now=150.0) == (24, [b"b", b"c"])
    assert live_total({}, now=0.0) == (0, [])
