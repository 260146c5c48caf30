"""Sustained open-loop submit load on every program of a real deployment. Prints figures.

  .venv/bin/python bench/load.py [--seconds 60] [--rate 20] [--redis redis://127.0.0.1:6379/11]

Starts, as subprocesses on real Redis and a fresh Postgres database: the API as
two processes on one port (`grump api --workers 2`), a cpu, an llm and a gpu
worker, beat, and the loopback NIM and Anthropic fakes. This process then
sends single submits on a fixed schedule whatever the answers' latency (open
loop), in a fixed mix: of every 10 jobs 4 parse, 4 complete (1 in 4 of them
complex enough for the premium model) and 2 embed, each input distinct so
neither the cache nor coalescing folds jobs. It reports accepted/s, rejections,
completion and drain time, submit and end-to-end latency, and the RSS of every
process at start, every 10 s and after the drain. Exits 1 if an accepted job
was lost (not final when the drain timed out); asserts nothing else.
tests/e2e/test_load.py runs the same machinery for 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import redis
from sqlalchemy import create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Re-exported: tests/e2e/test_load.py takes process_tree from here, with the Stack.
from bench.procs import ROOT, ProcessTable, stop
from bench.procs import process_tree as process_tree
from grump.ledger.migrate import upgrade
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from tests.services import REDIS_URL, create_database, drop_database, free_port

PY = sys.executable
KINDS = ("parse", "complete", "parse", "embed", "complete") * 2  # 4 : 4 : 2
CLIENTS = 8
FINAL = ("succeeded", "failed", "cancelled", "rejected")

# A prompt the complexity score sends to the premium tier.
COMPLEX = (
    "Design the architecture of a distributed {x} service: refactor the concurrency model, "
    "explain the trade-off between consistency and latency, prove the failover is safe, "
    "and debug this step by step. First list the components, then the data flow, "
    "after that the failure modes, finally a migration plan. " + "Context: {x} " * 30
)


def job_body(index: int, tag: str) -> dict[str, Any]:
    """The ``index``-th job of the mix; ``tag`` makes every input of a run distinct."""
    kind = KINDS[index % len(KINDS)]
    words = f"{tag} {index}"
    if kind == "parse":
        return {"kind": kind, "input": {"text": f"todo app {words} with login and Stripe"}}
    if kind == "embed":
        texts = [f"passage {k} of {words} about queues" for k in range(2)]
        return {"kind": kind, "input": {"texts": texts, "dimensions": 256}}
    premium = index % (2 * len(KINDS)) in (1, 11)  # 2 of the 8 complete jobs in 20
    content = COMPLEX.format(x=words) if premium else f"translate '{words}' to french"
    messages = [{"role": "user", "content": content}]
    return {"kind": kind, "input": {"messages": messages, "max_tokens": 64}}


@dataclass
class Submission:
    kind: str
    status: int  # HTTP status; 0 when no answer came (connection error, timeout)
    latency: float  # seconds from the scheduled send to the answer
    job_id: uuid.UUID | None


class Stack:
    """Every program of a deployment, on a fresh database; logs in ``workdir``."""

    def __init__(self, redis_url: str, workdir: Path, api_workers: int = 2) -> None:
        self.redis_url, self.workdir, self.api_workers = redis_url, workdir, api_workers
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.url = f"http://127.0.0.1:{free_port()}"
        # A stand-in until start() has made the database: stop() may run before that.
        self.db_name, self.key, self.engine = "", "", create_engine("sqlite://")

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with open(self.workdir / f"{name}.log", "wb") as log:
            self.procs[name] = subprocess.Popen(
                argv,
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _env(self, database: str, nim: int, anthropic: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRUMP_")}
        env.update(
            GRUMP_BROKER_URL=self.redis_url,
            GRUMP_REDIS_URL=self.redis_url,
            GRUMP_DATABASE_URL=database,
            GRUMP_DATA_DIR=str(self.workdir / "data"),
            GRUMP_API_PORT=self.url.rsplit(":", 1)[1],
            GRUMP_NIM_URL=f"http://127.0.0.1:{nim}/v1",
            GRUMP_ANTHROPIC_URL=f"http://127.0.0.1:{anthropic}",
            GRUMP_ANTHROPIC_API_KEY="load-key",
            GRUMP_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",  # a log read after a failure has every line
        )
        return env

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        redis.Redis.from_url(self.redis_url).flushdb()  # no message of an earlier run
        database, self.db_name = create_database()
        upgrade(database)
        self.engine = create_engine(database)
        nim, anthropic = free_port(), free_port()
        # Provider-like latencies: a hosted cheap model answers faster than the premium one.
        for name, port, latency in (("nim", nim, 80), ("anthropic", anthropic, 250)):
            fake = [PY, "-m", f"tests.fakes.{name}", "--port", str(port)]
            self._spawn(f"fake-{name}", [*fake, "--latency-ms", str(latency)], dict(os.environ))
        env, cli = self._env(database, nim, anthropic), [PY, "-m", "grump.cli"]
        keys = [*cli, "keys", "create", "--tenant", "load"]
        self.key = subprocess.run(keys, env=env, capture_output=True, check=True).stdout.decode()
        self._spawn("api", [*cli, "api", "--workers", str(self.api_workers)], env)
        for tier in ("cpu", "llm", "gpu"):
            self._spawn(tier, [*cli, "worker", "--tier", tier], env)
        self._spawn("beat", [*cli, "beat"], env)
        self.warm_up()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key.strip()}"}

    def warm_up(self, timeout: float = 90) -> None:
        """Jobs of every kind and tier, through to success: every program is serving."""
        deadline, ids = time.monotonic() + timeout, []
        # A new connection per job, so that every API process gets some and warms up too.
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=self.url, headers=self.headers(), limits=fresh) as http:
            for index in range(2 * len(KINDS)):
                while time.monotonic() < deadline:
                    try:
                        answer = http.post("/v1/jobs", json=job_body(index, "warm-up"))
                        if answer.status_code == 202:
                            ids.append(uuid.UUID(answer.json()["id"]))
                            break
                    except httpx.TransportError:
                        pass  # the API is still starting
                    time.sleep(0.2)
        if len(ids) < 2 * len(KINDS) or self.wait_final(ids, deadline - time.monotonic()):
            raise RuntimeError(f"the warm-up jobs did not all succeed:\n{self.logs()}")

    def ledger(self) -> dict[uuid.UUID, tuple[str, float]]:
        """Every job's status and seconds from submit to finish (NaN if not finished)."""
        query = select(Job.id, Job.status, Job.created_at, Job.finished_at)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return {i: (str(s), (f - c).total_seconds() if f else float("nan")) for i, s, c, f in rows}

    def cost_events(self) -> dict[uuid.UUID, int]:
        query = select(CostEvent.job_id, func.count()).group_by(CostEvent.job_id)
        with self.engine.connect() as connection:
            return {job_id: int(n) for job_id, n in connection.execute(query)}

    def wait_final(self, ids: list[uuid.UUID], timeout: float) -> dict[str, int]:
        """Wait for every job to be final; the count of each status other than succeeded."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.ledger()
            statuses = [found.get(i, ("missing", 0.0))[0] for i in ids]
            if all(s in FINAL for s in statuses) or time.monotonic() > deadline:
                return dict(Counter(s for s in statuses if s != "succeeded"))
            time.sleep(0.25)

    def logs(self, tail: int = 2000) -> str:
        logs = sorted(self.workdir.glob("*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}" for p in logs)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # all at once: they shut down in parallel
        for proc in self.procs.values():
            stop(proc)
        self.engine.dispose()
        if self.db_name:
            drop_database(self.db_name)
        redis.Redis.from_url(self.redis_url).flushdb()


@dataclass
class Run:
    """One load run: what was sent and answered, and what the ledger made of it."""

    rate: float
    seconds: float
    submissions: list[Submission] = field(default_factory=list)
    finals: dict[uuid.UUID, tuple[str, float]] = field(default_factory=dict)
    cost_events: dict[uuid.UUID, int] = field(default_factory=dict)
    drain: float = 0.0
    generator_cpu: float = 0.0

    @property
    def accepted(self) -> list[uuid.UUID]:
        return [s.job_id for s in self.submissions if s.job_id is not None]

    @property
    def lost(self) -> list[uuid.UUID]:
        return [i for i in self.accepted if self.finals.get(i, ("missing",))[0] not in FINAL]


async def _one(http: httpx.AsyncClient, index: int, tag: str, due: float) -> Submission:
    body = job_body(index, tag)
    try:
        answer = await http.post("/v1/jobs", json=body)
        status = answer.status_code
        job_id = uuid.UUID(answer.json()["id"]) if status == 202 else None
    except httpx.HTTPError:
        status, job_id = 0, None
    return Submission(body["kind"], status, asyncio.get_running_loop().time() - due, job_id)


async def offer(
    stack: Stack, rate: float, seconds: float, tick: Callable[[str], None] | None = None
) -> list[Submission]:
    """Open loop: job i is sent at start + i/rate, however long earlier answers take.

    Jobs go round-robin through CLIENTS clients, as from that many services: one
    client's keep-alive connection would pin every request to one API process.
    """
    async with contextlib.AsyncExitStack() as opened:
        clients = [
            await opened.enter_async_context(
                httpx.AsyncClient(base_url=stack.url, headers=stack.headers(), timeout=60)
            )
            for _ in range(CLIENTS)
        ]
        loop = asyncio.get_running_loop()
        start, tag, sent = loop.time() + 0.05, uuid.uuid4().hex[:8], []
        for index in range(round(rate * seconds)):
            due = start + index / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            http = clients[index % CLIENTS]
            sent.append(asyncio.create_task(_one(http, index, tag, due)))
            if tick is not None and index and index % round(rate * 10) == 0:
                tick(f"{index / rate:.0f}s")  # a memory sample every 10 s of load
        return list(await asyncio.gather(*sent))


def run_load(
    stack: Stack, rate: float, seconds: float, table: ProcessTable | None = None, drain: float = 60
) -> Run:
    run, began = Run(rate, seconds), time.process_time()
    tick = table.sample if table is not None else None
    run.submissions = asyncio.run(offer(stack, rate, seconds, tick))
    run.generator_cpu = time.process_time() - began
    if table is not None:
        table.sample("load end")
    stopped = time.monotonic()
    stack.wait_final(run.accepted, timeout=drain)
    run.drain = time.monotonic() - stopped
    run.finals, run.cost_events = stack.ledger(), stack.cost_events()
    if table is not None:
        table.sample("drained")
    return run


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(run: Run) -> None:
    accepted, statuses = (
        run.accepted,
        Counter(run.finals[i][0] for i in run.accepted if i in run.finals),
    )
    rejected = Counter(s.status for s in run.submissions if s.job_id is None)
    offered, seconds = len(run.submissions), run.seconds
    print(
        f"offered {offered} ({offered / seconds:.1f}/s); accepted {len(accepted)} "
        f"({len(accepted) / seconds:.1f}/s); rejected by HTTP status {dict(rejected) or 'none'}"
        f" (0: no answer); load generator CPU {run.generator_cpu:.1f} s"
    )
    print(
        f"succeeded {statuses['succeeded']} of {len(accepted)} accepted "
        f"({statuses['succeeded'] / max(1, len(accepted)):.2%}); final statuses {dict(statuses)}; "
        f"lost {len(run.lost)}; drained {run.drain:.1f} s after the last answer"
    )
    window = max(1, round(run.rate * 10))
    slices = [run.submissions[i : i + window] for i in range(0, offered, window)]
    trend = [percentile([s.latency for s in part], 0.99) * 1000 for part in slices]
    print("submit p99 ms in each 10 s of load: " + ", ".join(f"{ms:.0f}" for ms in trend))
    print(f"\n{'ms':<9}{'jobs':>6}{'submit p50':>12}{'p99':>8}{'e2e p50':>10}{'p99':>8}")
    for kind in ("all", *sorted(set(KINDS))):
        mine = [s for s in run.submissions if kind in ("all", s.kind)]
        e2e = [run.finals[s.job_id][1] for s in mine if s.job_id in run.finals]
        submit = [s.latency for s in mine]
        figures = [percentile(v, q) * 1000 for v in (submit, e2e) for q in (0.5, 0.99)]
        print(
            f"{kind:<9}{len(mine):>6}"
            + "".join(f"{f:>{w}.1f}" for f, w in zip(figures, (12, 8, 10, 8), strict=True))
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=20.0, help="jobs/s offered")
    parser.add_argument("--redis", default=REDIS_URL.rsplit("/", 1)[0] + "/11")
    args = parser.parse_args()
    workdir = Path(f"/tmp/grump-load-{os.getpid()}")
    with Stack(args.redis, workdir) as stack:
        roots = {n: p.pid for n, p in stack.procs.items() if not n.startswith("fake")}
        table = ProcessTable(roots)
        table.sample("start")
        print(
            f"machine: {os.cpu_count()} cores; {args.seconds:g} s at {args.rate:g} jobs/s; "
            "mix per 10 jobs: 4 parse, 4 complete (1 in 4 premium), 2 embed; "
            f"API: grump api --workers 2 (one port); load average {os.getloadavg()[0]:.1f}"
        )
        run = run_load(stack, args.rate, args.seconds, table)
        report(run)
        table.show()
        print(f"load average {os.getloadavg()[0]:.1f}; logs: {workdir}")
    return 1 if run.lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
