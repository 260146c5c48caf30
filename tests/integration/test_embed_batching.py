"""Embed jobs through the real queue (Redis broker, Postgres ledger) against a NIM-format server.

Many small jobs become far fewer provider calls; every job gets what a call
with only its texts returns; the cost events of a call add up to its cost
exactly; a refused text fails only its own job.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import redis
from celery.contrib.testing.worker import start_worker
from fastapi.testclient import TestClient
from sqlalchemy import select

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.celery.queues import EMBED_QUEUE, redis_priority_keys
from grump.ledger.db import session_scope
from grump.ledger.keys import create_api_key
from grump.ledger.money_models import CostEvent
from grump.providers.base import EmbedRequest
from grump.providers.nim import NimEmbeddings
from grump.routing.pricing import load_catalogue
from grump.runtime import Runtime
from grump.settings import Settings
from grump.vectors import postprocess
from tests.fakes.nim import FakeNim, count_tokens

pytestmark = pytest.mark.integration
MODEL = "nvidia/nv-embedqa-e5-v5"
TOKEN_LIMIT = 32
JOBS = 48


@pytest.fixture
def nim() -> Iterator[FakeNim]:
    with FakeNim(latency_ms=20, token_limit=TOKEN_LIMIT, dimensions=64) as fake:
        yield fake


class EmbedStack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = Runtime(settings)
        self.celery = create_celery(settings, self.runtime)
        self.client = TestClient(create_app(settings, self.runtime, self.celery))
        with session_scope(self.runtime.sessions) as session:
            self.key = create_api_key(session, "acme")

    def submit(self, **fields: Any) -> str:
        body = {"kind": "embed", "input": {"dimensions": 64, **fields}}
        response = self.client.post(
            "/v1/jobs", json=body, headers={"Authorization": f"Bearer {self.key}"}
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def wait_all(self, ids: list[str], timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        done: dict[str, dict[str, Any]] = {}
        while len(done) < len(ids) and time.monotonic() < deadline:
            for job_id in ids:
                if job_id in done:
                    continue
                job = self.client.get(
                    f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {self.key}"}
                ).json()
                if job["status"] in ("succeeded", "failed"):
                    done[job_id] = job
            time.sleep(0.05)
        assert len(done) == len(ids), "jobs did not finish"
        return [done[i] for i in ids]

    def cost_events(self) -> dict[str, CostEvent]:
        with self.runtime.sessions() as session:
            return {str(e.job_id): e for e in session.scalars(select(CostEvent))}

    def worker(self) -> Any:
        return start_worker(
            self.celery,
            pool="threads",
            concurrency=JOBS,
            perform_ping_check=False,
            queues=[EMBED_QUEUE],
            loglevel="WARNING",
        )


@pytest.fixture
def stack(real_settings: Settings, nim: FakeNim) -> Iterator[EmbedStack]:
    settings = real_settings.model_copy(
        update={"nim_url": nim.url, "nim_api_key": "test-key", "embed_batch_wait_ms": 250.0}
    )
    built = EmbedStack(settings)
    yield built
    built.client.close()
    built.runtime.dispose()


def wait_unacked_empty(settings: Settings, timeout: float = 10) -> bool:
    client = redis.Redis.from_url(settings.effective_broker_url)
    deadline = time.monotonic() + timeout
    try:
        while client.hlen("unacked") or client.zcard("unacked_index"):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True
    finally:
        client.close()


def broker_lists(settings: Settings) -> int:
    client = redis.Redis.from_url(settings.effective_broker_url)
    try:
        return sum(int(client.llen(key)) for key in redis_priority_keys(EMBED_QUEUE))
    finally:
        client.close()


def alone(settings: Settings, texts: list[str], encoding: str) -> list[Any]:
    answer = NimEmbeddings(settings).embed(EmbedRequest(MODEL, tuple(texts), dimensions=64))
    return postprocess(answer.vectors, dimensions=64, encoding=encoding, xp=np).embeddings()  # type: ignore[arg-type]


def test_many_small_jobs_share_few_calls_and_are_charged_exactly(
    stack: EmbedStack, nim: FakeNim
) -> None:
    texts = [[f"job {i} text {k}" for k in range(1 + i % 3)] for i in range(JOBS)]
    encodings = ["float", "int8", "binary"]
    ids = [stack.submit(texts=t, encoding=encodings[i % 3]) for i, t in enumerate(texts)]
    with stack.worker():
        jobs = stack.wait_all(ids)
        # Acknowledged together once recorded: nothing left for Redis to deliver again.
        assert wait_unacked_empty(stack.settings), "messages left unacknowledged"
    assert all(j["status"] == "succeeded" for j in jobs), [j["error"] for j in jobs]
    assert broker_lists(stack.settings) == 0  # and nothing restored to the queue at shutdown
    calls = [r.body["input"] for r in nim.requests if r.path == "/v1/embeddings"]
    assert len(calls) <= JOBS // 4, f"{len(calls)} calls for {JOBS} jobs"
    assert sum(len(c) for c in calls) == sum(len(t) for t in texts)  # each text sent once

    events = stack.cost_events()
    assert set(events) == set(ids)  # one cost event per job
    price = load_catalogue().price(MODEL)
    paid = sum((price.cost(sum(count_tokens(t) for t in call)) for call in calls), Decimal(0))
    assert sum((e.cost for e in events.values()), Decimal(0)) == paid
    assert sum(e.tokens_in for e in events.values()) == sum(
        count_tokens(t) for call in calls for t in call
    )

    nim.reset()
    for i, job in enumerate(jobs):
        assert job["result"]["embeddings"] == alone(stack.settings, texts[i], encodings[i % 3])


def test_a_refused_text_fails_only_its_job_and_repeats_are_free(
    stack: EmbedStack, nim: FakeNim
) -> None:
    too_long = " ".join(["word"] * (TOKEN_LIMIT + 1))
    poisoned = stack.submit(texts=["fine", too_long], truncate="NONE")
    healthy = [stack.submit(texts=[f"healthy {i}"], truncate="NONE") for i in range(7)]
    with stack.worker():
        first = stack.wait_all([poisoned, *healthy])
        repeat = stack.submit(texts=["healthy 0", "healthy 1"], truncate="NONE")
        (again,) = stack.wait_all([repeat])
    assert first[0]["status"] == "failed"
    assert "exceeds maximum allowed token size" in first[0]["error"]["message"]
    assert [j["status"] for j in first[1:]] == ["succeeded"] * 7
    assert again["status"] == "succeeded"
    event = stack.cost_events()[repeat]
    assert event.cost == 0 and event.cached and event.cache_savings > 0
    assert uuid.UUID(poisoned).hex not in {uuid.UUID(k).hex for k in stack.cost_events()}
