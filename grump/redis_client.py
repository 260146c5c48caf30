"""Redis clients that give up fast, the one way grump makes them."""

from __future__ import annotations

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

# Every Redis grump talks to is a cache, a rate limit, a lease or a broker probe: a call
# that would wait longer than this is better treated as a miss or an outage.
REDIS_TIMEOUT_SECONDS = 1.0


def redis_client(url: str) -> Redis:
    """A client of ``url`` that gives up fast: one reconnect, then the error."""
    return Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1),
    )


def async_redis_client(url: str) -> AsyncRedis:
    """The ``redis.asyncio`` twin of ``redis_client``: same timeouts, one reconnect."""
    return AsyncRedis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=AsyncRetry(NoBackoff(), 1),
    )


def is_redis_url(url: str | None) -> bool:
    """Whether ``url`` names a Redis server (the broker may be another transport)."""
    return bool(url) and str(url).startswith(("redis://", "rediss://"))
