"""Pipeline benchmark on real Redis + Postgres. Prints figures; asserts nothing.

  [BENCH_REDIS_DB=13] .venv/bin/python bench/pipeline.py [--jobs 3000] [--rates 100,200,300,400,600]

1. bare Celery: no-op tasks/s through the same broker with the same worker settings;
2. grump: parse jobs/s end to end, a backlog queued first over HTTP (queue -> cpu worker
   -> ledger), timed as (1) is, and the ratio to (1), which runs again after it (the
   machine is shared: the ratio to the mean of both bare runs is printed too);
3. API submit latency p50/p99 at steady offered loads with the workers running, and
   the highest load sustained with p99 under 20 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.procs import spawn, stop
from grump.celery.queues import redis_priority_keys
from grump.ledger.migrate import upgrade
from grump.ledger.models import Job
from tests.services import DATABASE_URL, REDIS_URL, free_port

PY = sys.executable


def bare_celery(broker: str, count: int) -> float:
    client = redis.Redis.from_url(broker)
    client.flushdb()
    os.environ["BENCH_BROKER_URL"] = broker  # read by bench.noop_app, here and in the worker
    env = {**os.environ}
    from bench.noop_app import app

    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task("bench.noop", queue="parse", producer=producer)
    worker = spawn(
        [
            PY,
            "-m",
            "celery",
            "-A",
            "bench.noop_app",
            "worker",
            "-Q",
            "parse",
            "-P",
            "prefork",
            "-c",
            "2",
            "--loglevel=WARNING",
        ],
        env,
    )
    try:
        while client.llen("parse") >= count:
            time.sleep(0.001)
        start = time.perf_counter()
        while client.llen("parse") > 0 or client.hlen("unacked") > 0:
            time.sleep(0.002)
        return count / (time.perf_counter() - start)
    finally:
        stop(worker)
        client.flushdb()


def grump_env(broker: str, database: str, port: int, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRUMP_")}
    env.update(
        GRUMP_BROKER_URL=broker,
        GRUMP_REDIS_URL=broker,
        GRUMP_DATABASE_URL=database,
        GRUMP_API_PORT=str(port),
        GRUMP_DATA_DIR=str(data),
        GRUMP_LOG_LEVEL="WARNING",
        GRUMP_CPU_CONCURRENCY="2",
    )
    return env


def submit_backlog(url: str, key: str, count: int, offset: int = 0) -> None:
    """Queue ``count`` parse jobs over HTTP, in requests of 100, with no worker running."""
    headers = {"Authorization": f"Bearer {key}"}
    batches = [
        {
            "jobs": [
                {
                    "kind": "parse",
                    "input": {"text": f"todo app {i} with login, Stripe billing and a dashboard"},
                }
                for i in range(offset + s, offset + min(s + 100, count))
            ]
        }
        for s in range(0, count, 100)
    ]
    start = time.perf_counter()
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for batch in batches:
            http.post("/v1/jobs:batch", json=batch).raise_for_status()
    submitted = time.perf_counter() - start
    print(f"  queued {count} parse jobs in {submitted:.2f}s (requests of 100, no worker running)")


def drain(
    broker: str, database: str, count: int, offset: int, worker: list[str], env: dict[str, str]
) -> tuple[float, subprocess.Popen[bytes]]:
    """Start a cpu worker on the queued backlog; jobs/s from its first message to the last
    job recorded (as ``bare_celery`` times from its first message to the last acknowledged)."""
    client = redis.Redis.from_url(broker)
    engine = create_engine(database)
    proc = spawn(worker, env)
    try:
        queued = sum(int(client.llen(k)) for k in redis_priority_keys("parse"))
        while sum(int(client.llen(k)) for k in redis_priority_keys("parse")) >= queued:
            time.sleep(0.001)
        start = time.perf_counter()
        with engine.connect() as connection:
            while (
                connection.scalar(
                    select(func.count()).select_from(Job).where(Job.status == "succeeded")
                )
                < offset + count
            ):
                time.sleep(0.01)
                connection.rollback()
        return count / (time.perf_counter() - start), proc
    finally:
        engine.dispose()
        client.close()


def offered_load(url: str, key: str, rate: int, seconds: float) -> tuple[float, float, int]:
    """Open-loop: one submit every 1/rate s from a pool of threads; (p50 ms, p99 ms, errors)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    local = threading.local()

    def fire(index: int) -> None:
        nonlocal errors
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10
            )
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        response = http.post(
            "/v1/jobs", json={"kind": "parse", "input": {"text": f"load {rate} {index} chat app"}}
        )
        took = (time.perf_counter() - t0) * 1000
        with lock:
            latencies.append(took)
            errors += response.status_code != 202

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(fire, range(total)))
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1], errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--rates", default="100,200,300,400,600")
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    parser_db = os.environ.get("BENCH_REDIS_DB", "13")  # flushed: one no other run uses
    broker = REDIS_URL.rsplit("/", 1)[0] + f"/{parser_db}"
    admin = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    name = f"grump_bench_{os.getpid()}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        print(f"machine: {os.cpu_count()} cores; broker {broker}; jobs {args.jobs}")
        baseline = bare_celery(broker, args.jobs)
        print(f"bare Celery no-op tasks/s (prefork -c 2, prefetch 4, acks_late): {baseline:,.0f}")
        upgrade(database)
        port = free_port()
        env = grump_env(broker, database, port, Path(f"/tmp/{name}"))
        key = (
            subprocess.run(
                [PY, "-m", "grump.cli", "keys", "create", "--tenant", "bench"],
                env=env,
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )
        procs.append(spawn([PY, "-m", "grump.cli", "api"], env))
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        done = 0
        rates: dict[int, float] = {}
        for processes in (1, 2):
            submit_backlog(url, key, args.jobs, offset=done)
            rate, worker = drain(
                broker,
                database,
                args.jobs,
                done,
                [PY, "-m", "grump.cli", "worker", "--tier", "cpu"],
                {**env, "GRUMP_CPU_CONCURRENCY": str(processes)},
            )
            done += args.jobs
            rates[processes] = rate
            print(
                f"grump parse jobs/s, queued backlog, cpu worker of {processes} process(es): "
                f"{rate:,.0f}  ({rate / baseline:.2f}x bare Celery)"
            )
            stop(worker)
        # The machine is shared: bare Celery again after grump, and the ratio to both runs' mean.
        again = bare_celery(broker, args.jobs)
        mean = (baseline + again) / 2
        print(f"bare Celery again: {again:,.0f}; ratio to the mean of both ({mean:,.0f}):")
        for processes, rate in rates.items():
            print(f"  cpu worker of {processes} process(es): {rate / mean:.2f}x bare Celery")
        worker = spawn([PY, "-m", "grump.cli", "worker", "--tier", "cpu"], env)
        procs.append(worker)
        time.sleep(3)  # let the worker connect
        best = 0
        for offered in (int(r) for r in args.rates.split(",")):
            p50, p99, errors = offered_load(url, key, offered, args.seconds)
            ok = p99 < 20 and errors == 0
            best = offered if ok else best
            print(
                f"submit at {offered:>4} req/s: p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  errors {errors}{'' if ok else '  (p99 over 20 ms)'}"
            )
        print(f"highest offered load with p99 < 20 ms: {best} req/s")
    finally:
        for proc in procs:
            stop(proc)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
