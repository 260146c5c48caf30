"""Callers waiting on jobs: woken by a job's event, never hung by a lost one."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from grump.jobs.ended import EndedJobs
from grump.jobs.events import JobEvent
from grump.jobs.models import CompleteJobRequest
from grump.jobs.run import process_job
from grump.jobs.submit import submit_job
from grump.jobs.waiters import JobWaiters
from tests.conftest import Api

DEFAULT_RECHECK = 5.0


def test_an_event_wakes_the_caller_at_once() -> None:
    waiters = JobWaiters(None, DEFAULT_RECHECK)
    job_id = uuid.uuid4()
    done = threading.Event()
    threading.Timer(0.1, lambda: (done.set(), waiters.announce_final([job_id]))).start()
    started = time.monotonic()
    found = waiters.wait_for(job_id, lambda: "ended" if done.is_set() else None, timeout=30)
    assert found == "ended"
    # Well inside the re-check: the event, not the clock, answered.
    assert time.monotonic() - started < DEFAULT_RECHECK / 2
    assert waiters.waiting() == 0


def test_another_jobs_event_does_not_answer() -> None:
    waiters = JobWaiters(None, DEFAULT_RECHECK)
    mine, other = uuid.uuid4(), uuid.uuid4()
    checks: list[float] = []

    def check() -> str | None:
        checks.append(time.monotonic())
        return None

    threading.Timer(0.1, lambda: waiters.announce_final([other])).start()
    assert waiters.wait_for(mine, check, timeout=0.5) is None
    # Read at the start and once more at the deadline: never woken in between.
    assert len(checks) == 2 and checks[1] - checks[0] >= 0.45


def test_a_lost_event_costs_one_recheck_not_a_hung_caller() -> None:
    recheck = 0.3
    waiters = JobWaiters(None, recheck)
    ended_at = time.monotonic() + 0.1  # the job ends, and nobody says so
    started = time.monotonic()
    found = waiters.wait_for(
        uuid.uuid4(), lambda: "ended" if time.monotonic() >= ended_at else None, timeout=10
    )
    assert found == "ended" and time.monotonic() - started < 0.1 + recheck + 0.5


def test_an_event_from_another_thread_wakes_an_awaiting_caller_at_once() -> None:
    waiters = JobWaiters(None, DEFAULT_RECHECK)
    job_id = uuid.uuid4()
    done = threading.Event()

    async def check() -> str | None:
        return "ended" if done.is_set() else None

    async def wait() -> tuple[str | None, float]:
        # The event comes from a thread, as the listener's (or an embedded worker's) does.
        threading.Timer(0.1, lambda: (done.set(), waiters.announce_final([job_id]))).start()
        started = time.monotonic()
        found = await waiters.await_for(job_id, check, timeout=30)
        return found, time.monotonic() - started

    found, waited = asyncio.run(wait())
    assert found == "ended" and waited < DEFAULT_RECHECK / 2
    assert waiters.waiting() == 0


def test_an_awaiting_caller_rechecks_after_a_lost_event_and_gives_up_at_its_timeout() -> None:
    recheck = 0.3
    waiters = JobWaiters(None, recheck)
    ended_at = time.monotonic() + 0.1  # the job ends, and nobody says so
    checks: list[float] = []

    async def ended() -> str | None:
        return "ended" if time.monotonic() >= ended_at else None

    async def never() -> str | None:
        checks.append(time.monotonic())
        return None

    async def wait() -> tuple[str | None, float, str | None]:
        started = time.monotonic()
        found = await waiters.await_for(uuid.uuid4(), ended, timeout=10)
        waited = time.monotonic() - started
        return found, waited, await waiters.await_for(uuid.uuid4(), never, timeout=0.5)

    found, waited, timed_out = asyncio.run(wait())
    assert found == "ended" and waited < 0.1 + recheck + 0.5
    assert timed_out is None and checks[-1] - checks[0] >= 0.45


def test_a_thousand_awaiting_callers_share_one_thread() -> None:
    waiters = JobWaiters(None, DEFAULT_RECHECK)
    ids = [uuid.uuid4() for _ in range(1000)]
    ended: set[uuid.UUID] = set()

    def check(job_id: uuid.UUID) -> Callable[[], Awaitable[uuid.UUID | None]]:
        async def looked() -> uuid.UUID | None:
            return job_id if job_id in ended else None

        return looked

    async def wait() -> tuple[list[uuid.UUID | None], int, float]:
        calls = [asyncio.ensure_future(waiters.await_for(i, check(i), timeout=30)) for i in ids]
        await asyncio.sleep(0.2)
        assert waiters.waiting() == len(ids) and not any(c.done() for c in calls)
        threads = threading.active_count()

        def worker() -> None:
            ended.update(ids)
            waiters.announce_final(ids)

        started = time.monotonic()
        threading.Thread(target=worker).start()
        found = await asyncio.gather(*calls)
        return list(found), threads, time.monotonic() - started

    before = threading.active_count()
    found, threads, woken_in = asyncio.run(wait())
    assert found == ids and threads == before
    assert woken_in < DEFAULT_RECHECK / 2 and waiters.waiting() == 0


def test_deltas_reach_the_callers_of_their_job() -> None:
    waiters = JobWaiters(None, DEFAULT_RECHECK)
    job_id = uuid.uuid4()
    seen: list[JobEvent | None] = []
    token = waiters.watch(job_id, seen.append)
    waiters.publish(
        [JobEvent(job_id, "delta", {"text": "Hel"}), JobEvent(job_id, "delta", {"text": "lo"})]
    )
    waiters.unwatch(job_id, token)
    waiters.publish([JobEvent(job_id, "delta", {"text": "!"})])
    assert [e.data for e in seen if e is not None] == [{"text": "Hel"}, {"text": "lo"}]


def test_an_event_round_trips_through_its_message() -> None:
    event = JobEvent(uuid.uuid4(), "delta", {"text": "ü", "index": 2})
    assert JobEvent.decode(f"grump:job-events:{event.job_id}", event.encode()) == event
    assert JobEvent.decode("grump:job-events:not-a-job", event.encode()) is None
    assert JobEvent.decode(f"grump:job-events:{event.job_id}", b'{"kind": "other"}') is None


def test_a_read_with_wait_answers_when_the_worker_commits(api: Api) -> None:
    request = CompleteJobRequest.model_validate(
        {"kind": "complete", "input": {"messages": [{"role": "user", "content": "hi"}]}}
    )
    job_id = submit_job(api.runtime, api.celery, "tenant-a", request).job.id
    # Another tenant never waits on it: its read is a 404 at once.
    started = time.monotonic()
    other = api.client.get(f"/v1/jobs/{job_id}?wait=10", headers=api.auth(api.key_b))
    assert other.status_code == 404 and time.monotonic() - started < 1
    worker = threading.Timer(0.3, process_job, (api.runtime, job_id))
    worker.start()
    started = time.monotonic()
    answer = api.client.get(f"/v1/jobs/{job_id}?wait=10", headers=api.auth())
    waited = time.monotonic() - started
    worker.join()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "succeeded" and Decimal(body["cost"]) > 0
    assert 0.3 <= waited < DEFAULT_RECHECK / 2


def test_a_read_with_wait_gives_the_job_as_it_is_at_the_end_of_the_wait(api: Api) -> None:
    request = CompleteJobRequest.model_validate(
        {"kind": "complete", "input": {"messages": [{"role": "user", "content": "hi"}]}}
    )
    job_id = submit_job(api.runtime, api.celery, "tenant-a", request).job.id
    answer = api.client.get(f"/v1/jobs/{job_id}?wait=0.2", headers=api.auth())
    assert answer.status_code == 200 and answer.json()["status"] == "queued"
    too_long = api.client.get(f"/v1/jobs/{job_id}?wait=61", headers=api.auth())
    assert too_long.status_code == 422 and "wait" in too_long.text


class CountingLedger:
    """A stand-in for the ledger's read of ended jobs: which jobs have ended, and the reads made."""

    def __init__(self) -> None:
        self.ended: dict[uuid.UUID, Any] = {}
        self.reads: list[int] = []

    def load(self, job_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        self.reads.append(len(job_ids))
        return {i: self.ended[i] for i in job_ids if i in self.ended}


def test_many_callers_woken_together_are_read_for_in_a_few_queries() -> None:
    ledger = CountingLedger()
    waiters = JobWaiters(None, DEFAULT_RECHECK)
    ended = EndedJobs(waiters, ledger.load, DEFAULT_RECHECK)
    ids = [uuid.uuid4() for _ in range(300)]
    answers: dict[uuid.UUID, Any] = {}
    callers = [
        threading.Thread(target=lambda i=i: answers.setdefault(i, ended.wait(i, 10))) for i in ids
    ]
    for caller in callers:
        caller.start()
    while ended.waiting() < len(ids):
        time.sleep(0.01)
    time.sleep(0.2)
    reads_before = len(ledger.reads)
    for job_id in ids:
        ledger.ended[job_id] = f"row of {job_id}"
    waiters.announce_final(ids)
    for caller in callers:
        caller.join(5)
    ended.close()
    assert answers == {i: f"row of {i}" for i in ids}
    # 300 callers woken at once: a handful of batched reads, not one each.
    assert len(ledger.reads) - reads_before <= 5, ledger.reads


def test_a_job_that_ended_unannounced_is_found_by_the_sweep() -> None:
    recheck = 0.3
    ledger = CountingLedger()
    ended = EndedJobs(JobWaiters(None, recheck), ledger.load, recheck)
    job_id = uuid.uuid4()
    threading.Timer(0.1, lambda: ledger.ended.setdefault(job_id, "row")).start()
    started = time.monotonic()
    assert ended.wait(job_id, 10) == "row"
    assert time.monotonic() - started < 0.1 + recheck + 0.5
    ended.close()


async def _await_three(ended: EndedJobs, ids: list[uuid.UUID]) -> list[Any]:
    return list(await asyncio.gather(*(ended.await_ended(i, 5) for i in ids)))


def test_callers_on_an_event_loop_are_answered_too() -> None:
    ledger = CountingLedger()
    waiters = JobWaiters(None, DEFAULT_RECHECK)
    ended = EndedJobs(waiters, ledger.load, DEFAULT_RECHECK)
    ids = [uuid.uuid4() for _ in range(3)]

    def finish() -> None:
        for job_id in ids:
            ledger.ended[job_id] = str(job_id)
        waiters.announce_final(ids)

    threading.Timer(0.2, finish).start()
    assert asyncio.run(_await_three(ended, ids)) == [str(i) for i in ids]
    ended.close()
