"""Reachability probes for readiness checks."""

from __future__ import annotations

import redis
from redis.exceptions import RedisError


def redis_reachable(url: str, timeout: float = 1.0) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (RedisError, OSError):
        return False
    finally:
        client.close()
