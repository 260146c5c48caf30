"""The provider answers 429 with Retry-After for a whole minute: every job waits it out.

A 429 is the provider asking grump to slow down, not a failure of the job: the
jobs accepted during the minute are neither failed nor charged twice, grump
calls no sooner than ``Retry-After`` says, and the jobs finish once the
provider takes calls again. Delivery runs on its defaults (no shortened
visibility timeout): a retry's countdown is held by the worker.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from grump.ledger.models import Job
from tests.e2e.faults.conftest import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(140)]

THROTTLE_SECONDS = 60.0
JOBS = 20
# An honest client makes about two calls a job: one that is told to wait, one after.
MOST_CALLS_PER_JOB = 3


def _chat_completion(cluster: Cluster, seen: dict[str, Any]) -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": "are you throttled?"}]}
    try:
        answer = cluster.http.post("/v1/chat/completions", json=body, timeout=90)
    except httpx.HTTPError as exc:
        seen["error"] = repr(exc)
        return
    seen.update(status=answer.status_code, headers=dict(answer.headers), body=answer.text)


def _last_finished(cluster: Cluster) -> datetime:
    with cluster.ledger.engine.connect() as connection:
        last = connection.scalar(select(func.max(Job.finished_at)))
    assert isinstance(last, datetime)
    return last


def test_jobs_wait_out_a_minute_of_429_and_all_succeed(cluster: Cluster) -> None:
    env = cluster.programs.env
    env.update(
        {
            "GRUMP_LLM_CONCURRENCY": "4",
            # Falling back to the other tier would hide whether the job waits out the 429.
            "GRUMP_FALLBACK_TO_OTHER_TIER": "false",
            "GRUMP_OPENAI_WAIT_SECONDS": "15",
        }
    )
    cluster.prepare()
    cluster.start_api()
    cluster.start_worker("llm")

    cluster.nim.http.post("/_fake/throttle", json={"seconds": THROTTLE_SECONDS}).raise_for_status()
    throttle_ends = time.monotonic() + THROTTLE_SECONDS
    ids = cluster.submit_accepted(JOBS, "throttled")  # taking jobs is not throttled
    seen: dict[str, Any] = {}
    waiter = threading.Thread(target=_chat_completion, args=(cluster, seen))
    waiter.start()

    # Through the minute no job may fail: the rate limit is not the job's fault.
    while time.monotonic() < throttle_ends:
        statuses = cluster.ledger.statuses(ids)
        assert set(statuses) <= {"queued", "running"}, (statuses, cluster.diagnostics())
        time.sleep(1.0)
    calls_in_throttle = cluster.nim.chat_calls()
    ended_wall = datetime.now().astimezone()
    waiter.join(timeout=30)

    statuses = cluster.wait_final(ids, timeout=30)
    assert statuses == {"succeeded": JOBS}, (statuses, cluster.diagnostics())
    resumed_in = (_last_finished(cluster) - ended_wall).total_seconds()
    cluster.assert_charged_once(ids)
    cluster.assert_budget_settled()
    # Retry-After was honoured: a client that ignores it hammers the provider all minute.
    assert calls_in_throttle <= MOST_CALLS_PER_JOB * (JOBS + 1), calls_in_throttle

    # A caller waiting on the OpenAI front door learns when to ask again, never a bare 500.
    assert "status" in seen, seen
    assert seen["status"] != 500, seen
    assert seen["status"] in (200, 429, 503, 504), seen
    if seen["status"] != 200:
        assert int(seen["headers"]["retry-after"]) > 0, seen
    print(
        f"{JOBS} jobs through {THROTTLE_SECONDS:.0f}s of 429: {calls_in_throttle} provider calls"
        f" in the throttle, all succeeded {resumed_in:.1f}s after it ended;"
        f" the OpenAI caller got {seen['status']}"
    )
