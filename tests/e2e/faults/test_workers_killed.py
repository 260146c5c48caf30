"""Workers SIGKILLed again and again mid-run: every job succeeds, charged exactly once."""

from __future__ import annotations

import time

import pytest

from tests.e2e.faults.conftest import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

JOBS = 200
WORKERS = 3
KILLS = 5
THREADS_PER_WORKER = 2


def test_jobs_survive_workers_killed_five_times(cluster: Cluster) -> None:
    cluster.programs.env["GRUMP_LLM_CONCURRENCY"] = str(THREADS_PER_WORKER)
    cluster.prepare()
    cluster.start_api()
    workers = [cluster.start_worker() for _ in range(WORKERS)]
    ids = cluster.submit_accepted(JOBS, "kill")

    unfinished_at_kills = []
    for kill in range(KILLS):
        time.sleep(1.5)
        unfinished_at_kills.append(JOBS - cluster.ledger.statuses(ids).get("succeeded", 0))
        victim = workers[kill % WORKERS]
        cluster.programs.kill(victim)
        workers[kill % WORKERS] = cluster.start_worker()

    # Every kill must land mid-run, or the test proves nothing.
    assert unfinished_at_kills[-1] > 0, unfinished_at_kills
    statuses = cluster.wait_final(ids, timeout=90)
    assert statuses == {"succeeded": JOBS}, (statuses, cluster.diagnostics())
    cluster.assert_charged_once(ids)
    # A provider call repeated for a job can only be one that was in flight in a killed
    # worker: a job whose result was committed is never called again.
    repeated_calls = cluster.nim.chat_calls() - JOBS
    print(f"unfinished at kills {unfinished_at_kills}; repeated provider calls {repeated_calls}")
    assert 0 <= repeated_calls <= KILLS * THREADS_PER_WORKER
    cluster.assert_budget_settled()
