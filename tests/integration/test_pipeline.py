"""Jobs flow API -> Redis -> worker -> Postgres, and a lost message is found again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.celery.profiles import WorkerKind, prefetch_multiplier
from grump.celery.queues import ALL_QUEUES, redis_priority_keys
from grump.jobs.requeue import requeue_stuck_jobs
from grump.ledger.db import session_scope, utcnow
from grump.ledger.keys import create_api_key
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from grump.runtime import Runtime
from grump.settings import Settings

pytestmark = pytest.mark.integration
COMPLETE = {
    "kind": "complete",
    "input": {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 30},
}


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.runtime = Runtime(settings)
        self.celery = create_celery(settings, self.runtime)
        self.client = TestClient(create_app(settings, self.runtime, self.celery))
        with session_scope(self.runtime.sessions) as session:
            self.key = create_api_key(session, "acme")

    def submit(self, body: dict[str, object]) -> str:
        response = self.client.post(
            "/v1/jobs", json=body, headers={"Authorization": f"Bearer {self.key}"}
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def wait(self, job_id: str, timeout: float = 20) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job: dict[str, object] = self.client.get(
                f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {self.key}"}
            ).json()
            if job["status"] in ("succeeded", "failed"):
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish")

    def cost_events(self, job_id: str) -> int:
        with self.runtime.sessions() as session:
            query = (
                select(func.count())
                .select_from(CostEvent)
                .where(CostEvent.job_id == uuid.UUID(job_id))
            )
            return int(session.scalar(query) or 0)

    def close(self) -> None:
        self.client.close()
        self.runtime.dispose()


def batching_stack(settings: Settings, parse_batch_wait_ms: float) -> Stack:
    """A stack whose worker reserves parse messages as the cpu worker does, in batches."""
    built = Stack(settings.model_copy(update={"parse_batch_wait_ms": parse_batch_wait_ms}))
    # What a cpu worker reserves: room for a few full batches.
    built.celery.conf.worker_prefetch_multiplier = prefetch_multiplier(
        built.runtime.settings, WorkerKind.CPU
    )
    return built


def worker(stack: Stack, queues: Sequence[str] = ALL_QUEUES, **options: Any) -> Any:
    """A thread-pool worker of two on ``queues``, started and stopped by ``with``."""
    return start_worker(
        stack.celery,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        queues=list(queues),
        loglevel="WARNING",
        **options,
    )


@pytest.fixture
def stack(real_settings: Settings) -> Iterator[Stack]:
    built = Stack(real_settings)
    yield built
    built.close()


def test_jobs_of_every_kind_run_end_to_end(stack: Stack) -> None:
    ids = [
        stack.submit({"kind": "parse", "input": {"text": "todo app with Google login and Stripe"}}),
        stack.submit(COMPLETE),
        stack.submit({"kind": "embed", "input": {"texts": ["a", "b", "c"], "dimensions": 16}}),
    ]
    with worker(stack):
        jobs = [stack.wait(i) for i in ids]
    assert [j["status"] for j in jobs] == ["succeeded"] * 3
    assert jobs[0]["result"]["intents"][0]["integrations"] == ["stripe"]  # type: ignore[index]
    assert len(jobs[2]["result"]["embeddings"]) == 3  # type: ignore[index]
    assert all(stack.cost_events(i) == 1 for i in ids)


def test_a_lost_message_is_requeued_by_beat(stack: Stack, redis_url: str) -> None:
    job_id = stack.submit(COMPLETE)
    # Lose the message, as a Redis restart without persistence would.
    client = redis.Redis.from_url(redis_url)
    queue = (
        "complete.economy"
        if "economy"
        in str(
            stack.client.get(
                f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {stack.key}"}
            ).json()["queue"]
        )
        else "complete.premium"
    )
    assert sum(client.llen(k) for k in redis_priority_keys(queue)) == 1
    client.delete(*redis_priority_keys(queue))
    with session_scope(stack.runtime.sessions) as session:
        session.execute(update(Job).values(deadline_at=utcnow() - timedelta(seconds=1)))
    assert requeue_stuck_jobs(stack.runtime, stack.celery) == 1
    assert requeue_stuck_jobs(stack.runtime, stack.celery) == 0  # deadline moved on: not twice
    with worker(stack):
        job = stack.wait(job_id)
    assert job["status"] == "succeeded" and stack.cost_events(job_id) == 1
