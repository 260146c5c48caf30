"""LLM workers SIGKILLed mid-run, on default settings: every job final within seconds, charged once.

Nothing is shortened: the visibility timeout stays at its hour and the job
deadline at its ten minutes, so what brings the killed workers' jobs back is
the leases (``grump.jobs.leases``) and the live workers' recovery passes; on
RabbitMQ, also the broker itself, which hands a dead connection's unacknowledged
messages to the live workers as soon as the connection drops.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.faults.conftest import BOTH_BROKERS, Cluster
from tests.fakes.server import slow

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

JOBS = 100
WORKERS = 3
KILLS = 3
# A provider that answers in 2 s keeps the run going while the workers are killed.
CALL_MS = 2000
# What the issue promises: every job final within this after the last kill.
RECOVERED_WITHIN_SECONDS = 30


@BOTH_BROKERS
def test_every_job_is_final_within_seconds_of_three_kills(cluster: Cluster) -> None:
    # Eight calls per worker, not the default 128: with 128 the first worker up takes all
    # 100 jobs and the later kills land on idle workers. Every setting the recovery
    # depends on (lease, heartbeat, recovery interval, visibility timeout) is its default.
    cluster.programs.env["GRUMP_LLM_CONCURRENCY"] = "8"
    cluster.nim.script([slow(CALL_MS).to_json()] * (3 * JOBS))
    cluster.prepare()
    cluster.start_api()
    workers = [cluster.start_worker() for _ in range(WORKERS)]
    ids = cluster.submit_accepted(JOBS, "kill")

    # The workers are up and calling once a first round of calls has come back.
    assert cluster.wait_succeeded(ids, 1, timeout=60), cluster.diagnostics()
    running_at_kills, unfinished_at_kills = [], []
    for kill in range(KILLS):
        time.sleep(1.0)
        statuses = cluster.ledger.statuses(ids)
        running_at_kills.append(statuses.get("running", 0))
        unfinished_at_kills.append(JOBS - statuses.get("succeeded", 0))
        victim = workers[kill % WORKERS]
        # The whole process group, lease helper included: as a node or a container dies.
        cluster.programs.kill(victim)
        workers[kill % WORKERS] = cluster.start_worker()
    last_kill = time.monotonic()

    # Every kill must land mid-run, or the test proves nothing.
    assert min(running_at_kills) > 0 and unfinished_at_kills[-1] > 0, running_at_kills
    statuses = cluster.wait_final(ids, timeout=RECOVERED_WITHIN_SECONDS)
    recovered_after = time.monotonic() - last_kill
    print(
        f"{cluster.broker}: running at kills {running_at_kills}, "
        f"unfinished {unfinished_at_kills}; "
        f"all final {recovered_after:.1f} s after the last kill"
    )
    assert statuses == {"succeeded": JOBS}, (statuses, cluster.diagnostics())
    cluster.assert_charged_once(ids)
    # A prompt goes to the provider again only if its call was in flight in a killed worker.
    per_prompt = cluster.nim.calls_per_prompt()
    assert len(per_prompt) == JOBS and max(per_prompt.values()) <= 2, per_prompt.most_common(3)
    cluster.assert_budget_settled()
