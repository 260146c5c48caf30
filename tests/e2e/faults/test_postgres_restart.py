"""PostgreSQL restarted mid-run: 503 while down, no job and no cost event lost."""

from __future__ import annotations

import time

import pytest

from tests.e2e.faults.conftest import BOTH_BROKERS, Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

JOBS = 60


@BOTH_BROKERS
def test_no_cost_event_is_lost_when_postgres_restarts(cluster: Cluster) -> None:
    cluster.programs.env.update(
        {
            "GRUMP_LLM_CONCURRENCY": "2",
            "GRUMP_REQUEUE_INTERVAL_SECONDS": "2",
            "GRUMP_JOB_DEADLINE_SECONDS": "8",
        }
    )
    cluster.prepare()
    cluster.start_api()
    for _ in range(2):
        cluster.start_worker("llm")
    cluster.start_worker("cpu")
    cluster.programs.start("beat", name="beat")
    ids = cluster.submit_accepted(JOBS, "pg")
    deadline = time.monotonic() + 30
    while cluster.ledger.statuses(ids).get("succeeded", 0) < 10:
        assert time.monotonic() < deadline, cluster.diagnostics()
        time.sleep(0.1)

    cluster.postgres.stop("fast")
    try:
        down = cluster.submit("while-down")
        assert down.status_code == 503, down.text
        assert int(down.headers["Retry-After"]) > 0
        status = cluster.http.get(f"/v1/jobs/{ids[0]}")
        assert status.status_code == 503, status.text
        time.sleep(3.0)
    finally:
        cluster.postgres.start()

    statuses = cluster.wait_final(ids, timeout=60)
    assert statuses == {"succeeded": JOBS}, (statuses, cluster.diagnostics())
    cluster.assert_charged_once(ids)
    cluster.assert_budget_settled()
    print(f"provider calls for {JOBS} jobs: {cluster.nim.chat_calls()}")
