"""The broker's Redis reaches ``maxmemory`` (policy noeviction) mid-run, then gets room again.

While Redis refuses writes a submit is answered 503 with Retry-After and its job
is recorded ``rejected``, never a 500 and never a job left queued with no
message; what was accepted before finishes; once memory is freed the API takes
jobs again and they run, with nothing restarted by hand.
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest
import redis
from sqlalchemy import func, select

from grump.ledger.models import Job
from tests.e2e.faults.conftest import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

JOBS_BEFORE = 60
SUBMITS_WHILE_FULL = 10
JOBS_AFTER = 10
HEADROOM_BYTES = 4 << 20
OVER_BY_BYTES = 1 << 20
BALLAST = "test:ballast:"


def _fill(client: redis.Redis) -> int:
    """Set maxmemory a little above what Redis holds, then write until it says OOM."""
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", str(used + HEADROOM_BYTES))
    written = 0
    for size in (256 << 10, 16 << 10, 1 << 10, 64):
        while True:
            try:
                client.set(f"{BALLAST}{written}", b"x" * size)
            except redis.exceptions.OutOfMemoryError:
                break
            written += 1
    # Over the limit by more than a message: a worker's pop frees too little to write again.
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", str(used - OVER_BY_BYTES))
    return written


def _free(client: redis.Redis) -> None:
    for key in client.scan_iter(match=f"{BALLAST}*", count=1000):
        client.delete(key)


def _supervise(cluster: Cluster, worker: subprocess.Popen[bytes]) -> bool:
    """Do what a supervisor does: restart a worker that exited on failure.

    Celery's worker cannot acknowledge a message while Redis is over maxmemory
    (kombu acks in MULTI/EXEC, and Redis refuses every command queued in a
    transaction when out of memory): it stops with "Unrecoverable error". That
    is survivable only if it exits non-zero, so that a supervisor restarts it.
    """
    code = worker.poll()
    if code is None:
        return False
    assert code != 0, "a worker stopped by a full Redis exited 0"
    cluster.start_worker("llm")
    return True


def _every_status(cluster: Cluster) -> dict[str, int]:
    with cluster.ledger.engine.connect() as connection:
        rows = connection.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {str(status): int(count) for status, count in rows}


def test_a_full_redis_answers_503_and_loses_nothing(cluster: Cluster) -> None:
    env = cluster.programs.env
    env.update({"GRUMP_LLM_CONCURRENCY": "2"})
    cluster.prepare()
    cluster.start_api()
    worker = cluster.start_worker("llm")
    client = redis.Redis.from_url(cluster.redis.url)
    try:
        before = cluster.submit_accepted(JOBS_BEFORE, "before")
        deadline = time.monotonic() + 30
        while cluster.ledger.statuses(before).get("succeeded", 0) < 5:  # the worker is at work
            assert time.monotonic() < deadline, cluster.diagnostics()
            time.sleep(0.1)
        written = _fill(client)
        accepted_while_full: list[uuid.UUID] = []
        for i in range(SUBMITS_WHILE_FULL):
            answer = cluster.submit(f"full-{i}")
            assert answer.status_code in (202, 503), answer.text
            if answer.status_code == 503:
                assert int(answer.headers["Retry-After"]) > 0
            else:
                accepted_while_full.append(uuid.UUID(answer.json()["id"]))
        time.sleep(2.0)  # full for a while: the worker meets it too

        _free(client)
        freed = time.monotonic()
        restarted = _supervise(cluster, worker)
        first = cluster.submit_until_accepted("after-0", timeout=20)
        took_jobs_in = time.monotonic() - freed
        after = [first] + [
            cluster.submit_until_accepted(f"after-{i}", timeout=20) for i in range(1, JOBS_AFTER)
        ]
        accepted = before + accepted_while_full + after
        statuses = cluster.wait_final(accepted, timeout=45)
        all_done_in = time.monotonic() - freed
        assert statuses == {"succeeded": len(accepted)}, (statuses, cluster.diagnostics())
        cluster.assert_charged_once(accepted)
        cluster.assert_budget_settled()
        # Every job the API refused is on record as rejected, none left without a message.
        refused_count = SUBMITS_WHILE_FULL - len(accepted_while_full)
        assert refused_count > 0, "Redis was full yet every submit was taken"
        everything = _every_status(cluster)
        assert everything == {"succeeded": len(accepted), "rejected": refused_count}, everything
        print(
            f"Redis full ({written} ballast keys): {refused_count}/{SUBMITS_WHILE_FULL} submits"
            f" answered 503; after freeing memory the API took jobs in {took_jobs_in:.2f}s and"
            f" all {len(accepted)} accepted jobs succeeded {all_done_in:.1f}s after"
            f" (worker restarted after exiting while full: {restarted})"
        )
    finally:
        client.close()
