"""What authentication and rate limits cost per request (real Postgres and Redis).

    PYTHONPATH=$PWD .venv/bin/python bench/keys.py [--calls 20000]

Calls the API's key dependency (``get_principal``) directly on one event loop:
a cached key with the epoch read every interval (the default), with the epoch read on
every request, with no epoch check at all (the old 30 s cache), and a ledger lookup
per request; then a submit's rate-limit script on two buckets; then how long a
revoked key keeps working in the process after the change is announced.
Uses GRUMP_TEST_DATABASE_URL / GRUMP_TEST_REDIS_URL (default: local). Prints figures;
asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from starlette.requests import Request

from grump.api.app import create_app
from grump.api.deps import get_principal
from grump.api.keycache import announce_change
from grump.errors import Unauthorized
from grump.jobs.ratelimits import Bucket, shared_redis_async, take_async
from grump.ledger.db import session_scope, utcnow
from grump.ledger.keys import new_api_key, revoke
from grump.ledger.migrate import upgrade
from grump.runtime import Runtime
from grump.settings import Settings
from tests.services import REDIS_URL, create_database, drop_database


def _request(app: Any, key: str) -> Request:
    headers = [(b"authorization", f"Bearer {key}".encode())]
    return Request({"type": "http", "app": app, "headers": headers, "method": "GET", "path": "/"})


async def _per_call(calls: int, step: Callable[[], Awaitable[object]]) -> float:
    await step()
    start = time.perf_counter()
    for _ in range(calls):
        await step()
    return (time.perf_counter() - start) / calls * 1e6


async def _revocation_seen(runtime: Runtime, app: Any, key_id: int, key: str) -> float:
    request = _request(app, key)
    with session_scope(runtime.sessions) as session:
        revoke(session, None, key_id, utcnow())
    announce_change(redis.Redis.from_url(REDIS_URL))
    start = time.perf_counter()
    while True:
        try:
            await get_principal(request)
        except Unauthorized:
            return time.perf_counter() - start
        await asyncio.sleep(0.001)


async def _run(runtime: Runtime, app: Any, calls: int) -> None:
    with session_scope(runtime.sessions) as session:
        key, _ = new_api_key(session, "bench")
        victim, victim_row = new_api_key(session, "bench")
    request = _request(app, key)
    cache = app.state.key_cache
    figures: dict[str, float] = {}
    figures["cached key, epoch every 0.5 s (default)"] = await _per_call(
        calls, lambda: get_principal(request)
    )
    cache.check_seconds = 0.0
    figures["cached key, epoch GET every request"] = await _per_call(
        calls, lambda: get_principal(request)
    )
    cache.check_seconds = math.inf
    figures["cached key, no epoch check (before)"] = await _per_call(
        calls, lambda: get_principal(request)
    )

    async def miss() -> object:
        cache._cache.clear()
        return await get_principal(request)

    figures["ledger lookup every request"] = await _per_call(max(1, calls // 10), miss)
    buckets = [
        Bucket("grump:limits:bench:rps", 1e9, 1e9, 1, "key", "rps"),
        Bucket("grump:limits:bench:tpm", 1e9, 1e9, 100, "tenant", "tpm"),
    ]
    client = shared_redis_async(runtime)
    figures["rate-limit script, 2 buckets"] = await _per_call(
        calls, lambda: take_async(client, buckets)
    )
    for name, micros in figures.items():
        print(f"{name:<42} {micros:9.1f} us/request")
    cache.check_seconds = runtime.settings.key_check_interval_seconds
    await get_principal(_request(app, victim))
    seen = await _revocation_seen(runtime, app, victim_row.id, victim)
    print(f"{'revoked key refused after the announce':<42} {seen * 1000:9.1f} ms")
    await runtime.aclose()


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    url, name = create_database()
    try:
        upgrade(url)
        settings = Settings(database_url=url, redis_url=REDIS_URL, broker_url=REDIS_URL)
        runtime = Runtime(settings)
        app = create_app(settings, runtime)
        asyncio.run(_run(runtime, app, args.calls))
        runtime.dispose()
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
