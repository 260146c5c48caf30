"""A RabbitMQ node crashed and started again mid-run: 503 while down, nothing accepted is lost.

The broker's counterpart of ``test_redis_restart``, on a node of the test's own. A quorum
queue keeps every message it confirmed across the crash, so, unlike a Redis without
persistence, no job needs beat's requeue: the job deadline stays at its default ten
minutes, and every job must still be final within a minute.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.faults.conftest import Cluster
from tests.e2e.faults.test_redis_restart import (
    _supervise,
    _wait_succeeded,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

JOBS_BEFORE = 60
JOBS_AFTER = 20


@pytest.mark.parametrize("broker", ["rabbitmq-node"], indirect=True)
def test_nothing_accepted_is_lost_when_rabbitmq_restarts(cluster: Cluster) -> None:
    node = cluster.rabbitmq
    assert node is not None
    cluster.programs.env["GRUMP_LLM_CONCURRENCY"] = "2"
    cluster.prepare()
    cluster.start_api()
    llm_workers = [cluster.start_worker("llm") for _ in range(2)]
    cpu_worker = cluster.start_worker("cpu")
    cluster.programs.start("beat", name="beat")
    accepted = cluster.submit_accepted(JOBS_BEFORE, "before")
    # Crash the node mid-run: some jobs done, some running (unacknowledged), the rest queued.
    _wait_succeeded(cluster, accepted, at_least=10, timeout=30)

    node.stop()
    down = cluster.submit("while-down")
    assert down.status_code == 503, down.text
    assert int(down.headers["Retry-After"]) > 0
    ready = cluster.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["broker"] == "unreachable"
    time.sleep(2.0)
    restarted = time.monotonic()
    node.start()
    for worker in llm_workers:
        _supervise(cluster, worker, "llm")
    _supervise(cluster, cpu_worker, "cpu")

    # Jobs submitted after the restart finish: the workers consume again after reconnecting.
    after = [cluster.submit_until_accepted(f"after-{i}", timeout=30) for i in range(JOBS_AFTER)]
    accepted += after
    statuses = cluster.wait_final(accepted, timeout=60)
    final_after = time.monotonic() - restarted
    assert statuses == {"succeeded": len(accepted)}, (statuses, cluster.diagnostics())
    cluster.assert_charged_once(accepted)
    cluster.assert_budget_settled()
    # The quorum queues kept the messages: nothing was found again by beat's requeue.
    assert cluster.diagnostics_full().count("requeued stuck job") == 0
    print(f"rabbitmq: all {len(accepted)} jobs final {final_after:.1f} s after the node restarted")
