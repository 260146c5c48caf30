"""A coding team's traffic through grump, against what the same clients pay going direct.

  PYTHONPATH=$PWD .venv/bin/python bench/replay.py [--sessions 24] [--batch-interval 60]

The trace (``bench/replay_trace.py``): streamed assistant sessions resending a long
system prompt and tool definitions, each turn a tool loop; repeats by other users;
diff reviews that may wait six hours (a fifth of the calls); short service requests.
Tasks are the labelled set's held-out families only.

Four runs against the loopback NIM and Anthropic fakes (processes, with latency),
each billing every call at list prices (``tests.fakes.invoice``):

1. direct, with the clients' own ``cache_control`` breakpoints (system, last
   tool, last message) straight to the premium model: the bill a team pays today;
2. direct, no breakpoints: all premium, uncached;
3. through grump (real llm workers, a cpu worker and beat, Redis and a fresh
   Postgres database), clients sending their breakpoints;
4. through grump, clients sending none (grump places its own).

For each grump run it prints the bill against both baselines, each saving
cause's share (from the ledger's cost events), hard requests answered on the
economy model, the share of easy short requests there, whether every deferred
job finished before its deadline, and the recorded spend against the invoice.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.procs import spawn, stop
from bench.replay_report import ledger_figures, report
from bench.replay_trace import (
    SYSTEM_PROMPT,
    Session,
    Task,
    Trace,
    make_trace,
    marked_last,
    single_body,
    system_message,
    tool_output,
    tools,
)
from grump.celery.app import create_celery
from grump.jobs.models import CompleteInput, CompleteJobRequest
from grump.jobs.submit import submit_job
from grump.ledger.migrate import upgrade
from grump.ledger.models import Job
from grump.providers.anthropic_shapes import messages_payload
from grump.providers.base import ChatRequest
from grump.runtime import Runtime
from grump.settings import Settings
from tests.services import create_database, drop_database, free_port

PY = sys.executable
TENANT = "team"
PREMIUM, ECONOMY = "claude-sonnet-4-5", "moonshotai/kimi-k2.5"
FINAL = ("succeeded", "failed", "cancelled", "rejected")
ZERO = Decimal(0)
Call = Callable[[dict[str, Any], str, Task, str | None], dict[str, Any]]


class Fake:
    """A fake provider process, reset and read over HTTP."""

    def __init__(self, module: str, latency_ms: int) -> None:
        self.port = free_port()
        args = [PY, "-m", module, "--port", str(self.port), "--latency-ms", str(latency_ms)]
        self.proc = spawn(args, dict(os.environ))
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        for _ in range(100):
            try:
                self.http.get("/_fake/invoice")
                return
            except httpx.TransportError:
                time.sleep(0.1)

    def bill(self) -> Decimal:
        return Decimal(self.http.get("/_fake/invoice").json()["total"])

    def reset(self) -> None:
        self.http.post("/_fake/reset").raise_for_status()


def run_session(call: Call, session: Session, breakpoints: bool) -> None:
    """Each turn a tool loop: the task, the model's tool call, its result, the answer."""
    history: list[dict[str, Any]] = []
    for task in session.turns:
        history.append({"role": "user", "content": task.text})
        for _ in range(2):
            body = {
                "messages": [
                    system_message(SYSTEM_PROMPT, breakpoints),
                    *marked_last(history, breakpoints),
                ],
                "tools": tools(breakpoints),
                "max_tokens": 120,
                "stream": True,
            }
            result = call(body, session.user, task, None)
            calls = result.get("tool_calls") or []
            if not calls:
                history.append({"role": "assistant", "content": result.get("content") or ""})
                break
            history.append({"role": "assistant", "content": None, "tool_calls": calls})
            name = calls[0]["function"]["name"]
            history.append(
                {"role": "tool", "tool_call_id": calls[0]["id"], "content": tool_output(name)}
            )


def run_trace(call: Call, trace: Trace, breakpoints: bool, threads: int) -> None:
    """The sessions and single calls at once, then the repeats (the same tasks started later)."""
    first = [s for s in trace.sessions if not s.repeat]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(run_session, call, s, breakpoints) for s in first]
        futures += [
            pool.submit(call, single_body(s, breakpoints), s.user, s.task, s.deadline)
            for s in trace.singles
        ]
        for future in futures:
            future.result()
        again = [s for s in trace.sessions if s.repeat]
        for future in [pool.submit(run_session, call, s, breakpoints) for s in again]:
            future.result()


def direct_call(fake: Fake) -> Call:
    """A client calling the premium model itself (Messages, as the fake bills it)."""

    def call(body: dict[str, Any], user: str, task: Task, deadline: str | None) -> dict[str, Any]:
        request = ChatRequest(PREMIUM, CompleteInput.model_validate({**body, "stream": False}))
        answer = fake.http.post(
            "/v1/messages",
            json=messages_payload(request),
            headers={"x-api-key": "bench", "anthropic-version": "2023-06-01"},
        ).json()
        text = " ".join(b["text"] for b in answer["content"] if b["type"] == "text")
        calls = [
            {
                "id": b["id"],
                "type": "function",
                "function": {"name": b["name"], "arguments": json.dumps(b["input"])},
            }
            for b in answer["content"]
            if b["type"] == "tool_use"
        ]
        return {"content": text, "tool_calls": calls}

    return call


class GrumpRun:
    """Jobs submitted in-process (as the API submits them), answered by worker processes."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.runtime = Runtime(settings)
        self.app = create_celery(settings, self.runtime)
        self.engine = engine
        self.requests: list[tuple[uuid.UUID, Task, bool]] = []  # job, task, deferred

    def call(
        self, body: dict[str, Any], user: str, task: Task, deadline: str | None
    ) -> dict[str, Any]:
        job: dict[str, Any] = {"kind": "complete", "input": body, "user": user}
        if deadline is not None:
            job["deadline"] = deadline
        submitted = submit_job(
            self.runtime, self.app, TENANT, CompleteJobRequest.model_validate(job)
        )
        self.requests.append((submitted.job.id, task, deadline is not None))
        if deadline is not None:
            return {}  # a review: nobody waits for it
        return self.wait(submitted.job.id)

    def wait(self, job_id: uuid.UUID, timeout: float = 900) -> dict[str, Any]:
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            with self.engine.connect() as connection:
                status, result = connection.execute(
                    select(Job.status, Job.result).where(Job.id == job_id)
                ).one()
            if status in FINAL:
                return dict(result or {})
            time.sleep(0.02)
        raise SystemExit(f"job {job_id} did not finish")


def _env(
    broker: str, database: str, data: Path, nim: Fake, claude: Fake, interval: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRUMP_")}
    env.update(
        {
            "GRUMP_BROKER_URL": broker,
            "GRUMP_REDIS_URL": broker,
            "GRUMP_DATABASE_URL": database,
            "GRUMP_DATA_DIR": str(data),
            "GRUMP_NIM_URL": f"http://127.0.0.1:{nim.port}/v1",
            "GRUMP_ANTHROPIC_URL": f"http://127.0.0.1:{claude.port}",
            "GRUMP_ANTHROPIC_API_KEY": "bench-key",
            "GRUMP_LOG_LEVEL": "WARNING",
            "GRUMP_BATCH_INTERVAL_SECONDS": str(interval),
        }
    )
    return env


def grump_run(
    trace: Trace, breakpoints: bool, fakes: tuple[Fake, Fake], args: argparse.Namespace
) -> dict[str, Any]:
    """One run through grump; what the ledger says and what the fakes billed."""
    nim, claude = fakes
    for fake in fakes:
        fake.reset()
    redis.Redis.from_url(args.redis).flushdb()
    database, name = create_database()
    upgrade(database)
    data = Path(f"/tmp/grump-replay-{name}")
    env = _env(args.redis, database, data, nim, claude, args.batch_interval)
    procs: list[subprocess.Popen[bytes]] = [
        spawn([PY, "-m", "grump.cli", "worker", "--tier", "llm"], env) for _ in range(args.workers)
    ]
    procs += [spawn([PY, "-m", "grump.cli", "worker", "--tier", "cpu"], env)]
    procs += [spawn([PY, "-m", "grump.cli", "beat"], env)]
    engine = create_engine(database, pool_size=args.threads + 4)
    try:
        time.sleep(6)  # workers import and connect to the broker
        settings = Settings.model_validate(
            {k.removeprefix("GRUMP_").lower(): v for k, v in env.items() if k.startswith("GRUMP_")}
        )
        run = GrumpRun(settings, engine)
        start = time.perf_counter()
        run_trace(run.call, trace, breakpoints, args.threads)
        for job_id, _, deferred in run.requests:
            if deferred:
                run.wait(job_id)
        wall = time.perf_counter() - start
        figures = ledger_figures(engine, run.requests)
        figures.update(wall=wall, billed=nim.bill() + claude.bill())
        run.runtime.dispose()
        return figures
    finally:
        for proc in procs:
            stop(proc)
        engine.dispose()
        drop_database(name)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=24)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--services", type=int, default=45)
    parser.add_argument("--threads", type=int, default=16, help="clients at once")
    parser.add_argument("--workers", type=int, default=2, help="LLM worker processes")
    parser.add_argument("--nim-latency-ms", type=int, default=80)
    parser.add_argument("--anthropic-latency-ms", type=int, default=250)
    parser.add_argument(
        "--batch-interval", type=int, default=60, help="GRUMP_BATCH_INTERVAL_SECONDS"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    trace = make_trace(args.sessions, args.turns, args.repeats, args.services)
    fakes = (
        Fake("tests.fakes.nim", args.nim_latency_ms),
        Fake("tests.fakes.anthropic", args.anthropic_latency_ms),
    )
    try:
        baselines: dict[str, Decimal] = {}
        for label, breakpoints in (("direct_breakpoints", True), ("direct_uncached", False)):
            fakes[1].reset()
            run_trace(direct_call(fakes[1]), trace, breakpoints, args.threads)
            baselines[label] = fakes[1].bill()
        runs = {bp: grump_run(trace, bp, fakes, args) for bp in (True, False)}
        report(trace, baselines, runs)
    finally:
        for fake in fakes:
            stop(fake.proc)


if __name__ == "__main__":
    main()
