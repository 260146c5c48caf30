"""The live capacity of each queue: how many jobs the workers consuming it take at once.

Every worker process registers, per queue it consumes, the jobs it holds at once
(its concurrency times its prefetch) in one Redis hash per queue,
``grump:capacity:<queue>``: field its claimer id, value ``"<jobs> <expires at>"``.
Its recovery loop renews the registration every pass and it deletes it on a warm
shutdown; a worker killed outright stops renewing and its entry is ignored once
its expiry has passed (and deleted by the next reader). The hash itself expires
too, so a queue no worker consumes any more leaves nothing behind.

Fair share (``grump.jobs.admission``) reads a queue's capacity, the whole fleet's,
to size a tenant's slots: one tenant alone may fill every live worker, and no more.
The read is cached per process for ``CACHE_SECONDS``: a submit does not pay a
Redis round trip of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CAPACITY_PREFIX = "grump:capacity:"
# How long a process reuses a queue's capacity it read. Workers come and go over
# seconds to minutes; a second's staleness changes a slot count by a worker at most.
CACHE_SECONDS = 1.0
# After a failed read, how long the fallback is used before Redis is tried again: an
# outage must not cost every submit a connect timeout.
OUTAGE_SECONDS = 5.0


def capacity_key(queue: str) -> str:
    """The Redis hash of ``queue``'s registered workers."""
    return f"{CAPACITY_PREFIX}{queue}"


def register(client: Redis, worker: str, capacity: Mapping[str, int], ttl_seconds: float) -> None:
    """Register (or renew) ``worker``'s capacity per queue, expiring after ``ttl_seconds``."""
    expires = time.time() + ttl_seconds
    pipe = client.pipeline(transaction=False)
    for queue, jobs in capacity.items():
        pipe.hset(capacity_key(queue), worker, f"{jobs} {expires:.3f}")
        pipe.expire(capacity_key(queue), max(1, int(ttl_seconds) + 1))
    pipe.execute()


def unregister(client: Redis, worker: str, queues: Iterable[str]) -> None:
    """Delete ``worker``'s registrations: it is going away."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.hdel(capacity_key(queue), worker)
    pipe.execute()


def live_total(entries: Mapping[Any, Any], now: float) -> tuple[int, list[Any]]:
    """(the live workers' jobs summed, the fields of expired or unreadable entries)."""
    total, dead = 0, []
    for field, raw in entries.items():
        try:
            jobs, expires = (raw.decode() if isinstance(raw, bytes) else str(raw)).split()
            if float(expires) > now:
                total += max(0, int(jobs))
                continue
        except ValueError:
            pass
        dead.append(field)
    return total, dead


def read_capacity(client: Redis, queue: str) -> int:
    """The live capacity of ``queue`` (0 when no worker is registered); raises RedisError."""
    entries = client.hgetall(capacity_key(queue))
    total, dead = live_total(entries, time.time())
    if dead:
        client.hdel(capacity_key(queue), *dead)
    return total


class LiveCapacity:
    """A process's cached reads of the queues' live capacity, with a fallback.

    ``get`` never raises and never waits longer than one Redis read. When Redis cannot
    be read, or no worker is registered (none is up yet, or none since Redis lost its
    data), the caller's ``fallback`` is used: one worker of the queue's kind on this
    process's own settings, which is what fair share had before capacity was live.
    Admission must not refuse or hang because Redis is away: jobs are still recorded
    and published, only sized to one worker until Redis answers again.
    """

    def __init__(self, client: Redis | None) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[int, float]] = {}
        self._outage_until = 0.0

    def get(self, queue: str, fallback: int) -> int:
        """``queue``'s live capacity, at most ``CACHE_SECONDS`` old; ``fallback`` if unknown."""
        now = time.monotonic()
        with self._lock:
            cached = self._cached.get(queue)
            if cached is not None and now - cached[1] < CACHE_SECONDS:
                return cached[0] or fallback
            if self._client is None or now < self._outage_until:
                return fallback
        try:
            total = read_capacity(self._client, queue)
        except (RedisError, OSError) as exc:
            with self._lock:
                self._outage_until = now + OUTAGE_SECONDS
            log.warning("live capacity of %s unread (%s); %d slots meanwhile", queue, exc, fallback)
            return fallback
        with self._lock:
            self._cached[queue] = (total, now)
        return total or fallback

    def fresh(self, queue: str) -> bool:
        """Whether ``get`` would answer ``queue`` from its cache, with no Redis round trip."""
        with self._lock:
            cached = self._cached.get(queue)
            if self._client is None or time.monotonic() < self._outage_until:
                return True
            return cached is not None and time.monotonic() - cached[1] < CACHE_SECONDS


class Registration:
    """One worker process's registered capacity, renewed by its recovery loop's passes.

    Best effort throughout: while Redis is away the registration lapses and
    admission falls back to its default; the next renewal puts it back.
    """

    def __init__(
        self, client: Redis | None, worker: str, capacity: Mapping[str, int], ttl_seconds: float
    ) -> None:
        self._client = client
        self.worker = worker
        self.capacity = dict(capacity)
        self._ttl = ttl_seconds

    def renew(self) -> None:
        """Register, or renew, this worker's capacity for every queue it consumes."""
        if self._client is None or not self.capacity:
            return
        try:
            register(self._client, self.worker, self.capacity, self._ttl)
        except (RedisError, OSError) as exc:
            log.warning("capacity of worker %s not registered: %s", self.worker, exc)

    def withdraw(self) -> None:
        """Delete the registration: the worker is shutting down."""
        if self._client is None or not self.capacity:
            return
        try:
            unregister(self._client, self.worker, self.capacity)
        except (RedisError, OSError) as exc:
            log.warning("capacity of worker %s not withdrawn (it lapses): %s", self.worker, exc)
