"""Replay of a realistic trace through the real queue: what grump saves against premium-only.

  .venv/bin/python bench/replay.py [--requests 5000] [--rate 250] [--workers 2 --threads 32]

Real Redis + Postgres (a fresh database), LLM workers as processes, and the
loopback NIM and Anthropic fakes as processes with provider-like latency. The
trace mixes simple and complex prompts from three tenants; about half the
requests repeat an earlier one (popular questions repeat more), arriving at a
steady rate. Costs come from the ledger the run wrote:

* baseline: every request on the premium model with no cache (cost events'
  baseline_cost, counted once per request a job answered, coalesced ones included);
* grump: what the cost events say was spent;
* the difference split into cache hits, routing below premium, the provider's
  prompt cache (Anthropic's cache reads, at 0.1x input), and coalescing.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import redis
from sqlalchemy import create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.procs import spawn, stop
from grump.celery.app import create_celery
from grump.jobs.models import CompleteJobRequest
from grump.jobs.submit import submit_job
from grump.ledger.migrate import upgrade
from grump.ledger.models import CostEvent, Job
from grump.runtime import Runtime
from grump.settings import Settings
from tests.services import create_database, drop_database, free_port

PY = sys.executable
TENANTS = ("acme", "globex", "initech")
SIMPLE = [
    "what time zone is {x} in",
    "translate '{x}' to french",
    "give me a synonym for {x}",
    "summarise in one line: {x} shipped today",
    "is {x} a prime number",
]
COMPLEX = (
    "Design the architecture of a distributed {x} service: refactor the concurrency model, "
    "explain the trade-off between consistency and latency, prove the failover is safe, "
    "and debug this step by step. First list the components, then the data flow, "
    "after that the failure modes, finally a migration plan. " + "Context: {x} " * 30
)


def make_trace(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(tenant, prompt) pairs: about half new, half repeats skewed towards popular prompts."""
    rng = random.Random(seed)
    seen: list[tuple[str, str]] = []
    trace: list[tuple[str, str]] = []
    for i in range(count):
        if seen and rng.random() < 0.5:
            # Early questions are the evergreen ones: skew the pick towards the oldest.
            trace.append(seen[int(len(seen) * rng.random() ** 2)])
            continue
        tenant = rng.choice(TENANTS)
        if rng.random() < 0.3:
            prompt = COMPLEX.format(x=f"system-{i}")
        else:
            prompt = rng.choice(SIMPLE).format(x=f"item-{i}")
        seen.append((tenant, prompt))
        trace.append((tenant, prompt))
    return trace


def _fake(module: str, port: int, latency_ms: int) -> subprocess.Popen[bytes]:
    args = [PY, "-m", module, "--port", str(port), "--latency-ms", str(latency_ms)]
    return spawn(args, dict(os.environ))


def _settings(broker: str, database: str, data: Path, nim: int, anthropic: int) -> dict[str, str]:
    return {
        "GRUMP_BROKER_URL": broker,
        "GRUMP_REDIS_URL": broker,
        "GRUMP_DATABASE_URL": database,
        "GRUMP_DATA_DIR": str(data),
        "GRUMP_NIM_URL": f"http://127.0.0.1:{nim}/v1",
        "GRUMP_ANTHROPIC_URL": f"http://127.0.0.1:{anthropic}",
        "GRUMP_ANTHROPIC_API_KEY": "bench-key",
        "GRUMP_LOG_LEVEL": "WARNING",
    }


def submit_all(settings: Settings, trace: list[tuple[str, str]], rate: float) -> float:
    runtime = Runtime(settings)
    app = create_celery(settings, runtime)
    interval = 1.0 / rate
    start = time.perf_counter()

    def one(index: int) -> None:
        tenant, prompt = trace[index]
        delay = start + index * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        request = CompleteJobRequest.model_validate(
            {
                "kind": "complete",
                "input": {"messages": [{"role": "user", "content": prompt}], "max_tokens": 400},
            }
        )
        submit_job(runtime, app, tenant, request)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(len(trace))))
    elapsed = time.perf_counter() - start
    runtime.dispose()
    return elapsed


def wait_done(database: str, timeout: float) -> None:
    engine = create_engine(database)
    deadline = time.monotonic() + timeout
    query = select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running")))
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                if connection.execute(query).scalar_one() == 0:
                    return
            time.sleep(0.5)
        raise SystemExit("the replay did not finish in time")
    finally:
        engine.dispose()


def report(database: str, requests: int, wall: float) -> None:
    engine = create_engine(database)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                CostEvent.cost,
                CostEvent.baseline_cost,
                CostEvent.cache_savings,
                CostEvent.routing_savings,
                CostEvent.provider_cache_savings,
                CostEvent.cached,
                CostEvent.tier,
                Job.coalesced_count,
            ).join(Job, Job.id == CostEvent.job_id)
        ).all()
        failed = connection.execute(
            select(func.count()).select_from(Job).where(Job.status != "succeeded")
        ).scalar_one()
    engine.dispose()
    zero = Decimal(0)
    spent = sum((r.cost for r in rows), zero)
    baseline = sum((r.baseline_cost * (1 + r.coalesced_count) for r in rows), zero)
    cache = sum((r.cache_savings for r in rows), zero)
    routing = sum((r.routing_savings for r in rows), zero)
    provider_cache = sum((r.provider_cache_savings for r in rows), zero)
    coalescing = sum((r.baseline_cost * r.coalesced_count for r in rows), zero)
    hits = sum(1 for r in rows if r.cached)
    coalesced = sum(r.coalesced_count for r in rows)
    premium = sum(1 for r in rows if r.tier == "premium" and not r.cached)
    print(f"requests {requests}, jobs {len(rows)}, failed {failed}, wall {wall:.1f} s")
    print(
        f"  provider calls {len(rows) - hits} ({premium} premium), cache hits {hits}, "
        f"coalesced {coalesced}"
    )
    print(f"  baseline (all premium, no cache): ${baseline:.4f}")
    print(f"  grump:                            ${spent:.4f}  ({spent / baseline:.1%} of baseline)")
    saved = baseline - spent
    print(
        f"  saved ${saved:.4f}: cache ${cache:.4f} ({cache / saved:.0%}), routing "
        f"${routing:.4f} ({routing / saved:.0%}), provider cache ${provider_cache:.4f} "
        f"({provider_cache / saved:.0%}), coalescing ${coalescing:.4f} "
        f"({coalescing / saved:.0%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=250.0, help="arrivals per second")
    parser.add_argument("--workers", type=int, default=2, help="LLM worker processes")
    parser.add_argument("--threads", type=int, default=32, help="threads per LLM worker")
    parser.add_argument("--nim-latency-ms", type=int, default=80)
    parser.add_argument("--anthropic-latency-ms", type=int, default=250)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    parser.add_argument(
        "--set", action="append", default=[], metavar="GRUMP_NAME=VALUE", help="extra setting"
    )
    args = parser.parse_args()

    # Its own Redis database: the test suite flushes db 14 whenever a test starts.
    broker = args.redis
    redis.Redis.from_url(broker).flushdb()
    database, name = create_database()
    upgrade(database)
    data = Path(f"/tmp/grump-replay-{name}")
    nim_port, anthropic_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRUMP_")}
    env.update(_settings(broker, database, data, nim_port, anthropic_port))
    env["GRUMP_LLM_CONCURRENCY"] = str(args.threads)
    env.update(item.split("=", 1) for item in args.set)
    procs = [
        _fake("tests.fakes.nim", nim_port, args.nim_latency_ms),
        _fake("tests.fakes.anthropic", anthropic_port, args.anthropic_latency_ms),
    ]
    procs += [
        spawn([PY, "-m", "grump.cli", "worker", "--tier", "llm"], env) for _ in range(args.workers)
    ]
    try:
        time.sleep(6)  # workers import and connect to the broker
        settings = Settings.model_validate(
            {k.removeprefix("GRUMP_").lower(): v for k, v in env.items() if k.startswith("GRUMP_")}
        )
        trace = make_trace(args.requests)
        repeats = len(trace) - len(set(trace))
        print(
            f"trace: {len(trace)} requests, {repeats} repeats, "
            f"{sum(1 for _, p in trace if p.startswith('Design'))} complex"
        )
        start = time.perf_counter()
        submitted = submit_all(settings, trace, args.rate)
        print(f"submitted in {submitted:.1f} s")
        wait_done(database, timeout=600)
        report(database, len(trace), time.perf_counter() - start)
    finally:
        for proc in procs:
            stop(proc)
        redis.Redis.from_url(broker).flushdb()
        drop_database(name)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
