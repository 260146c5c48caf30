"""GPU-tier embedding benchmark through the real queue. Prints figures; asserts nothing.

  .venv/bin/python bench/embed.py [--texts 12000] [--texts-per-job 4,16,32] [--latency-ms 20]

Starts a NIM-format server (tests/fakes/nim.py, a fixed latency per call), the
API and a GPU worker (`celery -A workers.gpu worker`) as subprocesses on real
Redis + Postgres, and measures:

1. texts/s through the gpu worker with cross-job batching (the defaults: up
   to 256 texts a call, 10 ms wait), many small jobs queued before the worker
   starts, timed from the first claim to the last record in the ledger;
2. the same with one provider call per text (GRUMP_EMBED_BATCH_MAX_TEXTS=1),
   same texts per job, everything else equal, and the ratio; both for small
   jobs (4 texts) and for a document's chunks (16 and 32 texts), since the ledger
   work is per job and the provider's per text;
3. the average batch fill (distinct texts per provider call) under a steady
   offered load of small jobs.

Post-processing throughput per operation (normalise, truncate, quantise) is
measured separately by bench/vectors.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
from sqlalchemy import Engine, create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pipeline import PY
from bench.procs import spawn, stop
from grump.ledger.migrate import upgrade
from grump.ledger.models import Job
from grump.settings import Settings
from tests.services import DATABASE_URL, REDIS_URL, free_port


def wait_http(url: str) -> None:
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def finished(engine: Engine) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(Job).where(Job.status.in_(["succeeded", "failed"]))
        return int(connection.scalar(query) or 0)


def wait_finished(engine: Engine, target: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while finished(engine) < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {finished(engine)} of {target} jobs finished")
        time.sleep(0.02)


def job_bodies(
    count: int, texts_per_job: int, dimensions: int, tag: str
) -> list[dict[str, object]]:
    return [
        {
            "kind": "embed",
            "input": {
                "texts": [f"{tag} job {i} passage {k} about queues" for k in range(texts_per_job)],
                "dimensions": dimensions,
            },
        }
        for i in range(count)
    ]


def submit(http: httpx.Client, bodies: list[dict[str, object]]) -> None:
    for start in range(0, len(bodies), 100):
        http.post("/v1/jobs:batch", json={"jobs": bodies[start : start + 100]}).raise_for_status()


def provider_calls(nim_url: str) -> list[int]:
    """Distinct texts of each embeddings call the server received since its last reset."""
    log = httpx.get(f"{nim_url}/_fake/requests", timeout=10).json()["requests"]
    return [len(r["body"]["input"]) for r in log if r["path"] == "/v1/embeddings"]


def reset(nim_url: str) -> None:
    httpx.post(f"{nim_url}/_fake/reset", timeout=10).raise_for_status()


class Bench:
    def __init__(self, args: argparse.Namespace, database: str, broker: str) -> None:
        self.args = args
        self.database = database
        self.engine = create_engine(database)
        self.nim_port, self.api_port = free_port(), free_port()
        self.nim_url = f"http://127.0.0.1:{self.nim_port}"
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GRUMP_")}
        self.env.update(
            GRUMP_BROKER_URL=broker,
            GRUMP_REDIS_URL=broker,
            GRUMP_DATABASE_URL=database,
            GRUMP_API_PORT=str(self.api_port),
            GRUMP_DATA_DIR=f"/tmp/{Path(database).name}",
            GRUMP_LOG_LEVEL="WARNING",
            GRUMP_NIM_URL=self.nim_url,
            GRUMP_NIM_API_KEY="bench",
        )
        self.procs: list[subprocess.Popen[bytes]] = []
        self.worker: subprocess.Popen[bytes] | None = None
        self.done = 0

    def start(self) -> httpx.Client:
        nim = [PY, "-m", "tests.fakes.nim", "--port", str(self.nim_port)]
        nim += ["--latency-ms", str(self.args.latency_ms)]
        self.procs.append(spawn(nim, self.env))
        keys = [PY, "-m", "grump.cli", "keys", "create", "--tenant", "bench"]
        key = subprocess.run(keys, env=self.env, capture_output=True, check=True).stdout
        self.procs.append(spawn([PY, "-m", "grump.cli", "api"], self.env))
        wait_http(f"{self.nim_url}/v1/models")
        wait_http(f"{self.api_url}/readyz")
        headers = {"Authorization": f"Bearer {key.decode().strip()}"}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=60)

    def stop_worker(self) -> None:
        if self.worker is not None:
            stop(self.worker)
            self.worker = None

    def start_worker(self, **extra_env: str) -> None:
        self.stop_worker()
        env = {**self.env, **extra_env}
        args = [PY, "-m", "celery", "-A", "workers.gpu", "worker", "--loglevel=WARNING"]
        self.worker = spawn(args, env)
        time.sleep(3)  # let it connect and start consuming

    def throughput(self, http: httpx.Client, jobs: int, texts_per_job: int, **env: str) -> float:
        """Texts/s through the gpu worker: first claim to last record, read from the ledger.

        The jobs are queued before the worker starts, so the figure is the
        worker's own pace, not the API's pace at accepting submits.
        """
        self.stop_worker()
        reset(self.nim_url)
        bodies = job_bodies(jobs, texts_per_job, self.args.dimensions, f"run-{uuid.uuid4()}")
        since = datetime.now(UTC)
        submit(http, bodies)
        self.start_worker(**env)
        self.done += jobs
        wait_finished(self.engine, self.done)
        with self.engine.connect() as connection:
            first, last = connection.execute(
                select(func.min(Job.started_at), func.max(Job.finished_at)).where(
                    Job.created_at >= since
                )
            ).one()
        return jobs * texts_per_job / (last - first).total_seconds()

    def steady_fill(self, http: httpx.Client, rate: int, seconds: float) -> list[int]:
        """Offer ``rate`` two-text jobs/s in ticks of 50 ms; the texts of each call made."""
        reset(self.nim_url)
        per_tick = max(1, rate // 20)
        ticks = int(seconds * 20)
        tag = f"steady-{uuid.uuid4()}"
        start = time.perf_counter()
        for tick in range(ticks):
            bodies = job_bodies(per_tick, 2, self.args.dimensions, f"{tag}-{tick}")
            submit(http, bodies)
            delay = start + (tick + 1) * 0.05 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        self.done += per_tick * ticks
        wait_finished(self.engine, self.done)
        return provider_calls(self.nim_url)

    def stop(self) -> None:
        if self.worker is not None:
            stop(self.worker)
        for proc in self.procs:
            stop(proc)
        self.engine.dispose()


def compare(bench: Bench, http: httpx.Client, args: argparse.Namespace, tpj: int) -> None:
    """Batched against one call per text, for jobs of ``tpj`` texts, in the same run."""
    texts = args.texts
    batched = bench.throughput(http, max(1, texts // tpj), tpj)
    calls = provider_calls(bench.nim_url)
    print(
        f"jobs of {tpj} texts, batched: {batched:,.0f} texts/s ({texts // tpj} jobs, "
        f"{len(calls)} provider calls, mean {statistics.mean(calls):.1f} texts/call)"
    )
    jobs = max(1, args.baseline_texts // tpj)
    single = bench.throughput(http, jobs, tpj, GRUMP_EMBED_BATCH_MAX_TEXTS="1")
    calls = provider_calls(bench.nim_url)
    print(
        f"jobs of {tpj} texts, one call per text: {single:,.0f} texts/s ({jobs} jobs, "
        f"{len(calls)} provider calls); batching speed-up {batched / single:.1f}x"
    )


def run(bench: Bench, args: argparse.Namespace) -> None:
    http = bench.start()
    defaults = Settings()
    print(
        f"machine: {os.cpu_count()} cores; provider latency {args.latency_ms:g} ms per call; "
        f"{args.dimensions}-dim vectors; gpu worker: {defaults.gpu_concurrency} threads, "
        f"batches of up to {defaults.embed_batch_max_jobs} jobs, "
        f"{defaults.embed_calls_in_flight} calls in flight"
    )
    for tpj in args.texts_per_job:
        compare(bench, http, args, tpj)
    bench.start_worker()  # the defaults again: the last comparison ended on one text a call
    fill = bench.steady_fill(http, args.steady_rate, args.steady_seconds)
    print(
        f"steady load {args.steady_rate} jobs/s x 2 texts for {args.steady_seconds:g} s: "
        f"{len(fill)} calls, average fill {statistics.mean(fill):.1f} texts/call "
        f"(median {statistics.median(fill):g}, max {max(fill)})"
    )
    http.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=12_000, help="texts per batched run")
    parser.add_argument(
        "--texts-per-job",
        type=lambda value: [int(v) for v in value.split(",")],
        default=[4, 16, 32],
        help="job sizes to compare, e.g. 4,16,32",
    )
    parser.add_argument("--baseline-texts", type=int, default=800)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--dimensions", type=int, default=256)
    parser.add_argument("--steady-rate", type=int, default=400, help="jobs/s offered")
    parser.add_argument("--steady-seconds", type=float, default=5.0)
    args = parser.parse_args()
    broker = REDIS_URL.rsplit("/", 1)[0] + "/12"
    redis.Redis.from_url(broker).flushdb()
    admin = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    name = f"grump_bench_embed_{os.getpid()}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(database)
    bench = Bench(args, database, broker)
    try:
        run(bench, args)
    finally:
        bench.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
