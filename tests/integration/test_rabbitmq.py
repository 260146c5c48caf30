"""RabbitMQ as the broker: every tier runs, quorum queues by default, priorities on classic
queues, countdown retries on quorum queues, queue depths and readiness from the broker.

Each test has a vhost of its own on the machine's RabbitMQ (``tests.services.rabbitmq_vhost``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from fastapi.testclient import TestClient
from sqlalchemy import select

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.celery.queues import ALL_QUEUES, PARSE_QUEUE
from grump.jobs.enqueue import publish_job
from grump.ledger.db import session_scope
from grump.ledger.keys import create_api_key
from grump.ledger.models import Job
from grump.runtime import Runtime
from grump.settings import Settings
from tests.integration.test_pipeline import COMPLETE, Stack
from tests.services import rabbitmq_queue_types, rabbitmq_vhost

pytestmark = pytest.mark.integration
PARSE = {"kind": "parse", "input": {"text": "todo app with Google login and Stripe"}}


def _parse(tag: str, priority: int = 5) -> dict[str, Any]:
    return {"kind": "parse", "input": {"text": f"todo app {tag}"}, "priority": priority}


def _settings(
    clean_ledger: str, redis_url: str, tmp_path: Path, broker: str, **extra: Any
) -> Settings:
    return Settings.model_validate(
        {
            "broker_url": broker,
            "redis_url": redis_url,
            "database_url": clean_ledger,
            "data_dir": tmp_path,
            "retry_after_seconds": 7,
            **extra,
        }
    )


@pytest.fixture
def vhost() -> Iterator[str]:
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture
def quorum(clean_ledger: str, redis_url: str, tmp_path: Path, vhost: str) -> Iterator[Stack]:
    built = Stack(_settings(clean_ledger, redis_url, tmp_path, vhost))
    yield built
    built.client.close()
    built.runtime.dispose()


def _worker(stack: Stack, concurrency: int = 2, prefetch: int | None = None) -> Any:
    if prefetch is not None:
        stack.celery.conf.worker_prefetch_multiplier = prefetch
    # An idle worker's event loop on AMQP sleeps up to 10 s between wake-ups, and this
    # in-thread worker stops only at one; the broker heartbeat's timer wakes it every second.
    stack.celery.conf.broker_heartbeat = 2
    return start_worker(
        stack.celery,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        queues=list(ALL_QUEUES),
        loglevel="WARNING",
    )


def test_every_tier_runs_on_quorum_queues(quorum: Stack, vhost: str) -> None:
    ids = [
        quorum.submit(PARSE),
        quorum.submit(COMPLETE),
        quorum.submit({"kind": "embed", "input": {"texts": ["a", "b", "c"], "dimensions": 16}}),
    ]
    # Twenty embed jobs at once: the gpu tier's batch task takes them off RabbitMQ together.
    embeds = [
        quorum.submit({"kind": "embed", "input": {"texts": [f"t{i}"], "dimensions": 8}})
        for i in range(20)
    ]
    with _worker(quorum):
        jobs = [quorum.wait(i) for i in ids + embeds]
    assert [j["status"] for j in jobs] == ["succeeded"] * len(jobs)
    assert jobs[0]["result"]["intents"][0]["integrations"] == ["stripe"]
    assert len(jobs[2]["result"]["embeddings"]) == 3
    assert all(quorum.cost_events(i) == 1 for i in ids + embeds)
    types = rabbitmq_queue_types(vhost)
    assert {q: types.get(q) for q in ALL_QUEUES} == {q: "quorum" for q in ALL_QUEUES}


def test_a_countdown_on_a_quorum_queue_waits_in_the_broker(quorum: Stack) -> None:
    job_id = quorum.submit(PARSE)
    # Drop its first message: the only delivery left is the delayed one published below.
    assert quorum.celery.control.purge() == 1
    with _worker(quorum):
        sent = time.monotonic()
        # What a retry does (RabbitMQ holds the message in its delay queues, no worker does).
        publish_job(quorum.celery, uuid.UUID(job_id), PARSE_QUEUE, 5, 7, countdown=3)
        done = quorum.wait(job_id, timeout=30)
        waited = time.monotonic() - sent
    assert done["status"] == "succeeded", done
    assert 3.0 <= waited < 20, waited
    assert quorum.cost_events(job_id) == 1


def test_classic_queues_serve_the_most_urgent_first(
    clean_ledger: str, redis_url: str, tmp_path: Path, vhost: str
) -> None:
    stack = Stack(
        _settings(clean_ledger, redis_url, tmp_path, vhost, rabbitmq_queue_type="classic")
    )
    try:
        # The queues exist before the first publish, as a running worker would have made them.
        with _worker(stack):
            pass
        lows = [stack.submit(_parse(f"low {i}", priority=0)) for i in range(5)]
        urgent = stack.submit(_parse("urgent", priority=9))
        assert len({*lows, urgent}) == 6  # distinct inputs: none joined another
        with _worker(stack, concurrency=1, prefetch=1):
            for job_id in [*lows, urgent]:
                assert stack.wait(job_id)["status"] == "succeeded"
        with stack.runtime.sessions() as session:
            finished = session.execute(select(Job.id, Job.finished_at)).all()
        # One thread, one message at a time: the order they finished in is the order served.
        order = [str(job_id) for job_id, _ in sorted(finished, key=lambda row: row[1])]
        assert order[0] == urgent, order
        types = rabbitmq_queue_types(vhost)
        assert types.get(PARSE_QUEUE) == "classic"
    finally:
        stack.client.close()
        stack.runtime.dispose()


def test_queue_depth_and_readiness_come_from_rabbitmq(quorum: Stack) -> None:
    with _worker(quorum):
        pass  # declares the queues
    for i in range(3):
        quorum.submit(_parse(f"waiting {i}"))
    ready = quorum.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["broker"] == "ok", ready.text
    scrape = quorum.client.get("/metrics").text
    assert 'worker_queue_depth{queue="parse"} ' in scrape
    depth = next(
        line for line in scrape.splitlines() if line.startswith('worker_queue_depth{queue="parse"}')
    )
    assert float(depth.split()[-1]) == 3.0, depth


def test_rabbitmq_down_is_503_with_retry_after(
    clean_ledger: str, redis_url: str, tmp_path: Path
) -> None:
    from tests.services import free_port

    settings = _settings(
        clean_ledger, redis_url, tmp_path, f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    )
    runtime = Runtime(settings)
    with session_scope(runtime.sessions) as session:
        key = create_api_key(session, "acme")
    celery = create_celery(settings, runtime)
    with TestClient(create_app(settings, runtime, celery)) as client:
        answer = client.post("/v1/jobs", json=PARSE, headers={"Authorization": f"Bearer {key}"})
        ready = client.get("/readyz")
        scrape = client.get("/metrics")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "7", answer.text
    assert ready.status_code == 503 and ready.json()["checks"]["broker"] == "unreachable"
    assert ready.headers["Retry-After"] == "7"
    assert scrape.status_code == 200
    with runtime.sessions() as session:
        assert [job.status for job in session.scalars(select(Job))] == ["rejected"]
    runtime.dispose()
