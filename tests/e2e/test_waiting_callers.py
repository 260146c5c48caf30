"""A thousand callers waiting on one `grump api` process: no thread each, health answers meanwhile.

The API runs as the real program (uvicorn) on Redis and Postgres, with no worker:
its jobs stay queued and every ``GET /v1/jobs/{id}?wait=30`` waits. The callers
are held from one asyncio loop (aiohttp: a call costs the client well under a
millisecond of CPU, so it does not crowd the API on a 2-core machine). While
they wait, ``/healthz`` and ``/readyz`` are timed; then the test ends the jobs
as a worker does (the ledger's commit, then the final events over Redis) and
times how soon every caller has its answer.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
import httpx
import pytest
from redis import Redis
from sqlalchemy import update

from grump.jobs.events import JobEvent, publish
from grump.jobs.models import JobStatus
from grump.ledger.db import make_engine, utcnow
from grump.ledger.models import Job
from tests.e2e.conftest import Programs, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

WAITERS = 1000
WAIT_SECONDS = 30  # far longer than the test holds them: an early answer is a failure
BATCH = 500  # GRUMP_MAX_JOBS_PER_BATCH's default
PROBE_EVERY = 0.1
HEALTH_LIMIT_MS = 100.0  # the figure for /healthz and /readyz under 1,000 waiters


@dataclass
class Probes:
    """Latencies (ms) and statuses of the health probes, by path."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {"/healthz": [], "/readyz": []})
    statuses: set[int] = field(default_factory=set)

    def line(self, path: str) -> str:
        values = sorted(self.ms[path])
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        return (
            f"{path}: n={len(values)} p50={statistics.median(values):.1f} ms"
            f" p99={p99:.1f} ms max={values[-1]:.1f} ms"
        )


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _threads(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):  # noqa: SIM115
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count")


def _queue_jobs(url: str, key: str) -> list[str]:
    """WAITERS distinct parse jobs, queued in batches (no worker runs: they stay queued)."""
    ids: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for start in range(0, WAITERS, BATCH):
            jobs = [
                {"kind": "parse", "input": {"text": f"todo app number {i} {uuid.uuid4().hex}"}}
                for i in range(start, min(WAITERS, start + BATCH))
            ]
            answer = client.post("/v1/jobs:batch", json={"jobs": jobs})
            assert answer.status_code == 202, answer.text
            ids += [item["job"]["id"] for item in answer.json()["items"]]
    assert len(set(ids)) == WAITERS
    return ids


async def _probe(session: aiohttp.ClientSession, url: str, probes: Probes, until: float) -> None:
    while time.monotonic() < until:
        for path in probes.ms:
            started = time.perf_counter()
            async with session.get(url + path) as answer:
                await answer.read()
                probes.statuses.add(answer.status)
            probes.ms[path].append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(PROBE_EVERY)


async def _wait_on(session: aiohttp.ClientSession, url: str, job_id: str) -> tuple[int, str]:
    async with session.get(f"{url}/v1/jobs/{job_id}", params={"wait": WAIT_SECONDS}) as answer:
        body = await answer.json()
        if answer.status == 503:  # the ledger's pool could not take every read in time
            return 503, f"retry after {answer.headers['Retry-After']}"
        return answer.status, str(body.get("status"))


def _end_jobs_as_a_worker(programs: Programs, ids: list[str]) -> None:
    """What a worker does when jobs end: commit their end, then publish their final events."""
    engine = make_engine(programs.env["GRUMP_DATABASE_URL"])
    try:
        with engine.begin() as connection:
            connection.execute(
                update(Job)
                .where(Job.id.in_([uuid.UUID(i) for i in ids]))
                .values(status=JobStatus.CANCELLED.value, finished_at=utcnow())
            )
    finally:
        engine.dispose()
    client = Redis.from_url(programs.env["GRUMP_REDIS_URL"])
    try:
        publish(client, [JobEvent(uuid.UUID(i), "final") for i in ids])
    finally:
        client.close()


async def _hold(programs: Programs, pid: int, url: str, key: str, ids: list[str]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=0)  # one connection per waiting caller
    timeout = aiohttp.ClientTimeout(total=WAIT_SECONDS + 30)
    async with (
        aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as waiters,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as health,
    ):
        arriving, waiting = Probes(), Probes()
        cpu_before = _cpu_seconds(pid)
        started = time.monotonic()
        calls = [asyncio.create_task(_wait_on(waiters, url, i)) for i in ids]
        # While the thousand calls arrive, and then while they all wait.
        await _probe(health, url, arriving, started + 3.0)
        cpu_arrived = _cpu_seconds(pid)
        threads = _threads(pid)
        await _probe(health, url, waiting, time.monotonic() + 5.0)
        cpu_held = _cpu_seconds(pid) - cpu_arrived
        early = [c for c in calls if c.done()]
        assert early == [], [c.result() for c in early[:5]]

        woken = time.monotonic()
        await asyncio.to_thread(_end_jobs_as_a_worker, programs, ids)
        published = time.monotonic()
        answers = await asyncio.gather(*calls)
        answered = time.monotonic()

    # Every caller has its job's end, though all were woken in the same instant: their
    # rows are read for them in batches (grump.jobs.ended), not a read per caller.
    unavailable = [a for a in answers if a[0] == 503]
    assert [a for a in answers if a != (200, "cancelled")] == []
    assert arriving.statuses == waiting.statuses == {200}
    print(
        f"\n{WAITERS} callers waiting on one API process ({threads} threads);"
        f" API CPU {1000 * (cpu_arrived - cpu_before) / WAITERS:.2f} ms per arriving caller,"
        f" {1000 * cpu_held:.0f} ms over the 5 s they all waited"
    )
    for name, probes in (("arriving", arriving), ("waiting", waiting)):
        for path in probes.ms:
            print(f"  {name:8} {probes.line(path)}")
    print(
        f"  all {WAITERS} answered {1000 * (answered - published):.0f} ms after the events were"
        f" published ({1000 * (answered - woken):.0f} ms after the commit began),"
        f" {len(unavailable)} of them 503"
    )
    # No thread per caller: the process runs its loop, the event listener and pools' threads.
    assert threads < WAITERS / 10
    for path in waiting.ms:
        assert statistics.median(waiting.ms[path]) < HEALTH_LIMIT_MS, waiting.line(path)


def test_a_thousand_waiting_callers_leave_health_answering(programs: Programs) -> None:
    programs.run("migrate")
    key = programs.run("keys", "create", "--tenant", "acme").strip()
    api = programs.start("api", name="api")
    url = programs.env["GRUMP_API_URL"]
    wait_ready(url)
    ids = _queue_jobs(url, key)
    asyncio.run(_hold(programs, api.pid, url, key, ids))
