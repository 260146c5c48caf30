"""A whole grump on throwaway Redis, PostgreSQL and a fake NIM, for breaking on purpose.

Each test gets its own Redis server and fake NIM, and its own database in one
PostgreSQL cluster started for the session; the test may stop and start any of
them. The machine's shared Redis and Postgres are never touched.

The broker is that Redis unless the test asks for another (``BOTH_BROKERS``):
``rabbitmq`` is a vhost of its own on the machine's RabbitMQ, ``rabbitmq-node`` a
RabbitMQ node of its own that the test may crash and start again. Redis stays
``GRUMP_REDIS_URL`` (leases, cache) under either.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from grump.ledger.migrate import upgrade
from grump.ledger.models import Job
from grump.ledger.money_models import BudgetPeriod, CostEvent
from tests.e2e.conftest import Programs, wait_ready
from tests.servers import ThrowawayPostgres, ThrowawayRabbitMQ, ThrowawayRedis, _wait_port
from tests.services import free_port, rabbitmq_vhost

TENANT = "acme"
FINAL = ("succeeded", "failed", "cancelled", "rejected")
# The fault tests that every broker must pass run once on each.
BOTH_BROKERS = pytest.mark.parametrize("broker", ["redis", "rabbitmq"], indirect=True)


class FakeNimProcess:
    """``python -m tests.fakes.nim`` as a subprocess, scripted over HTTP."""

    def __init__(self, workdir: Path, latency_ms: float) -> None:
        self.port = free_port()
        self._log = open(workdir / "fake-nim.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.nim",
                "--port",
                str(self.port),
                "--latency-ms",
                str(latency_ms),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if not _wait_port(self.port, 15):
            raise AssertionError("the fake NIM did not start")
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        self._earlier_calls = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, steps: list[dict[str, Any]]) -> None:
        self.http.post("/_fake/script", json=steps).raise_for_status()

    def chat_calls(self) -> int:
        """Chat completion calls received since the fake started (resets included)."""
        return self._earlier_calls + self._chat_calls_logged()

    def _chat_calls_logged(self) -> int:
        log = self.http.get("/_fake/requests").json()["requests"]
        return sum(1 for r in log if r["path"] == "/v1/chat/completions")

    def calls_per_prompt(self) -> Counter[str]:
        """How many chat calls carried each last user message (the logged ones)."""
        log = self.http.get("/_fake/requests").json()["requests"]
        return Counter(
            str(r["body"]["messages"][-1]["content"])
            for r in log
            if r["path"] == "/v1/chat/completions" and isinstance(r.get("body"), dict)
        )

    def clear_script(self) -> None:
        """Drop the scripted steps left; the request count carries on."""
        logged = self._chat_calls_logged()
        self.http.post("/_fake/reset").raise_for_status()
        self._earlier_calls += logged

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


@dataclass
class Ledger:
    """What the ledger says, read straight from the database."""

    engine: Engine

    def statuses(self, ids: list[uuid.UUID]) -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Job.status, func.count()).where(Job.id.in_(ids)).group_by(Job.status)
            ).all()
        return {str(status): int(count) for status, count in rows}

    def job(self, job_id: uuid.UUID) -> Any:
        """The job's row as the ledger has it."""
        with self.engine.connect() as connection:
            return connection.execute(select(Job).where(Job.id == job_id)).one()

    def cost_events_per_job(self) -> dict[uuid.UUID, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(CostEvent.job_id, func.count()).group_by(CostEvent.job_id)
            ).all()
        return {job_id: int(count) for job_id, count in rows}

    def cost_total(self) -> Decimal:
        with self.engine.connect() as connection:
            total = connection.scalar(select(func.coalesce(func.sum(CostEvent.cost), 0)))
        return Decimal(total or 0)

    def budget(self) -> tuple[Decimal, Decimal]:
        """(spent, reserved) summed over the tenant's budget periods."""
        with self.engine.connect() as connection:
            spent, reserved = connection.execute(
                select(
                    func.coalesce(func.sum(BudgetPeriod.spent), 0),
                    func.coalesce(func.sum(BudgetPeriod.reserved), 0),
                ).where(BudgetPeriod.tenant == TENANT)
            ).one()
        return Decimal(spent), Decimal(reserved)

    def models(self, ids: list[uuid.UUID]) -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(CostEvent.model, func.count())
                .where(CostEvent.job_id.in_(ids))
                .group_by(CostEvent.model)
            ).all()
        return {str(model): int(count) for model, count in rows}


class Cluster:
    """The programs, the servers under them, and helpers to drive and check a run."""

    def __init__(
        self,
        programs: Programs,
        redis: ThrowawayRedis,
        postgres: ThrowawayPostgres,
        nim: FakeNimProcess,
        ledger: Ledger,
        broker: str = "redis",
        rabbitmq: ThrowawayRabbitMQ | None = None,
    ) -> None:
        self.programs = programs
        self.redis = redis
        self.broker = broker
        self.rabbitmq = rabbitmq
        self.postgres = postgres
        self.nim = nim
        self.ledger = ledger
        self.url = programs.env["GRUMP_API_URL"]
        self.key = ""
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def prepare(self, budget_usd: str | None = "100") -> None:
        """Create the tenant's key and budget (before the API starts: no cached state)."""
        self.key = self.programs.run("keys", "create", "--tenant", TENANT).strip()
        self.http.headers["Authorization"] = f"Bearer {self.key}"
        if budget_usd is not None:
            self.programs.run(
                "budgets", "set", "--tenant", TENANT, "--period", "daily", "--limit", budget_usd
            )

    def start_api(self) -> None:
        self.programs.start("api", name="api")
        wait_ready(self.url, timeout=30)

    def start_worker(self, tier: str = "llm", module: str = "grump.cli") -> subprocess.Popen[bytes]:
        return self.programs.start("worker", "--tier", tier, name=f"worker-{tier}", module=module)

    def request_body(self, tag: str) -> dict[str, Any]:
        # A distinct question per job: neither the cache nor coalescing may fold jobs.
        content = f"question {tag} {uuid.uuid4().hex}"
        return {
            "kind": "complete",
            "input": {"messages": [{"role": "user", "content": content}], "max_tokens": 20},
        }

    def submit(self, tag: str) -> httpx.Response:
        return self.http.post(
            "/v1/jobs",
            json=self.request_body(tag),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )

    def submit_accepted(self, count: int, tag: str) -> list[uuid.UUID]:
        """Submit ``count`` jobs in batches; returns the ids the API accepted (202)."""
        ids: list[uuid.UUID] = []
        for start in range(0, count, 100):
            jobs = [self.request_body(f"{tag}-{i}") for i in range(start, min(count, start + 100))]
            answer = self.http.post("/v1/jobs:batch", json={"jobs": jobs})
            assert answer.status_code == 202, answer.text
            for item in answer.json()["items"]:
                assert item["error"] is None and item["job"]["status"] == "queued", item
                ids.append(uuid.UUID(item["job"]["id"]))
        return ids

    def wait_final(self, ids: list[uuid.UUID], timeout: float) -> dict[str, int]:
        """Wait until every job is final (or the time is up); returns status counts."""
        deadline = time.monotonic() + timeout
        statuses: dict[str, int] = {}
        while time.monotonic() < deadline:
            try:
                statuses = self.ledger.statuses(ids)
            except Exception:  # the database may be down in the middle of a fault test
                statuses = {}
            if sum(statuses.get(s, 0) for s in FINAL) == len(ids):
                return statuses
            time.sleep(0.25)
        return statuses

    def submit_until_accepted(self, tag: str, timeout: float) -> uuid.UUID:
        """Submit one job, again while the API answers 503 (the only refusal allowed)."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.submit(tag)
            if answer.status_code == 202:
                return uuid.UUID(answer.json()["id"])
            assert answer.status_code == 503, answer.text
            assert time.monotonic() < deadline, "the API never took jobs again"
            time.sleep(0.1)

    def wait_succeeded(self, ids: list[uuid.UUID], count: int, timeout: float) -> bool:
        """Wait until at least ``count`` of the jobs have succeeded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ledger.statuses(ids).get("succeeded", 0) >= count:
                return True
            time.sleep(0.1)
        return False

    def assert_charged_once(self, ids: list[uuid.UUID]) -> None:
        per_job = self.ledger.cost_events_per_job()
        assert all(per_job.get(i) == 1 for i in ids), {
            str(i): per_job.get(i) for i in ids if per_job.get(i) != 1
        }
        assert all(count == 1 for count in per_job.values())

    def assert_budget_settled(self) -> None:
        spent, reserved = self.ledger.budget()
        assert reserved == 0
        assert spent == self.ledger.cost_total()
        assert spent > 0

    def diagnostics(self) -> str:
        return self.programs.log_text()

    def diagnostics_full(self) -> str:
        """Every program's whole log."""
        logs = sorted(self.programs.logs.glob("*.log"))
        return "\n".join(p.read_text(errors="replace") for p in logs)

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="session")
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    postgres = ThrowawayPostgres()
    try:
        postgres.start()
        yield postgres
    finally:
        postgres.destroy()


def _fresh_database(postgres: ThrowawayPostgres) -> str:
    name = f"grump_fault_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = postgres.url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    return url


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> str:
    """Which broker the cluster runs on: ``redis`` unless parametrized."""
    return str(getattr(request, "param", "redis"))


@contextmanager
def _broker(
    broker: str, redis: ThrowawayRedis, tmp_path: Path
) -> Iterator[tuple[str, ThrowawayRabbitMQ | None]]:
    """The broker's URL, and the RabbitMQ node when the test has one of its own."""
    if broker == "redis":
        yield redis.url, None
    elif broker == "rabbitmq":
        with rabbitmq_vhost() as url:
            yield url, None
    else:
        node = ThrowawayRabbitMQ(tmp_path)
        node.start()
        try:
            yield node.url, node
        finally:
            node.stop()


@pytest.fixture
def cluster(
    throwaway_postgres: ThrowawayPostgres, tmp_path: Path, broker: str
) -> Iterator[Cluster]:
    with ExitStack() as servers:
        redis = ThrowawayRedis(tmp_path)
        redis.start()
        servers.callback(redis.stop)
        broker_url, rabbitmq = servers.enter_context(_broker(broker, redis, tmp_path))
        nim = FakeNimProcess(tmp_path, latency_ms=200)
        servers.callback(nim.close)
        database_url = _fresh_database(throwaway_postgres)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRUMP_")}
        port = free_port()
        env.update(
            {
                "GRUMP_BROKER_URL": broker_url,
                "GRUMP_REDIS_URL": redis.url,
                "GRUMP_DATABASE_URL": database_url,
                "GRUMP_DATA_DIR": str(tmp_path / "data"),
                "GRUMP_API_PORT": str(port),
                "GRUMP_API_URL": f"http://127.0.0.1:{port}",
                "GRUMP_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",  # a killed program's last log lines are evidence
                "GRUMP_NIM_URL": nim.url,
                "GRUMP_CACHE_ENABLED": "false",
                "GRUMP_RETRY_AFTER_SECONDS": "2",
                "GRUMP_PROVIDER_CONNECT_TIMEOUT_SECONDS": "2",
                "GRUMP_PROVIDER_TIMEOUT_SECONDS": "10",
            }
        )
        programs = Programs(env, tmp_path)
        servers.callback(programs.stop_all)
        engine = create_engine(database_url, pool_pre_ping=True)
        servers.callback(engine.dispose)
        ledger = Ledger(engine)
        cluster = Cluster(programs, redis, throwaway_postgres, nim, ledger, broker, rabbitmq)
        servers.callback(cluster.close)
        yield cluster
