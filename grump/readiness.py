"""Whether the services a process depends on answer: the ledger, the broker, each Redis.

``/readyz`` reports these checks; each is read on the running loop through the
process's ``Runtime`` (its async engine and ``redis.asyncio`` clients), and a
RabbitMQ broker, whose client is sync, on a thread.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from sqlalchemy import text

from grump.broker import amqp_reachable

if TYPE_CHECKING:
    from redis.asyncio import Redis as AsyncRedis

    from grump.runtime import Runtime


async def readiness_checks(runtime: Runtime) -> dict[str, str]:
    """Each service by role (``database`` first): ``ok``, or why it is not."""
    database, services = await asyncio.gather(
        database_reachable(runtime), services_reachable(runtime)
    )
    checks = {"database": database}
    for name, reachable in services.items():
        checks[name] = "ok" if reachable else "unreachable"
    return checks


async def services_reachable(runtime: Runtime) -> dict[str, bool]:
    """Whether the broker and Redis this process depends on answer, by role."""
    reachable = await redis_reachable(runtime)
    amqp = runtime.broker_amqp_url
    if amqp is not None:
        # kombu's connection is sync: checked on a thread, off the event loop.
        reachable["broker"] = await asyncio.to_thread(amqp_reachable, amqp)
    return reachable


async def redis_reachable(runtime: Runtime) -> dict[str, bool]:
    """Whether each Redis this process depends on answers a PING, by role."""
    clients = runtime.aio_redis()

    async def ping(client: AsyncRedis) -> bool:
        try:
            return bool(await client.ping())
        except (RedisError, OSError):
            return False

    answers = await asyncio.gather(*(ping(client) for client in clients.values()))
    return dict(zip(clients, answers, strict=True))


async def database_reachable(runtime: Runtime) -> str:
    """``ok`` when the ledger answers a query, else what stopped it."""
    try:
        async with runtime.aio_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"
