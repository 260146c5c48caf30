"""Cache hit latency per tier (L1 memory, L2 Redis, L3 disk), p50/p99, in one run.

  .venv/bin/python bench/cache.py [--lookups 5000] [--redis redis://127.0.0.1:6379/12]

Each lookup is a full CompletionCache.lookup (key hashing, tier read, decode);
a hit in one tier is measured with the faster tiers left out of the cache, so
it is what a request pays when its answer lives only there. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grump.cache.completions import CachedAnswer, CompletionCache
from grump.cache.disk import DiskTier
from grump.cache.memory import MemoryTier
from grump.cache.redis_tier import RedisTier
from grump.cache.tier import CacheTier
from grump.cache.tiered import TieredCache
from grump.jobs.models import CompleteInput

ENTRIES = 500


def _payload(i: int) -> CompleteInput:
    text = f"question {i}: " + "explain the trade-offs of this design " * 8
    return CompleteInput.model_validate({"messages": [{"role": "user", "content": text}]})


def _answer(i: int) -> CachedAnswer:
    # About 2 KB of answer: above the compression threshold, as long answers are.
    content = f"answer {i}: " + "the plan is to split the work into small steps " * 40
    return CachedAnswer({"content": content, "finish_reason": "stop"}, "m", "nim", 120, 400)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1e6, p99 * 1e6


def measure(tier: CacheTier, lookups: int) -> tuple[float, float]:
    cache = CompletionCache(TieredCache([tier]), compress_min_bytes=1024)
    payloads = [_payload(i) for i in range(ENTRIES)]
    for i, payload in enumerate(payloads):
        cache.store("bench", "m", payload, _answer(i))
    samples: list[float] = []
    for n in range(lookups):
        payload = payloads[n % ENTRIES]
        start = time.perf_counter()
        found = cache.lookup("bench", "m", payload)
        samples.append(time.perf_counter() - start)
        assert found is not None, "a stored entry must hit"
    return _percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lookups", type=int, default=5000)
    # Not db 14: the test suite flushes that one whenever a test starts.
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis)
    with tempfile.TemporaryDirectory() as directory:
        tiers: list[CacheTier] = [
            MemoryTier(max_items=ENTRIES * 2, ttl_seconds=600),
            RedisTier(client, ttl_seconds=600),
            DiskTier(Path(directory) / "cache", ttl_seconds=600, max_bytes=1 << 28),
        ]
        print(f"cache hit latency, {args.lookups} lookups over {ENTRIES} entries of ~2 KB")
        print(f"{'tier':<8} {'p50 us':>10} {'p99 us':>10}")
        for tier in tiers:
            p50, p99 = measure(tier, args.lookups)
            print(f"{tier.name:<8} {p50:>10.1f} {p99:>10.1f}")
            tier.clear()
            tier.close()
    client.close()


if __name__ == "__main__":
    main()
