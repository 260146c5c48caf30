"""A 120 s provider call runs once on a live worker, while jobs that kill their workers are stopped.

On default settings (a 3 s heartbeat, a 10 s lease): the long call's job is
never delivered again while its worker lives, though recovery passes run all
along in every worker. Beside it, a complete job whose call makes its llm worker
exit hard, and a parse job that makes its cpu pool process exhaust its memory,
each fail with ``worker_lost`` after ``GRUMP_MAX_WORKER_LOSSES`` (3) deaths, their
reservations released, and are never run again.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from typing import Any

import pytest

from tests.e2e.crashing_worker import EXHAUST_MEMORY, EXIT_HARD
from tests.e2e.faults.conftest import Cluster
from tests.fakes.server import slow

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

LONG_CALL_SECONDS = 120
CRASHING = "tests.e2e.crashing_worker"
MAX_LOSSES = 3  # GRUMP_MAX_WORKER_LOSSES's default


def _submit(cluster: Cluster, kind: str, body: dict[str, Any]) -> uuid.UUID:
    answer = cluster.http.post("/v1/jobs", json={"kind": kind, "input": body})
    assert answer.status_code == 202, answer.text
    return uuid.UUID(answer.json()["id"])


def _chat(content: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], "max_tokens": 20}


def _wait_status(cluster: Cluster, job_id: uuid.UUID, wanted: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = str(cluster.ledger.job(job_id).status)
        if status in wanted:
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} is {status}, not {wanted}\n{cluster.diagnostics()}")


def _until_final_restarting(
    cluster: Cluster, job_id: uuid.UUID, worker: subprocess.Popen[bytes], timeout: float
) -> int:
    """Restart the crashing llm worker each time it dies until the job is final; its deaths."""
    deaths = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.ledger.job(job_id).status in ("succeeded", "failed"):
            return deaths
        if worker.poll() is not None:
            deaths += 1
            worker = cluster.start_worker(module=CRASHING)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not final after {deaths} deaths\n{cluster.diagnostics()}")


def _assert_lost(cluster: Cluster, job_id: uuid.UUID) -> None:
    row = cluster.ledger.job(job_id)
    assert row.status == "failed", (row.status, cluster.diagnostics_full())
    assert row.error["code"] == "worker_lost", row.error
    assert f"{MAX_LOSSES} of its deliveries" in row.error["message"]
    assert row.worker_losses == MAX_LOSSES and row.claimed_by is None


def test_a_long_call_runs_once_while_poison_jobs_are_stopped(cluster: Cluster) -> None:
    # The first chat call the provider gets is the long one; the others answer at once.
    cluster.nim.script([slow(LONG_CALL_SECONDS * 1000).to_json()])
    env = cluster.programs.env
    env["GRUMP_LLM_CONCURRENCY"] = "1"  # the steady worker holds only the long job
    # Lengthened, not shortened: the provider's read timeout must outlast the long call.
    env["GRUMP_PROVIDER_TIMEOUT_SECONDS"] = str(LONG_CALL_SECONDS + 60)
    cluster.prepare()
    cluster.start_api()
    cluster.start_worker()
    long_prompt = f"a long question {uuid.uuid4().hex}"
    long_job = _submit(cluster, "complete", _chat(long_prompt))
    _wait_status(cluster, long_job, {"running"}, timeout=30)
    started = time.monotonic()

    poison = _submit(cluster, "complete", _chat(f"{EXIT_HARD} {uuid.uuid4().hex}"))
    deaths = _until_final_restarting(cluster, poison, cluster.start_worker(module=CRASHING), 100)
    _assert_lost(cluster, poison)
    assert deaths == MAX_LOSSES

    cluster.start_worker("cpu", module=CRASHING)
    greedy = _submit(cluster, "parse", {"text": f"a todo app {EXHAUST_MEMORY}"})
    _wait_status(cluster, greedy, {"failed", "succeeded"}, timeout=60)
    _assert_lost(cluster, greedy)
    # The pool replaced its processes: the next parse runs.
    healthy = _submit(cluster, "parse", {"text": "a todo app with Stripe and Google login"})
    assert _wait_status(cluster, healthy, {"failed", "succeeded"}, timeout=30) == "succeeded"

    assert cluster.ledger.job(long_job).status == "running"
    remaining = LONG_CALL_SECONDS + 30 - (time.monotonic() - started)
    assert _wait_status(cluster, long_job, {"failed", "succeeded"}, remaining) == "succeeded"
    row = cluster.ledger.job(long_job)
    calls = cluster.nim.calls_per_prompt()
    print(
        f"long call: {calls[long_prompt]} call(s), {row.attempts} attempt(s); poison deaths {deaths}"
    )
    assert calls[long_prompt] == 1 and row.attempts == 1 and row.worker_losses == 0
    cluster.assert_charged_once([long_job, healthy])
    spent, reserved = cluster.ledger.budget()
    assert reserved == 0 and spent == cluster.ledger.cost_total()
