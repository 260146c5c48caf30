"""Job events over a real Redis: from the process that commits to the processes that wait.

Each side has its own client, as a worker and an API process would. The
re-check stays at its default (5 s): a caller answered well inside it was
answered by the event.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grump.jobs.waiters import JobWaiters
from grump.redis_client import redis_client
from grump.settings import Settings
from tests.servers import ThrowawayRedis

pytestmark = pytest.mark.integration

RECHECK = Settings().result_recheck_seconds


def _waiters(url: str) -> JobWaiters:
    return JobWaiters(redis_client(url), RECHECK)


def _wait_subscribed(waiters: JobWaiters) -> None:
    assert waiters.subscribed.wait(5), "the waiters never subscribed"


def test_a_commit_elsewhere_answers_the_waiting_caller_in_milliseconds(redis_url: str) -> None:
    api, worker = _waiters(redis_url), _waiters(redis_url)
    job_id = uuid.uuid4()
    ended = threading.Event()
    latencies: list[float] = []
    try:
        # A first wait starts the subscription; the measured waits follow.
        api.wait_for(uuid.uuid4(), lambda: None, timeout=0.01)
        _wait_subscribed(api)
        for _ in range(20):
            ended.clear()
            committed: list[float] = []

            def commit(committed: list[float] = committed) -> None:
                ended.set()
                committed.append(time.perf_counter())
                worker.announce_final([job_id])

            threading.Timer(0.05, commit).start()
            assert api.wait_for(job_id, lambda: True if ended.is_set() else None, 10)
            latencies.append(time.perf_counter() - committed[0])
    finally:
        api.close()
        worker.close()
    latencies.sort()
    print(f"commit to answer: p50 {latencies[10] * 1000:.2f} ms, max {latencies[-1] * 1000:.2f} ms")
    assert latencies[-1] < RECHECK / 2


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_events_lost_in_a_redis_restart_never_hang_a_caller(throwaway: ThrowawayRedis) -> None:
    api, worker = _waiters(throwaway.url), _waiters(throwaway.url)
    ended_job, later_job = uuid.uuid4(), uuid.uuid4()
    ended, later = threading.Event(), threading.Event()
    answers: dict[str, float] = {}

    def caller(name: str, job_id: uuid.UUID, done: threading.Event) -> None:
        started = time.monotonic()
        if api.wait_for(job_id, lambda: True if done.is_set() else None, 30):
            answers[name] = time.monotonic() - started

    try:
        first = threading.Thread(target=caller, args=("ended", ended_job, ended))
        first.start()
        _wait_subscribed(api)
        throwaway.stop()
        assert _wait(lambda: not api.subscribed.is_set(), 5)
        ended.set()  # the job ends while Redis is away: its event is lost
        worker.announce_final([ended_job])
        throwaway.start()
        first.join(RECHECK + 5)
        assert "ended" in answers, "the caller hung on a lost event"
        # Subscribed again: the next event answers at once.
        _wait_subscribed(api)
        second = threading.Thread(target=caller, args=("later", later_job, later))
        second.start()
        time.sleep(0.1)
        later.set()
        worker.announce_final([later_job])
        second.join(RECHECK + 5)
    finally:
        api.close()
        worker.close()
    print(
        f"answered after the restart in {answers['ended']:.2f} s; then in {answers['later']:.3f} s"
    )
    assert answers["later"] < 0.1 + RECHECK / 2
