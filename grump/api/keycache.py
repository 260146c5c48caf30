"""What an API process remembers of keys, and how it hears that one changed.

A process keeps the keys it has looked up for ``GRUMP_KEY_CACHE_SECONDS``, so a busy
client costs no ledger lookup per request. Every change to a key (revoked, rotated,
its limits set) increments one Redis counter, the key epoch. Each process reads the
epoch at most every ``GRUMP_KEY_CHECK_INTERVAL_SECONDS`` (from the request that finds
it due) and forgets every key it knows when the epoch moved, or when Redis cannot say:
a revoked key is refused everywhere within that interval, at the cost of one Redis
GET per interval per process, not per request. Without Redis a process forgets its
keys every interval instead.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime
from typing import TYPE_CHECKING

import redis
from cachetools import TTLCache
from redis.asyncio import Redis as AsyncRedis

from grump.ledger.keys import KeyState

if TYPE_CHECKING:
    from grump.api.deps import Principal

log = logging.getLogger(__name__)

EPOCH_KEY = "grump:keys:epoch"
_NO_EPOCH = b"0"


class KeyCache:
    """Keys seen lately, by hash: the principal of a live key, or why a dead one is refused."""

    def __init__(
        self, ttl_seconds: float = 30.0, check_seconds: float = 0.5, touch_seconds: float = 60.0
    ) -> None:
        self._cache: TTLCache[str, Principal | KeyState] = TTLCache(maxsize=10_000, ttl=ttl_seconds)
        self._touched: TTLCache[int, bool] = TTLCache(maxsize=100_000, ttl=touch_seconds)
        self.check_seconds = check_seconds
        self._checked_at = -math.inf
        self._epoch: bytes | None = None
        # The ledger lookups under way, by key hash: callers of that key share one (grump.api.deps).
        self.lookups: dict[str, asyncio.Task[Principal | KeyState | None]] = {}

    def get(self, digest: str) -> Principal | KeyState | None:
        """What is known of a key hash seen lately, or None (unknown or forgotten)."""
        return self._cache.get(digest)

    def put(self, digest: str, found: Principal | KeyState) -> None:
        """Remember a key hash's principal (or refusal) until the entry expires."""
        self._cache[digest] = found

    def check_due(self) -> bool:
        """Whether the epoch should be read now; the first caller to ask claims the check."""
        now = time.monotonic()
        if now - self._checked_at < self.check_seconds:
            return False
        self._checked_at = now
        return True

    def observe(self, epoch: bytes | None) -> None:
        """Forget every key when the epoch moved, or when it could not be read (None)."""
        if epoch is None or epoch != self._epoch:
            self._cache.clear()
        self._epoch = epoch

    def touch_due(self, key_id: int) -> bool:
        """Whether this key's last use should be written now (at most once a touch period)."""
        if key_id in self._touched:
            return False
        self._touched[key_id] = True
        return True

    def untouch(self, key_id: int) -> None:
        """The last-use write failed: let the next request try again."""
        self._touched.pop(key_id, None)


async def read_epoch(client: AsyncRedis | None) -> bytes | None:
    """The key epoch, ``b"0"`` before any change; None without Redis or when it fails."""
    if client is None:
        return None
    try:
        value = await client.get(EPOCH_KEY)
    except redis.RedisError as exc:
        log.warning("key epoch unreadable, looking keys up again: %s", type(exc).__name__)
        return None
    if value is None:
        return _NO_EPOCH
    return value.encode() if isinstance(value, str) else bytes(value)


def announce_change(client: redis.Redis | None) -> bool:
    """Tell every API process a key changed; False when there is no Redis to tell."""
    if client is None:
        return False
    try:
        client.incr(EPOCH_KEY)
    except redis.RedisError as exc:
        log.warning("key change not announced: %s", type(exc).__name__)
        return False
    return True


def expired_by(found: Principal, at: datetime) -> bool:
    """Whether a cached principal's key expired (or its rotation grace ran out) by ``at``."""
    return found.valid_until is not None and found.valid_until <= at
