"""A worker SIGKILLed mid-stream: its follower is told at once, not left hanging; the job runs
again on another worker, is recorded and charged once, and a new follower gets its whole answer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from grump.client import GrumpClient
from grump.jobs.stream import StreamBroken, StreamEnded, TextDelta, follow
from grump.ledger.db import make_engine, make_sessionmaker
from grump.ledger.money_models import CostEvent
from grump.runtime import Runtime
from grump.settings import Settings
from tests.e2e.conftest import Programs, wait_ready
from tests.e2e.statuses import wait_status

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]


def _runtime(programs: Programs) -> Runtime:
    """A follower in the test process, configured as the API is."""
    env = programs.env
    return Runtime(
        Settings.model_validate(
            {
                "broker_url": env["GRUMP_BROKER_URL"],
                "redis_url": env["GRUMP_REDIS_URL"],
                "database_url": env["GRUMP_DATABASE_URL"],
                "data_dir": env["GRUMP_DATA_DIR"],
            }
        )
    )


def _follow(runtime: Runtime, job_id: str, first: Any = None) -> list[Any]:
    async def run() -> list[Any]:
        items: list[Any] = []
        async for item in follow(runtime, uuid.UUID(job_id), 60):
            items.append(item)
            if first is not None and len(items) == 1:
                first()
        await runtime.aclose()
        return items

    return asyncio.run(run())


def test_a_worker_killed_mid_stream_breaks_the_stream_cleanly(programs: Programs) -> None:
    # A slow stream (its 4 s spread over its words): the kill lands between two deltas.
    programs.env["GRUMP_OFFLINE_LATENCY_MS"] = "4000"
    programs.run("migrate")
    key = programs.run("keys", "create", "--tenant", "acme").strip()
    programs.start("api", name="api")
    url = programs.env["GRUMP_API_URL"]
    wait_ready(url)
    first: subprocess.Popen[bytes] = programs.start("worker", "--tier", "llm", name="worker")
    body = {
        "messages": [{"role": "user", "content": "stream a long answer slowly"}],
        "max_tokens": 60,
        "stream": True,
    }
    follower = _runtime(programs)
    killed: list[float] = []

    def kill_worker() -> None:
        # The worker process alone (its lease helper sees it go and drops its leases at once).
        os.kill(first.pid, signal.SIGKILL)
        killed.append(time.monotonic())

    with GrumpClient(url, key) as client:
        job_id = client.submit("complete", body)["id"]
        try:
            items = _follow(follower, job_id, kill_worker)
            broken_in = time.monotonic() - killed[0]
        finally:
            follower.dispose()
        programs.start("worker", "--tier", "llm", name="worker")
        try:
            done = wait_status(client, job_id, "succeeded", timeout=60)
        except AssertionError:
            raise AssertionError(f"{client.get(job_id)}\n{programs.log_text()}") from None
    assert isinstance(items[0], TextDelta) and isinstance(items[-1], StreamBroken), items
    assert items[-1].code == "worker_lost" and len(items) < 10, programs.log_text()
    print(f"follower told {broken_in:.2f} s after the kill")
    assert done["attempts"] == 2, programs.log_text()

    # Followed again once run: the new run's whole answer, none of the dead run's.
    again = _runtime(programs)
    try:
        replay = _follow(again, job_id)
    finally:
        again.dispose()
    assert isinstance(replay[-1], StreamEnded) and len(replay) > 2
    text = "".join(i.text for i in replay if isinstance(i, TextDelta))
    assert text == done["result"]["content"]

    engine = make_engine(programs.env["GRUMP_DATABASE_URL"])
    with make_sessionmaker(engine)() as session:
        count = session.scalar(
            select(func.count()).select_from(CostEvent).where(CostEvent.job_id == uuid.UUID(job_id))
        )
    engine.dispose()
    assert count == 1
