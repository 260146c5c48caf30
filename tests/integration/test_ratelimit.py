"""The Redis token bucket against a real Redis: shared, and never over the rate."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Iterator
from multiprocessing.queues import Queue

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from grump.errors import ServiceUnavailable
from grump.providers.ratelimit import RateLimiter, bucket_key

pytestmark = pytest.mark.integration

# Redis comes from the ``redis_url`` fixture (tests/integration/conftest.py): a
# clean database at GRUMP_TEST_REDIS_URL, skipped when unreachable, failed when CI=true.


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def key() -> str:
    return bucket_key(f"test-{uuid.uuid4().hex}")


def _take_until(limiter: RateLimiter, stop_at: float, taken: list[float]) -> None:
    while time.monotonic() < stop_at:
        if limiter.acquire(timeout=stop_at - time.monotonic()):
            taken.append(time.monotonic())


def test_threads_together_never_exceed_the_rate(redis_url: str, key: str) -> None:
    rate, burst, seconds = 40.0, 5, 1.5
    taken: list[float] = []
    start = time.monotonic()
    stop_at = start + seconds
    # One client each, as separate worker processes would have.
    threads = [
        threading.Thread(
            target=_take_until,
            args=(RateLimiter(redis.Redis.from_url(redis_url), key, rate, burst), stop_at, taken),
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    assert len(taken) <= burst + rate * elapsed
    # No half-second window holds more than a burst plus half a second of rate
    # (one token of slack: times are read after acquire returns, not in Redis).
    taken.sort()
    window = 0.5
    busiest = max(sum(1 for t in taken if s <= t < s + window) for s in taken)
    assert busiest <= burst + rate * window + 1
    # ...and the limiter does not starve them: most of the allowance is used.
    assert len(taken) >= 0.8 * rate * seconds


def _process_worker(
    url: str, key: str, rate: float, burst: int, stop_at: float, out: Queue[int]
) -> None:
    limiter = RateLimiter(redis.Redis.from_url(url), key, rate, burst)
    taken: list[float] = []
    _take_until(limiter, stop_at, taken)
    out.put(len(taken))


def test_processes_share_one_bucket(redis_url: str, key: str) -> None:
    rate, burst, seconds = 30.0, 3, 1.5
    context = multiprocessing.get_context("fork")
    counts: Queue[int] = context.Queue()
    start = time.monotonic()
    stop_at = start + seconds  # monotonic is system-wide on Linux: children share it
    workers = [
        context.Process(target=_process_worker, args=(redis_url, key, rate, burst, stop_at, counts))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    total = sum(counts.get(timeout=30) for _ in workers)
    for worker in workers:
        worker.join(timeout=10)
    elapsed = time.monotonic() - start
    assert total <= burst + rate * elapsed
    assert total >= 0.8 * rate * seconds


def test_burst_is_available_at_once_then_the_bucket_is_empty(
    redis_client: redis.Redis, key: str
) -> None:
    limiter = RateLimiter(redis_client, key, rate_per_second=1.0, burst=3)
    assert [limiter.acquire(timeout=0) for _ in range(4)] == [True, True, True, False]
    taken, wait = limiter.try_acquire()
    assert not taken and 0.0 < wait <= 1.0


def test_acquire_waits_for_the_next_token(redis_client: redis.Redis, key: str) -> None:
    limiter = RateLimiter(redis_client, key, rate_per_second=10.0, burst=1)
    assert limiter.acquire(timeout=0)
    before = time.monotonic()
    assert limiter.acquire(timeout=1.0)
    assert time.monotonic() - before >= 0.08  # a token takes 0.1 s to come back


def test_acquire_gives_up_at_once_when_the_wait_exceeds_the_timeout(
    redis_client: redis.Redis, key: str
) -> None:
    limiter = RateLimiter(redis_client, key, rate_per_second=0.5, burst=1)
    assert limiter.acquire(timeout=0)
    before = time.monotonic()
    assert not limiter.acquire(timeout=0.5)  # the next token is 2 s away
    assert time.monotonic() - before < 0.4


def test_buckets_of_different_tiers_are_independent(redis_client: redis.Redis, key: str) -> None:
    first = RateLimiter(redis_client, key, rate_per_second=0.1, burst=1)
    second = RateLimiter(redis_client, key + "-other", rate_per_second=0.1, burst=1)
    assert first.acquire(timeout=0) and not first.acquire(timeout=0)
    assert second.acquire(timeout=0)


def test_an_idle_bucket_expires(redis_client: redis.Redis, key: str) -> None:
    RateLimiter(redis_client, key, rate_per_second=100.0, burst=10).acquire(timeout=0)
    ttl_ms = int(redis_client.pttl(key))
    assert 0 < ttl_ms <= 1100  # a full refill (0.1 s) plus a second's grace


def test_unreachable_redis_is_service_unavailable() -> None:
    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    limiter = RateLimiter(dead, "grump:ratelimit:nowhere", rate_per_second=1.0, burst=1)
    with pytest.raises(ServiceUnavailable):
        limiter.acquire(timeout=0)


def test_nonsense_limits_are_refused(redis_client: redis.Redis) -> None:
    with pytest.raises(ValueError):
        RateLimiter(redis_client, "k", rate_per_second=0, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(redis_client, "k", rate_per_second=1.0, burst=0)
