"""Fair share's slots follow the live workers' registered capacity, on real Redis and Postgres."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.celery.profiles import WorkerKind
from grump.celery.queues import ECONOMY_QUEUE, PREMIUM_QUEUE, redis_priority_keys
from grump.celery.workers import registration
from grump.jobs.admission import queue_slots
from grump.jobs.capacity import LiveCapacity, read_capacity, register
from grump.jobs.models import CompleteJobRequest
from grump.jobs.submit import submit_job
from grump.ledger.models import Job
from grump.runtime import Runtime
from grump.settings import Settings
from tests.services import free_port

pytestmark = pytest.mark.integration
MODEL = "moonshotai/kimi-k2.5"  # pinned to the economy queue


def request() -> CompleteJobRequest:
    return CompleteJobRequest.model_validate(
        {
            "kind": "complete",
            "input": {
                "model": MODEL,
                "max_tokens": 8,
                "messages": [{"role": "user", "content": f"say {uuid.uuid4()}"}],
            },
        }
    )


@pytest.fixture
def settings(real_settings: Settings) -> Settings:
    # The slots are the live capacity, one llm worker of 2 until one registers.
    return real_settings.model_copy(
        update={"fair_share": True, "llm_concurrency": 2, "fair_share_weights": "paid=2"}
    )


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    made = redis.Redis.from_url(redis_url)
    yield made
    made.close()


def slots_now(settings: Settings, tenant: str = "acme") -> int:
    """The tenant's slots as a process starting now reads them (no cached capacity)."""
    runtime = Runtime(settings)
    try:
        return queue_slots(runtime, tenant, ECONOMY_QUEUE)
    finally:
        runtime.dispose()


def test_fair_share_is_off_by_default() -> None:
    assert Settings().fair_share is False


def test_two_workers_capacity_raises_a_lone_tenants_slots_and_a_lapsed_one_lowers_them(
    settings: Settings, client: redis.Redis
) -> None:
    assert slots_now(settings) == 2  # no worker registered: one worker of this configuration
    register(client, "worker-a", {ECONOMY_QUEUE: 8}, ttl_seconds=30)
    register(client, "worker-b", {ECONOMY_QUEUE: 8, PREMIUM_QUEUE: 8}, ttl_seconds=30)
    assert slots_now(settings) == 16  # the whole fleet: a tenant alone fills both
    assert slots_now(settings, "paid") == 32  # times its weight
    register(client, "worker-b", {ECONOMY_QUEUE: 8}, ttl_seconds=-1)  # it stopped renewing
    assert slots_now(settings) == 8
    assert read_capacity(client, ECONOMY_QUEUE) == 8
    assert client.hkeys(f"grump:capacity:{ECONOMY_QUEUE}") == [b"worker-a"]  # lapsed: deleted


def test_a_lone_tenants_jobs_are_published_up_to_the_fleets_capacity(
    settings: Settings, client: redis.Redis
) -> None:
    register(client, "worker-a", {ECONOMY_QUEUE: 3}, ttl_seconds=30)
    register(client, "worker-b", {ECONOMY_QUEUE: 3}, ttl_seconds=30)
    runtime = Runtime(settings)
    app = create_celery(settings, runtime)
    try:
        for _ in range(8):
            submit_job(runtime, app, "acme", request())
        messages = sum(int(client.llen(key)) for key in redis_priority_keys(ECONOMY_QUEUE))
        with runtime.sessions() as session:
            held = session.scalar(
                select(func.count()).select_from(Job).where(Job.enqueued_at.is_(None))
            )
        assert (messages, held) == (6, 2)
        # The held-jobs gauge says so, per queue; an unnamed tenant is counted as other.
        api = create_app(settings, runtime, app)
        with TestClient(api) as http:
            text = http.get("/metrics").text
        assert 'grump_jobs_held{queue="complete.economy",tenant="other"} 2.0' in text
        assert 'grump_jobs_held{queue="complete.economy",tenant="paid"} 0.0' in text
        assert 'grump_jobs_held_tenants{queue="complete.economy"} 1.0' in text
    finally:
        runtime.dispose()


def test_a_worker_registers_its_capacity_while_it_lives_and_withdraws_it(
    settings: Settings, client: redis.Redis
) -> None:
    # Not create_worker_app: it connects the worker's signal handlers for the whole process.
    app = create_celery(settings, Runtime(settings))
    try:
        mine = registration(app, settings, WorkerKind.LLM)
        assert mine.capacity == {ECONOMY_QUEUE: 2, PREMIUM_QUEUE: 2}
        mine.renew()
        assert read_capacity(client, ECONOMY_QUEUE) == 2
        assert read_capacity(client, PREMIUM_QUEUE) == 2
        # It lapses on its own if the worker dies without withdrawing it.
        assert 0 < client.ttl(f"grump:capacity:{ECONOMY_QUEUE}") <= 16
        mine.withdraw()
        assert read_capacity(client, ECONOMY_QUEUE) == 0
    finally:
        app.runtime.dispose()


def test_redis_away_admission_uses_one_workers_capacity_and_does_not_retry_each_submit() -> None:
    dead = redis.Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1, socket_timeout=1
    )
    capacity = LiveCapacity(dead)
    assert capacity.get(ECONOMY_QUEUE, 128) == 128
    assert capacity.fresh(ECONOMY_QUEUE)  # the outage is remembered: no read per submit
    assert capacity.get(ECONOMY_QUEUE, 128) == 128
