"""Parse jobs through the real queue (Redis broker, Postgres ledger) in batches.

A backlog of parse jobs is recorded in a few batches, each job once; messages
delivered again charge nothing twice; a job whose parse raises fails alone;
messages queued under the old task name still run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from sqlalchemy import func, select, update

from grump.celery.queues import PARSE_QUEUE, redis_priority_keys
from grump.celery.task_names import RUN_JOB_TASK
from grump.jobs.enqueue import publish_job
from grump.ledger.db import session_scope
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from grump.settings import Settings
from tests.integration.test_pipeline import Stack, batching_stack, worker

pytestmark = pytest.mark.integration
JOBS = 120


@pytest.fixture
def stack(real_settings: Settings) -> Iterator[Stack]:
    built = batching_stack(real_settings, parse_batch_wait_ms=250.0)
    yield built
    built.close()


def cpu_worker(stack: Stack) -> Any:
    return worker(stack, [PARSE_QUEUE])


def submit_parse(stack: Stack, count: int, tag: str = "") -> list[str]:
    jobs = [
        {"kind": "parse", "input": {"text": f"todo app {tag}{i} with Stripe"}} for i in range(count)
    ]
    ids: list[str] = []
    for start in range(0, count, 100):
        response = stack.client.post(
            "/v1/jobs:batch",
            json={"jobs": jobs[start : start + 100]},
            headers={"Authorization": f"Bearer {stack.key}"},
        )
        assert response.status_code == 202, response.text
        ids.extend(str(item["job"]["id"]) for item in response.json()["items"])
    return ids


def rows(stack: Stack, ids: list[str]) -> dict[str, Job]:
    with stack.runtime.sessions() as session:
        found = session.scalars(select(Job).where(Job.id.in_([uuid.UUID(i) for i in ids])))
        return {str(job.id): job for job in found}


def wait_final(stack: Stack, ids: list[str], timeout: float = 30) -> dict[str, Job]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = rows(stack, ids)
        if all(j.status in ("succeeded", "failed") for j in jobs.values()):
            return jobs
        time.sleep(0.05)
    raise AssertionError("jobs did not finish")


def wait_drained(settings: Settings, timeout: float = 20) -> None:
    """Every message taken and acknowledged."""
    client = redis.Redis.from_url(settings.effective_broker_url)
    deadline = time.monotonic() + timeout
    try:
        while (
            sum(int(client.llen(k)) for k in redis_priority_keys(PARSE_QUEUE))
            or client.hlen("unacked")
            or client.zcard("unacked_index")
        ):
            assert time.monotonic() < deadline, "messages left in the broker"
            time.sleep(0.05)
    finally:
        client.close()


def cost_events(stack: Stack) -> dict[str, int]:
    with stack.runtime.sessions() as session:
        counted = session.execute(
            select(CostEvent.job_id, func.count()).group_by(CostEvent.job_id)
        ).all()
    return {str(job_id): int(n) for job_id, n in counted}


def charged(stack: Stack) -> tuple[Decimal, Decimal, int]:
    """What the cost events add up to: cost, work kept off the LLM (the parser itself is free), tokens."""
    with stack.runtime.sessions() as session:
        cost, baseline, tokens = session.execute(
            select(
                func.sum(CostEvent.cost),
                func.sum(CostEvent.kept_off_llm),
                func.sum(CostEvent.tokens_in),
            )
        ).one()
    return Decimal(cost or 0), Decimal(baseline or 0), int(tokens or 0)


def test_a_backlog_is_recorded_in_batches_each_job_once(stack: Stack) -> None:
    ids = submit_parse(stack, JOBS)
    with cpu_worker(stack):
        jobs = wait_final(stack, ids)
        wait_drained(stack.runtime.settings)  # acknowledged once recorded
    assert {j.status for j in jobs.values()} == {"succeeded"}
    assert all(j.attempts == 1 for j in jobs.values())
    assert all(j.result["intents"][0]["integrations"] == ["stripe"] for j in jobs.values())
    assert cost_events(stack) == dict.fromkeys(ids, 1)
    # A batch is recorded by one statement at one instant: few instants for many jobs.
    batches = {j.finished_at for j in jobs.values()}
    assert len(batches) <= JOBS // 4, f"{len(batches)} batches for {JOBS} jobs"


def test_messages_delivered_again_charge_nothing_twice(stack: Stack) -> None:
    ids = submit_parse(stack, 30)
    settings = stack.runtime.settings
    # Each job's message twice in the backlog (a redelivery beside the original) ...
    for job_id in ids:
        publish_job(stack.celery, uuid.UUID(job_id), PARSE_QUEUE, 5, settings.retry_after_seconds)
    with cpu_worker(stack):
        wait_final(stack, ids)
        wait_drained(settings)
        spent = charged(stack)
        # ... and the whole batch again once it is recorded.
        for job_id in ids:
            publish_job(
                stack.celery, uuid.UUID(job_id), PARSE_QUEUE, 5, settings.retry_after_seconds
            )
        wait_drained(settings)
    assert cost_events(stack) == dict.fromkeys(ids, 1)
    assert charged(stack) == spent and spent[1] > 0 and spent[2] > 0
    assert all(j.attempts == 1 for j in rows(stack, ids).values())


def test_a_parse_that_raises_fails_only_its_job(stack: Stack) -> None:
    ids = submit_parse(stack, 20)
    poison = ids[7]
    with session_scope(stack.runtime.sessions) as session:
        # An input the parser cannot take (it got past the API's schema somehow).
        session.execute(
            update(Job).where(Job.id == uuid.UUID(poison)).values(input={"text": ["no"]})
        )
    with cpu_worker(stack):
        jobs = wait_final(stack, ids)
    assert jobs[poison].status == "failed" and jobs[poison].error is not None
    assert jobs[poison].error["code"] == "internal"
    assert {jobs[i].status for i in ids if i != poison} == {"succeeded"}
    assert cost_events(stack) == {i: 1 for i in ids if i != poison}


def test_messages_under_the_old_task_name_still_run(stack: Stack, redis_url: str) -> None:
    (job_id,) = submit_parse(stack, 1)
    client = redis.Redis.from_url(redis_url)
    client.delete(*redis_priority_keys(PARSE_QUEUE))  # its message under the new name: gone
    client.close()
    # A message queued before the upgrade: one job, the one name every kind had.
    stack.celery.send_task(RUN_JOB_TASK, args=[job_id], queue=PARSE_QUEUE, routing_key=PARSE_QUEUE)
    with cpu_worker(stack):
        jobs = wait_final(stack, [job_id])
        wait_drained(stack.runtime.settings)
    assert jobs[job_id].status == "succeeded"
    assert cost_events(stack) == {job_id: 1}
