"""A worker SIGKILLed mid-job: another picks the job up; it succeeds once, charged once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from grump.client import GrumpClient
from grump.ledger.db import make_engine, make_sessionmaker
from grump.ledger.money_models import CostEvent
from tests.e2e.conftest import Programs, wait_ready
from tests.e2e.statuses import wait_status

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_job_survives_a_killed_worker(programs: Programs) -> None:
    programs.env.update(
        {
            "GRUMP_OFFLINE_LATENCY_MS": "2500",  # a slow job: long enough to kill the worker mid-call
        }
    )
    programs.run("migrate")
    key = programs.run("keys", "create", "--tenant", "acme").strip()
    assert key.startswith("grump_") and "\n" not in key
    programs.start("api", name="api")
    url = programs.env["GRUMP_API_URL"]
    wait_ready(url)
    first = programs.start("worker", "--tier", "llm", name="worker")
    with GrumpClient(url, key) as client:
        body = {"messages": [{"role": "user", "content": "a slow question"}], "max_tokens": 40}
        job_id = client.submit("complete", body)["id"]
        running = wait_status(client, job_id, "running", timeout=30)
        assert running["attempts"] == 1
        programs.kill(first)
        programs.start("worker", "--tier", "llm", name="worker")
        done = wait_status(client, job_id, "succeeded", timeout=60)
    assert done["attempts"] == 2, programs.log_text()
    engine = make_engine(programs.env["GRUMP_DATABASE_URL"])
    with make_sessionmaker(engine)() as session:
        count = session.scalar(
            select(func.count()).select_from(CostEvent).where(CostEvent.job_id == uuid.UUID(job_id))
        )
    engine.dispose()
    assert count == 1
