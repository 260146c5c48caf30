"""Job leases on the real Redis, and the claims and worker-loss counts built on them.

Every lease here runs on the default heartbeat (3 s) and lease time (10 s).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from grump.errors import DatabaseUnavailable
from grump.jobs.claims import claim_jobs, give_back, note_worker_lost, release_leases
from grump.jobs.leases import Leases, lease_key
from grump.jobs.models import CompleteJobRequest
from grump.jobs.submit import submit_job
from grump.ledger.db import session_scope
from grump.ledger.models import Job
from grump.ledger.money_models import BudgetHold
from grump.settings import Settings
from tests.conftest import Api, local_settings

pytestmark = pytest.mark.integration

DEFAULTS = Settings()
HEARTBEAT, LEASE = DEFAULTS.worker_heartbeat_seconds, DEFAULTS.worker_lease_seconds


def _leases(url: str) -> Leases:
    return Leases(url, HEARTBEAT, LEASE)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def _wait(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_held_lease_is_renewed_past_its_lease_time(redis_url: str, client: redis.Redis) -> None:
    leases = _leases(redis_url)
    job = uuid.uuid4()
    try:
        assert leases.take(job) is True
        lowest = LEASE
        renewed = False
        deadline = time.monotonic() + 3 * HEARTBEAT
        while time.monotonic() < deadline and not renewed:
            ttl = int(client.ttl(lease_key(job)))
            # Renewed by the helper: the lease time starts again instead of running down.
            renewed = ttl > lowest
            lowest = min(lowest, ttl)
            time.sleep(0.1)
        assert renewed and lowest > 0
        assert client.get(lease_key(job)) == leases.claimer.encode()
    finally:
        leases.close()


def test_a_job_runs_in_one_process_at_a_time(redis_url: str) -> None:
    first, second = _leases(redis_url), _leases(redis_url)
    job = uuid.uuid4()
    try:
        assert first.take(job) is True
        assert second.take(job) is False  # held by a live process
        assert first.take(job) is False  # already running here
        second.hold(job)  # a second message of it waits in the other process
        first.done(job)
        assert second.take(job) is True  # the lease is free: the other process may run it
    finally:
        first.close()
        second.close()


def test_two_deliveries_of_a_job_in_one_process_never_both_run_it(redis_url: str) -> None:
    """A restored message and a requeued one, taken by two pool threads at the same instant."""
    leases = _leases(redis_url)
    try:
        for _ in range(20):
            job, start = uuid.uuid4(), threading.Barrier(8)

            def take(job: uuid.UUID = job, start: threading.Barrier = start) -> bool | None:
                start.wait()
                return leases.take(job)

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: take(), range(8)))
            assert sum(answer is not False for answer in answers) == 1, answers
            leases.done(job)
    finally:
        leases.close()


def test_letting_go_deletes_the_lease(redis_url: str, client: redis.Redis) -> None:
    leases = _leases(redis_url)
    job = uuid.uuid4()
    try:
        leases.hold(job)
        assert leases.take(job) is True
        leases.done(job)
        assert client.exists(lease_key(job))  # still held by its message
        leases.release(job)
        assert _wait(lambda: not client.exists(lease_key(job)), 2)
        assert leases.held() == set()
    finally:
        leases.close()


def test_a_lease_taken_over_is_never_renewed_by_its_old_holder(
    redis_url: str, client: redis.Redis
) -> None:
    old, new = _leases(redis_url), _leases(redis_url)
    job = uuid.uuid4()
    try:
        assert old.take(job) is True
        client.delete(lease_key(job))  # as if it had lapsed
        assert new.take(job) is True
        time.sleep(HEARTBEAT + 0.5)
        assert client.get(lease_key(job)) == new.claimer.encode()
    finally:
        old.close()
        new.close()


HOLDER = """
import sys, time, uuid
from grump.jobs.leases import Leases
leases = Leases(sys.argv[1], {heartbeat}, {lease})
leases.take(uuid.UUID(sys.argv[2]))
print("held", flush=True)
time.sleep(600)
"""


def test_a_worker_killed_outright_loses_its_leases_at_once(
    redis_url: str, client: redis.Redis
) -> None:
    job = uuid.uuid4()
    code = HOLDER.format(heartbeat=HEARTBEAT, lease=LEASE)
    worker = subprocess.Popen(
        [sys.executable, "-c", code, redis_url, str(job)], stdout=subprocess.PIPE
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline() == b"held\n"
        assert client.exists(lease_key(job))
        os.kill(worker.pid, signal.SIGKILL)  # the worker alone: its helper sees it go
        killed = time.monotonic()
        assert _wait(lambda: not client.exists(lease_key(job)), 3)
        print(f"lease gone {time.monotonic() - killed:.2f} s after SIGKILL")
    finally:
        worker.kill()
        worker.wait(5)


@pytest.mark.parametrize("module", ["grump.jobs.lease_helper", "grump.jobs.leases"])
def test_the_helper_renews_what_it_is_told_and_drops_it_when_the_worker_goes(
    redis_url: str, client: redis.Redis, module: str
) -> None:
    # grump.jobs.leases: how a worker started before the helper had its own module starts it.
    job, claimer = uuid.uuid4(), "claimer-of-the-test"
    helper = subprocess.Popen([sys.executable, "-m", module, claimer], stdin=subprocess.PIPE)
    try:
        assert helper.stdin is not None
        helper.stdin.write(f"{redis_url}\n{HEARTBEAT}\n{LEASE}\n+{job}\n".encode())
        helper.stdin.flush()
        assert _wait(lambda: client.get(lease_key(job)) == claimer.encode(), 10)
        helper.stdin.close()  # as when the worker dies
        assert helper.wait(10) == 0
        assert not client.exists(lease_key(job))
    finally:
        helper.kill()
        helper.wait(5)


@pytest.fixture
def api(tmp_path: Path, redis_url: str) -> Iterator[Api]:
    instance = Api(local_settings(tmp_path, redis_url=redis_url, fallback_to_other_tier=False))
    try:
        yield instance
    finally:
        instance.runtime.dispose()


def _submit(api: Api) -> uuid.UUID:
    request = CompleteJobRequest.model_validate(
        {"kind": "complete", "input": {"messages": [{"role": "user", "content": "hi"}]}}
    )
    return submit_job(api.runtime, api.celery, "tenant-a", request).job.id


def _row(api: Api, job_id: uuid.UUID) -> Job:
    with session_scope(api.runtime.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def test_a_claim_records_its_claimer_and_a_retry_is_not_a_loss(api: Api) -> None:
    job_id = _submit(api)
    leases = api.runtime.leases
    assert leases is not None
    [claimed] = claim_jobs(api.runtime, [job_id])
    assert claimed.claimed_by == leases.claimer and claimed.worker_losses == 0
    give_back(api.runtime, job_id)
    release_leases(api.runtime, [job_id])
    assert (_row(api, job_id).status, _row(api, job_id).claimed_by) == ("queued", None)
    [again] = claim_jobs(api.runtime, [job_id])
    assert again.worker_losses == 0 and again.attempts == 2


def test_a_job_left_by_a_dead_claimer_is_taken_over_and_counted(api: Api, redis_url: str) -> None:
    job_id = _submit(api)
    dead = _leases(redis_url)
    assert dead.take(job_id) is True
    with session_scope(api.runtime.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.claimed_by = "running", dead.claimer
    assert claim_jobs(api.runtime, [job_id]) == []  # its claimer lives: not run twice
    dead.close()  # the claimer's process ends, and its leases with it
    [taken] = claim_jobs(api.runtime, [job_id])
    assert taken.worker_losses == 1 and taken.claimed_by != dead.claimer


def test_a_job_that_kills_its_workers_fails_and_releases_its_hold(api: Api) -> None:
    admin = {"Authorization": f"Bearer {api.new_key('tenant-a', admin=True)}"}
    created = api.client.put("/v1/budgets/tenant-a/daily", json={"limit": "5"}, headers=admin)
    assert created.status_code == 200, created.text
    job_id = _submit(api)
    with session_scope(api.runtime.sessions) as session:
        assert session.query(BudgetHold).filter_by(job_id=job_id).count() == 1
    for loss in range(1, api.settings.max_worker_losses):
        outcome = note_worker_lost(api.runtime, job_id)
        assert (
            outcome is not None and not outcome.failed and loss == _row(api, job_id).worker_losses
        )
    final = note_worker_lost(api.runtime, job_id)
    assert final is not None and final.failed
    row = _row(api, job_id)
    assert row.status == "failed" and row.error is not None
    assert row.error["code"] == "worker_lost" and "will not be run again" in row.error["message"]
    with session_scope(api.runtime.sessions) as session:
        assert session.query(BudgetHold).filter_by(job_id=job_id).count() == 0
    assert claim_jobs(api.runtime, [job_id]) == []  # never run again


def test_a_claim_the_ledger_refused_leaves_no_lease_behind(api: Api) -> None:
    job_id = _submit(api)
    leases = api.runtime.leases
    assert leases is not None
    api.runtime.engine.dispose()
    api.runtime.settings.database_url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    api.runtime.__dict__.pop("engine")
    api.runtime.__dict__.pop("sessions")
    with pytest.raises(DatabaseUnavailable):
        claim_jobs(api.runtime, [job_id])
    # The next delivery may run it: nothing here still holds it.
    assert leases.held() == set()
