"""Single submits against one API process with the workers running. Prints figures; asserts nothing.

  [BENCH_REDIS_DB=13] .venv/bin/python bench/submits.py [--rates 100,200,300,400,500,600]
      [--seconds 10] [--profile /tmp/api.prof]

Starts, on real Redis and a fresh Postgres database, one API process (`grump api`)
and a cpu worker, then offers parse submits (`POST /v1/jobs`, each input distinct)
open loop at each fixed rate: a submit is sent at its scheduled time whatever the
answers before it, and its latency is measured from that scheduled time (so time a
submit waits behind a slow generator counts against grump, never for it). The
generator is aiohttp on one event loop (well under 1 ms of CPU a call; its own CPU
is printed beside the API's). For each rate: the rate achieved, p50/p99/max, errors
(any answer but 202, timeouts), and the API process's CPU per submit; then the
highest rate with p99 <= 50 ms, and whether 300 req/s held p99 <= 20 ms.

``--profile`` runs the API under cProfile and writes its stats there at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.closedloop import percentile
from bench.pipeline import grump_env
from bench.procs import cpu_seconds, process_tree, spawn, stop
from grump.ledger.migrate import upgrade
from tests.services import DATABASE_URL, REDIS_URL, free_port

PY = sys.executable
WARMUP_SECONDS = 1.0


@dataclass(frozen=True)
class Figures:
    rate: int
    achieved: float
    p50: float
    p99: float
    worst: float
    errors: int
    api_cpu_ms: float
    generator_cpu_ms: float


async def _submit(
    http: aiohttp.ClientSession, url: str, body: dict[str, object], due: float
) -> tuple[float, bool]:
    loop = asyncio.get_running_loop()
    delay = due - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)
    try:
        async with http.post(url, json=body) as response:
            await response.read()
            ok = response.status == 202
    except (aiohttp.ClientError, TimeoutError):
        ok = False
    return (loop.time() - due) * 1000, ok


async def offer(
    url: str, key: str, rate: int, seconds: float, tag: str
) -> list[tuple[float, bool]]:
    """Open loop at ``rate``/s for WARMUP + ``seconds``; (latency ms, ok) of the measured ones."""
    headers = {"Authorization": f"Bearer {key}"}
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as http:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        total = int(rate * (WARMUP_SECONDS + seconds))
        skip = int(rate * WARMUP_SECONDS)
        tasks = []
        for index in range(total):
            body = {"kind": "parse", "input": {"text": f"todo app {tag} {rate} {index} with login"}}
            due = start + index / rate
            tasks.append(asyncio.ensure_future(_submit(http, f"{url}/v1/jobs", body, due)))
            if index % 50 == 0:  # create them as they come due, not all up front
                await asyncio.sleep(max(0.0, due - loop.time() - 0.2))
        answers = await asyncio.gather(*tasks)
    return answers[skip:]


def _cpu(pid: int) -> float:
    return sum(cpu_seconds(p) or 0.0 for p in process_tree(pid))


def measure(url: str, key: str, api: int, rate: int, seconds: float, tag: str) -> Figures:
    api_before, gen_before, wall = _cpu(api), time.process_time(), time.perf_counter()
    answers = asyncio.run(offer(url, key, rate, seconds, tag))
    api_cpu, gen_cpu = _cpu(api) - api_before, time.process_time() - gen_before
    elapsed = time.perf_counter() - wall
    latencies = sorted(ms for ms, _ in answers)
    sent = int(rate * (WARMUP_SECONDS + seconds))
    return Figures(
        rate=rate,
        achieved=sent / elapsed,
        p50=percentile(latencies, 0.5),
        p99=percentile(latencies, 0.99),
        worst=latencies[-1],
        errors=sum(1 for _, ok in answers if not ok),
        api_cpu_ms=api_cpu * 1000 / sent,
        generator_cpu_ms=gen_cpu * 1000 / sent,
    )


def _wait_ready(url: str) -> None:
    async def ready() -> bool:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{url}/readyz") as response:
                        if response.status == 200:
                            return True
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        return False

    if not asyncio.run(ready()):
        raise SystemExit("the API did not become ready")


def _key(env: dict[str, str]) -> str:
    made = subprocess.run(
        [PY, "-m", "grump.cli", "keys", "create", "--tenant", "bench"],
        env=env,
        capture_output=True,
        check=True,
    )
    return made.stdout.decode().strip()


def _line(f: Figures) -> None:
    print(
        f"submit at {f.rate:>4} req/s (achieved {f.achieved:6.1f}): p50 {f.p50:6.1f} ms"
        f"  p99 {f.p99:6.1f} ms  max {f.worst:7.1f} ms  errors {f.errors}"
        f"  API CPU {f.api_cpu_ms:.2f} ms/submit  generator {f.generator_cpu_ms:.2f} ms/submit",
        flush=True,
    )


def _report(figures: list[Figures]) -> None:
    for f in figures:
        _line(f)
    held = [f.rate for f in figures if f.p99 <= 50 and f.errors == 0]
    print(f"highest offered rate with p99 <= 50 ms: {max(held) if held else 'none'} req/s")
    at_300 = [f for f in figures if f.rate == 300]
    if at_300:
        f = at_300[0]
        verdict = "met" if f.p99 <= 20 and f.errors == 0 else "missed"
        print(f"p99 <= 20 ms at 300 req/s: {verdict} (p99 {f.p99:.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="100,200,300,400,500,600")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    broker = REDIS_URL.rsplit("/", 1)[0] + f"/{os.environ.get('BENCH_REDIS_DB', '13')}"
    admin = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    name = f"grump_submits_{os.getpid()}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        upgrade(database)
        port = free_port()
        env = grump_env(broker, database, port, Path(f"/tmp/{name}"))
        key = _key(env)
        if args.profile:  # served in-process under cProfile for the whole run, then written
            seconds = len(args.rates.split(",")) * (args.seconds + WARMUP_SECONDS + 2) + 8
            api = spawn([PY, "bench/profile_api.py", args.profile, str(seconds)], env)
        else:
            api = spawn([PY, "-m", "grump.cli", "api"], env)
        procs.append(api)
        procs.append(spawn([PY, "-m", "grump.cli", "worker", "--tier", "cpu"], env))
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url)
        time.sleep(2)  # let the worker connect
        print(f"machine: {os.cpu_count()} cores, shared; one API process, one cpu worker")
        figures = []
        for rate in (int(r) for r in args.rates.split(",")):
            figures.append(measure(url, key, api.pid, rate, args.seconds, name))
            _line(figures[-1])
        print()
        _report(figures)
    finally:
        if args.profile:
            procs[0].wait(120)  # writes its stats when its time is up
        for proc in procs:
            stop(proc)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
