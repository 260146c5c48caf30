"""The fairness bench's scenario, bounded: a tenant's backlog, then another tenant's few jobs.

The real programs (API, one llm worker, a loopback NIM answering in 0.5 s) on the
real Redis and Postgres, on defaults but for a smaller llm worker (16 threads, so
16 slots per tenant) and a smaller backlog: 100 jobs, then 10 from a quiet tenant
at the same priority. What is asserted is order, read from the ledger, not time:
no quiet job has more of the noisy tenant's earlier jobs start ahead of it than
one worker's worth (its slots, twice over for the races of a threaded worker).
Without fair share about 80 of them do (the whole backlog the worker had not taken).
"""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from grump.ledger.models import Job
from tests.e2e.conftest import Programs, wait_ready
from tests.services import free_port

pytestmark = pytest.mark.e2e
CONCURRENCY, NOISY, QUIET = 16, 100, 10


def job(tag: str) -> dict[str, Any]:
    text = f"{tag} {uuid.uuid4().hex}: name a colour"
    return {
        "kind": "complete",
        "input": {
            "model": "moonshotai/kimi-k2.5",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": text}],
        },
    }


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def wait_for(engine: Any, condition: Any, count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            if connection.scalar(select(func.count()).select_from(Job).where(condition)) >= count:
                return
            connection.rollback()
            time.sleep(0.05)
        states = connection.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    raise AssertionError(f"not {count} jobs with {condition} within {timeout} s: {states}")


def test_a_tenants_backlog_does_not_hold_up_another_tenants_jobs(
    programs: Programs, clean_ledger: str, redis_url: str
) -> None:
    nim = free_port()
    programs.env.update(
        GRUMP_NIM_URL=f"http://127.0.0.1:{nim}/v1",
        GRUMP_NIM_API_KEY="fair-key",
        GRUMP_LLM_CONCURRENCY=str(CONCURRENCY),
        GRUMP_FAIR_SHARE="true",
        GRUMP_LOG_LEVEL="WARNING",
    )
    programs.start("--port", str(nim), "--latency-ms", "500", name="nim", module="tests.fakes.nim")
    keys = {t: programs.run("keys", "create", "--tenant", t).strip() for t in ("noisy", "quiet")}
    programs.start("api", name="api")
    wait_port(nim)
    url = programs.env["GRUMP_API_URL"]
    wait_ready(url)
    engine = create_engine(clean_ledger)
    try:
        with httpx.Client(base_url=url, timeout=60) as http:

            def submit(tenant: str, count: int) -> None:
                body = {"jobs": [job(tenant) for _ in range(count)]}
                auth = {"Authorization": f"Bearer {keys[tenant]}"}
                http.post("/v1/jobs:batch", json=body, headers=auth).raise_for_status()

            # The backlog is queued before the worker starts, as a fast submitter's would be.
            submit("noisy", NOISY)
            programs.start("worker", "--tier", "llm", name="llm")
            wait_for(engine, Job.status == "running", 1)
            submit("quiet", QUIET)
            wait_for(engine, Job.status.in_(("succeeded", "failed")), NOISY + QUIET)
        with engine.connect() as connection:
            rows = connection.execute(
                select(Job.tenant, Job.status, Job.created_at, Job.started_at)
            ).all()
    finally:
        engine.dispose()
    assert {r.status for r in rows} == {"succeeded"}
    noisy = [r for r in rows if r.tenant == "noisy"]
    quiet = [r for r in rows if r.tenant == "quiet"]

    def ahead_of(q: Any) -> int:
        """The noisy jobs submitted before ``q`` that were still waiting and started first."""
        return sum(
            n.created_at < q.created_at and q.created_at < n.started_at < q.started_at
            for n in noisy
        )

    ahead = [ahead_of(q) for q in quiet]
    assert max(ahead) <= 2 * CONCURRENCY, ahead
