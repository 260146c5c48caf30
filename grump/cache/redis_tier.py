"""L2: Redis, shared by every process; entries expire after their TTL.

A Redis outage must not fail jobs: a failed read is a miss, a failed write is
skipped, both logged (once per burst of failures, not once per request).
"""

from __future__ import annotations

import logging
import time

import redis

from grump.cache.tier import TierStats

log = logging.getLogger(__name__)
KEY_PREFIX = "grump:cache:"
_SCAN_BATCH = 1000
_LOG_EVERY_SECONDS = 30.0


class RedisTier:
    """The L2 tier: entries in Redis under ``grump:cache:``, shared by every process."""

    name = "redis"

    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self._client = client
        self.ttl_seconds = ttl_seconds
        self._last_warning = 0.0

    def _warn(self, action: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _LOG_EVERY_SECONDS:
            self._last_warning = now
            log.warning("redis cache %s failed, treated as a miss: %s", action, exc)

    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None on a miss or a Redis error."""
        try:
            value = self._client.get(KEY_PREFIX + key)
        except redis.RedisError as exc:
            self._warn("read", exc)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` for the TTL; a Redis error skips it."""
        try:
            self._client.set(KEY_PREFIX + key, value, ex=self.ttl_seconds)
        except redis.RedisError as exc:
            self._warn("write", exc)

    def _keys(self, namespace: str | None) -> list[bytes]:
        pattern = f"{KEY_PREFIX}{namespace or ''}*"
        return list(self._client.scan_iter(match=pattern, count=_SCAN_BATCH))

    def clear(self, namespace: str | None = None) -> int:
        """Remove every cache entry, or those of ``namespace``, found by SCAN; how many went."""
        keys = self._keys(namespace)
        for start in range(0, len(keys), _SCAN_BATCH):
            self._client.unlink(*keys[start : start + _SCAN_BATCH])
        return len(keys)

    def stats(self) -> TierStats:
        """Entries and bytes of the cache's keys, found by SCAN and measured in batches."""
        keys = self._keys(None)
        size = 0
        for start in range(0, len(keys), _SCAN_BATCH):
            pipe = self._client.pipeline(transaction=False)
            for key in keys[start : start + _SCAN_BATCH]:
                pipe.strlen(key)
            size += sum(int(n) for n in pipe.execute())
        return TierStats(self.name, len(keys), size)

    def close(self) -> None:
        """Nothing to release: the client is not the tier's to close."""
        return None  # the client belongs to whoever made it (the runtime), not to this tier
