"""A cpu worker SIGKILLed in the middle of a backlog of parse batches: the messages it held
come back to another worker, and every job is recorded once, charged once."""

from __future__ import annotations

import time

import pytest
import redis
from sqlalchemy import func, select

from grump.client import GrumpClient
from grump.ledger.db import make_engine
from grump.ledger.models import CostEvent, Job
from tests.e2e.conftest import Programs, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
JOBS = 1500


def test_parse_batches_survive_a_killed_cpu_worker(programs: Programs) -> None:
    programs.run("migrate")
    key = programs.run("keys", "create", "--tenant", "acme").strip()
    programs.start("api", name="api")
    url = programs.env["GRUMP_API_URL"]
    wait_ready(url)
    with GrumpClient(url, key) as client:
        for start in range(0, JOBS, 100):
            client.submit_batch(
                [
                    {"kind": "parse", "input": {"text": f"shop {i} with Stripe and login"}}
                    for i in range(start, start + 100)
                ]
            )
    engine = make_engine(programs.env["GRUMP_DATABASE_URL"])
    broker = redis.Redis.from_url(programs.env["GRUMP_BROKER_URL"])

    def succeeded() -> int:
        with engine.connect() as connection:
            query = select(func.count()).select_from(Job).where(Job.status == "succeeded")
            return int(connection.scalar(query) or 0)

    try:
        first = programs.start("worker", "--tier", "cpu", name="cpu")
        deadline = time.monotonic() + 60
        # Mid-backlog: batches recorded, and messages held unacknowledged by the worker.
        while not (succeeded() > 0 and broker.hlen("unacked") > 0):
            assert time.monotonic() < deadline, programs.log_text()
            time.sleep(0.01)
        programs.kill(first)
        at_kill = succeeded()
        assert at_kill < JOBS, "the worker finished before it was killed"
        programs.start("worker", "--tier", "cpu", name="cpu")
        deadline = time.monotonic() + 90
        while succeeded() < JOBS:
            assert time.monotonic() < deadline, programs.log_text()
            time.sleep(0.1)
        with engine.connect() as connection:
            events = connection.scalar(select(func.count()).select_from(CostEvent))
            charged = connection.scalar(select(func.count(func.distinct(CostEvent.job_id))))
            attempts = connection.scalar(select(func.max(Job.attempts)))
    finally:
        engine.dispose()
        broker.close()
    assert events == charged == JOBS  # one cost event per job, none twice
    assert attempts == 1  # a parse recorded is recorded once; the killed batch never was
