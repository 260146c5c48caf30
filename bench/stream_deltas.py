"""From a provider's delta to the follower that streams it: latency and Redis writes per delta.

    .venv/bin/python bench/stream_deltas.py [--deltas 400] [--gap-ms 20 5 1 0] [--streams 1]

``--streams`` writers (``grump.jobs.deltas.DeltaWriter`` on the Redis log, one
thread each in a process of their own, as an llm worker's threads write) emit ``--deltas`` words
``--gap-ms`` apart; one follower per stream (``grump.jobs.stream.follow``, all
on one event loop of a Runtime of their own, as an API process reads) times
each word from its ``add`` to its arrival. Uses GRUMP_TEST_REDIS_URL
(default: redis://127.0.0.1:6379/14) and a throwaway SQLite ledger (a follower
reads the ledger only at the job's end, which never comes here). Prints
figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from grump.jobs.deltas import DeltaWriter
from grump.jobs.stream import TextDelta, follow
from grump.ledger.migrate import upgrade
from grump.providers.base import ChatDelta
from grump.runtime import Runtime
from grump.settings import Settings

REDIS = os.environ.get("GRUMP_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def _settings(data: Path) -> Settings:
    return Settings.model_validate(
        {"redis_url": REDIS, "broker_url": REDIS, "database_url": f"sqlite:///{data / 'g.db'}"}
    )


def _write_all(settings: Settings, jobs: list[uuid.UUID], deltas: int, gap: float, go: Any) -> None:
    """The worker process: one thread per stream, each word carrying when it was handed over."""
    worker = Runtime(settings)
    flush = settings.stream_flush_ms / 1000
    writers = [DeltaWriter(worker.delta_log, job_id, flush) for job_id in jobs]

    def write(writer: DeltaWriter) -> None:
        writer.begin("")
        go.wait()
        for index in range(deltas):
            writer.add(ChatDelta(text=f"{index}@{time.perf_counter()!r} "))
            if gap:
                time.sleep(gap)
        writer.flush()

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writes = sum(w.writes - 1 for w in writers)
    print(f"  {writes / (deltas * len(jobs)):.2f} Redis writes per delta (one round trip each)")
    worker.dispose()


def run(deltas: int, gap: float, streams: int, data: Path) -> None:
    """``streams`` jobs of ``deltas`` words, ``gap`` seconds apart, each read by one follower."""
    settings = _settings(data)
    reader = Runtime(settings)
    jobs = [uuid.uuid4() for _ in range(streams)]
    spawn = multiprocessing.get_context("spawn")
    go = spawn.Event()
    writer = spawn.Process(target=_write_all, args=(settings, jobs, deltas, gap, go))

    async def read(job_id: uuid.UUID) -> list[float]:
        latencies: list[float] = []
        async for item in follow(reader, job_id, 120):
            now = time.perf_counter()
            if not isinstance(item, TextDelta):
                break
            words = item.text.split()
            latencies += [now - float(word.split("@")[1]) for word in words]
            if words and words[-1].startswith(f"{deltas - 1}@"):
                break
        return latencies

    async def all_followers() -> list[list[float]]:
        tasks = [asyncio.ensure_future(read(job_id)) for job_id in jobs]
        writer.start()
        await asyncio.sleep(2.0)  # subscribed, and the writers' threads up
        go.set()
        found = await asyncio.gather(*tasks)
        await reader.aclose()
        return found

    print(f"gap {gap * 1000:5.1f} ms, {streams} streams of {deltas} deltas:")
    try:
        found = asyncio.run(all_followers())
    finally:
        writer.join(60)
        reader.dispose()
    every = sorted(x for f in found for x in f)
    p = lambda q: every[min(len(every) - 1, int(q * len(every)))] * 1000  # noqa: E731
    print(
        f"  delta to follower p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, "
        f"mean {statistics.fmean(every) * 1000:.2f} ms"
    )


def main() -> None:
    """Run the bench at each gap."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deltas", type=int, default=400)
    parser.add_argument("--gap-ms", type=float, nargs="+", default=[20.0, 5.0, 1.0, 0.0])
    parser.add_argument("--streams", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        upgrade(f"sqlite:///{Path(tmp) / 'g.db'}")
        for gap in args.gap_ms:
            run(args.deltas, gap / 1000, args.streams, Path(tmp))


if __name__ == "__main__":
    main()
