"""A grump stack on real Redis + Postgres with the loopback provider fakes, for complete jobs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.contrib.testing.worker import start_worker
from fastapi.testclient import TestClient
from sqlalchemy import select

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.celery.queues import ALL_QUEUES
from grump.ledger.db import session_scope
from grump.ledger.keys import create_api_key
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from grump.runtime import Runtime
from grump.settings import Settings
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.nim import FakeNim

ANTHROPIC_KEY = "test-anthropic-key"


def with_fakes(
    settings: Settings, nim: FakeNim, anthropic: FakeAnthropic, **extra: Any
) -> Settings:
    """``settings`` pointed at the fakes, with quick provider retries."""
    values: dict[str, Any] = {
        "nim_url": nim.url,
        "anthropic_url": anthropic.url,
        "anthropic_api_key": ANTHROPIC_KEY,
        "provider_retry_attempts": 2,
        "provider_retry_base_delay_seconds": 0.01,
        "task_max_retries": 0,
    }
    values.update(extra)
    return Settings.model_validate({**settings.model_dump(), **values})


def complete(content: str, max_tokens: int = 30, **input_extra: Any) -> dict[str, Any]:
    return {
        "kind": "complete",
        "input": {"messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}
        | input_extra,
    }


class Stack:
    """API (in-process) + Celery on Redis + ledger on Postgres; workers started on demand."""

    def __init__(self, settings: Settings, tenant: str = "acme") -> None:
        self.settings = settings
        self.runtime = Runtime(settings)
        self.celery = create_celery(settings, self.runtime)
        self.client = TestClient(create_app(settings, self.runtime, self.celery))
        self.key = self.new_key(tenant)

    def new_key(self, tenant: str) -> str:
        with session_scope(self.runtime.sessions) as session:
            return create_api_key(session, tenant)

    def submit(self, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        response = self.client.post(
            "/v1/jobs", json=body, headers={"Authorization": f"Bearer {key or self.key}"}
        )
        assert response.status_code == 202, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def wait(self, job_id: str, key: str | None = None, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.client.get(
                f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key or self.key}"}
            ).json()
            if job["status"] in ("succeeded", "failed"):
                return job
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} did not finish")

    def run(self, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        """Submit and wait (a worker must be running)."""
        return self.wait(str(self.submit(body, key)["id"]), key)

    def cost_events(self, job_id: str | None = None) -> list[CostEvent]:
        query = select(CostEvent).order_by(CostEvent.id)
        if job_id is not None:
            query = query.where(CostEvent.job_id == uuid.UUID(job_id))
        with self.runtime.sessions() as session:
            return list(session.scalars(query))

    def jobs(self) -> list[Job]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(Job).order_by(Job.created_at)))

    @contextmanager
    def worker(self, concurrency: int = 4) -> Iterator[None]:
        with start_worker(
            self.celery,
            pool="threads",
            concurrency=concurrency,
            perform_ping_check=False,
            queues=list(ALL_QUEUES),
            loglevel="WARNING",
        ):
            yield

    def close(self) -> None:
        self.client.close()
        self.runtime.dispose()


@contextmanager
def fakes(latency_ms: float = 0.0) -> Iterator[tuple[FakeNim, FakeAnthropic]]:
    with (
        FakeNim(latency_ms=latency_ms) as nim,
        FakeAnthropic(latency_ms=latency_ms, api_key=ANTHROPIC_KEY) as anthropic,
    ):
        yield nim, anthropic
