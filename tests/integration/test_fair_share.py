"""Fair share on real Postgres and Redis: admission, release on a job's end, weights, sweeps."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.celery.queues import ECONOMY_QUEUE, redis_priority_keys
from grump.jobs import admission, rows
from grump.jobs.models import CompleteJobRequest
from grump.jobs.recovery import recover_lost_jobs
from grump.jobs.requeue import requeue_stuck_jobs
from grump.jobs.submit import submit_job
from grump.ledger.db import session_scope, utcnow
from grump.ledger.keys import create_api_key
from grump.ledger.models import Job
from grump.runtime import Runtime
from grump.settings import Settings

pytestmark = pytest.mark.integration
MODEL = "moonshotai/kimi-k2.5"  # pinned to the economy queue


def request(text: str, priority: int = 5) -> CompleteJobRequest:
    return CompleteJobRequest.model_validate(
        {
            "kind": "complete",
            "priority": priority,
            "input": {
                "model": MODEL,
                "max_tokens": 8,
                "messages": [{"role": "user", "content": text}],
            },
        }
    )


class Ledger:
    def __init__(self, settings: Settings, redis_url: str) -> None:
        self.runtime = Runtime(settings)
        self.celery = create_celery(settings, self.runtime)
        self.redis = redis.Redis.from_url(redis_url)

    def submit(self, tenant: str, count: int, priority: int = 5) -> list[uuid.UUID]:
        return [
            submit_job(
                self.runtime, self.celery, tenant, request(f"{tenant} {uuid.uuid4()}", priority)
            ).job.id
            for _ in range(count)
        ]

    def messages(self) -> int:
        return sum(int(self.redis.llen(k)) for k in redis_priority_keys(ECONOMY_QUEUE))

    def held(self, tenant: str) -> list[uuid.UUID]:
        with self.runtime.sessions() as session:
            return list(
                session.scalars(
                    select(Job.id).where(
                        Job.tenant == tenant, Job.status == "queued", Job.enqueued_at.is_(None)
                    )
                )
            )

    def end(self, job_ids: list[uuid.UUID], status: str = "succeeded") -> None:
        """A job's end committed with no release after it, as a crash in between leaves it."""
        with session_scope(self.runtime.sessions) as session:
            session.execute(update(Job).where(Job.id.in_(job_ids)).values(status=status))


@pytest.fixture
def settings(real_settings: Settings) -> Settings:
    return real_settings.model_copy(
        update={"fair_share": True, "fair_share_slots": 3, "fair_share_weights": "paid=2"}
    )


@pytest.fixture
def ledger(settings: Settings, redis_url: str) -> Iterator[Ledger]:
    built = Ledger(settings, redis_url)
    yield built
    built.runtime.dispose()


def test_a_tenant_past_its_slots_is_held_and_another_tenant_goes_straight_through(
    ledger: Ledger,
) -> None:
    noisy = ledger.submit("noisy", 8)
    assert ledger.messages() == 3
    assert set(ledger.held("noisy")) == set(noisy[3:])
    ledger.submit("quiet", 2)
    assert ledger.messages() == 5 and ledger.held("quiet") == []
    ledger.submit("paid", 7)  # weight 2: six slots
    assert ledger.messages() == 11 and len(ledger.held("paid")) == 1


def test_a_job_that_ends_releases_its_tenants_next_by_priority(ledger: Ledger) -> None:
    first = ledger.submit("acme", 3)
    low, urgent = ledger.submit("acme", 1, priority=1), ledger.submit("acme", 1, priority=9)
    assert ledger.messages() == 3
    ledger.end(first[:1])
    assert admission.job_ended(ledger.runtime, "acme", ECONOMY_QUEUE) == 1
    assert ledger.held("acme") == low and ledger.messages() == 4
    assert admission.job_ended(ledger.runtime, "acme", ECONOMY_QUEUE) == 0  # no slot free
    assert urgent[0] not in ledger.held("acme")


def test_a_lost_release_is_swept_and_a_held_job_is_never_requeued_as_stuck(ledger: Ledger) -> None:
    jobs = ledger.submit("acme", 6)
    with session_scope(ledger.runtime.sessions) as session:  # all far past their deadline
        session.execute(update(Job).values(deadline_at=utcnow() - timedelta(seconds=1)))
    ledger.redis.delete(*redis_priority_keys(ECONOMY_QUEUE))  # and the 3 messages lost
    # The 3 published ones are sent again; the held ones wait for their release.
    assert requeue_stuck_jobs(ledger.runtime, ledger.celery) == 3
    assert len(ledger.held("acme")) == 3 and ledger.messages() == 3
    ledger.end(jobs[:2], "failed")  # ended, their worker dead before releasing anything
    assert admission.sweep(ledger.runtime, ledger.celery) == 2
    assert ledger.held("acme") == [jobs[5]] and ledger.messages() == 5
    assert admission.sweep(ledger.runtime, ledger.celery) == 0


def test_a_workers_recovery_pass_sweeps_lost_releases(ledger: Ledger) -> None:
    jobs = ledger.submit("acme", 4)
    ledger.end(jobs[:1])  # its worker died before releasing the held one
    assert ledger.held("acme") == [jobs[3]]
    recover_lost_jobs(ledger.runtime, ledger.celery)
    assert ledger.held("acme") == [] and ledger.messages() == 4


def test_cancelling_a_published_job_releases_the_next(ledger: Ledger) -> None:
    jobs = ledger.submit("acme", 4)
    with session_scope(ledger.runtime.sessions) as session:
        assert rows.cancel(session, "acme", jobs[0])
    app = create_app(ledger.runtime.settings, ledger.runtime, ledger.celery)
    with session_scope(ledger.runtime.sessions) as session:
        key = create_api_key(session, "acme")
    with TestClient(app) as client:
        answer = client.delete(f"/v1/jobs/{jobs[1]}", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    # Two slots freed, one held job: the route's release publishes it.
    assert ledger.held("acme") == [] and ledger.messages() == 4


def test_with_fair_share_turned_off_the_sweep_releases_every_held_job(
    ledger: Ledger, settings: Settings, redis_url: str
) -> None:
    ledger.submit("acme", 5)
    off = Ledger(settings.model_copy(update={"fair_share": False}), redis_url)
    try:
        assert admission.sweep(off.runtime, off.celery) == 2
        assert ledger.held("acme") == [] and ledger.messages() == 5
    finally:
        off.runtime.dispose()


def test_admission_is_exact_when_submits_race(ledger: Ledger) -> None:
    barrier = threading.Barrier(12)

    def one() -> None:
        barrier.wait()
        ledger.submit("acme", 1)

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ledger.messages() == 3 and len(ledger.held("acme")) == 9


def test_a_worker_runs_every_held_job_as_the_tenants_jobs_end(ledger: Ledger) -> None:
    jobs = ledger.submit("acme", 10)
    with start_worker(
        ledger.celery,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        queues=[ECONOMY_QUEUE],
        loglevel="WARNING",
    ):
        deadline = time.monotonic() + 30
        done = 0
        while time.monotonic() < deadline and done < len(jobs):
            with ledger.runtime.sessions() as session:
                done = int(
                    session.scalar(
                        select(func.count()).select_from(Job).where(Job.status == "succeeded")
                    )
                    or 0
                )
            time.sleep(0.05)
    assert done == len(jobs)
