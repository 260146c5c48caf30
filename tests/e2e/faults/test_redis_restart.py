"""Redis stopped and started mid-run: 503 while down, nothing accepted is lost."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from tests.e2e.faults.conftest import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

JOBS_BEFORE = 60
JOBS_AFTER = 20


def _wait_succeeded(cluster: Cluster, ids: list[uuid.UUID], at_least: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while cluster.ledger.statuses(ids).get("succeeded", 0) < at_least:
        assert time.monotonic() < deadline, cluster.diagnostics()
        time.sleep(0.1)


def _wait_maintenance_task_received(cluster: Cluster, timeout: float) -> None:
    log = next(p for p in cluster.programs.logs.glob("worker-cpu-*.log"))
    seen = log.read_text(errors="replace").count("requeue_stuck_jobs[")
    deadline = time.monotonic() + timeout
    while log.read_text(errors="replace").count("requeue_stuck_jobs[") == seen:
        assert time.monotonic() < deadline, "beat sent no maintenance task"
        time.sleep(0.01)


def _supervise(cluster: Cluster, worker: subprocess.Popen[bytes], tier: str) -> None:
    """Do what a supervisor does: restart a worker that exited on failure.

    Celery's prefork worker can die when Redis drops while it acks a message
    (kombu raises AttributeError from the closed channel: "Unrecoverable
    error"). That is survivable only if the exit is loud: a worker that exits 0
    is one a restart-on-failure supervisor leaves dead.
    """
    time.sleep(2.0)
    code = worker.poll()
    if code is not None:
        assert code != 0, "a worker stopped by a broker failure exited 0"
        print(f"the {tier} worker exited with {code} in the Redis restart; restarted")
        cluster.start_worker(tier)


def test_nothing_accepted_is_lost_when_redis_restarts(cluster: Cluster) -> None:
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
    cpu_worker = cluster.start_worker("cpu")  # runs beat's requeue_stuck_jobs
    cluster.programs.start("beat", name="beat")
    accepted = cluster.submit_accepted(JOBS_BEFORE, "before")
    # Stop Redis mid-run: some jobs done, some running, the rest still queued in Redis.
    _wait_succeeded(cluster, accepted, at_least=10, timeout=30)
    # ... and while the CPU worker runs a maintenance task, whose ack then meets a dead
    # connection (the prefork worker's event loop has died of exactly that).
    _wait_maintenance_task_received(cluster, timeout=10)

    cluster.redis.stop()
    down = cluster.submit("while-down")
    assert down.status_code == 503, down.text
    assert int(down.headers["Retry-After"]) > 0
    time.sleep(2.0)
    cluster.redis.start()
    _supervise(cluster, cpu_worker, "cpu")

    # Jobs submitted after the restart must finish: a worker that silently stopped
    # consuming after the reconnect would leave them queued.
    after = [cluster.submit_until_accepted(f"after-{i}", timeout=20) for i in range(JOBS_AFTER)]
    statuses = cluster.wait_final(after, timeout=40)
    assert statuses == {"succeeded": JOBS_AFTER}, (statuses, cluster.diagnostics())

    # Jobs whose messages died with Redis come back through requeue_stuck_jobs.
    accepted += after
    statuses = cluster.wait_final(accepted, timeout=40)
    assert statuses == {"succeeded": len(accepted)}, (statuses, cluster.diagnostics())
    cluster.assert_charged_once(accepted)
    cluster.assert_budget_settled()
    # The restart did lose queued messages (no persistence), so the requeue did real work.
    unfinished = JOBS_BEFORE - 10
    requeued = cluster.diagnostics_full().count("requeued stuck job")
    print(f"jobs requeued after the Redis restart: {requeued} (at most {unfinished} lost)")
    assert requeued > 0
