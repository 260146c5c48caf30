"""The tiered cache a process should have, from settings."""

from __future__ import annotations

from pathlib import Path

import redis

from grump.cache.disk import DiskTier
from grump.cache.memory import MemoryTier
from grump.cache.redis_tier import RedisTier
from grump.cache.tier import CacheTier
from grump.cache.tiered import TieredCache
from grump.settings import Settings

MEMORY, REDIS, DISK = "memory", "redis", "disk"
SHARED_TIERS = (REDIS, DISK)


def disk_directory(settings: Settings) -> Path:
    """Where the disk tier keeps its entries: ``cache`` under the data directory."""
    return settings.data_dir / "cache"


def build_tiered_cache(
    settings: Settings,
    redis_client: redis.Redis | None,
    *,
    with_memory: bool = True,
) -> TieredCache | None:
    """The enabled tiers, fastest first; None when caching is off or no tier is left.

    ``with_memory=False`` is for processes whose memory is not worth filling
    (beat, the CLI): they read and write the shared tiers only.
    """
    if not settings.cache_enabled:
        return None
    tiers: list[CacheTier] = []
    if settings.cache_memory_enabled and with_memory:
        tiers.append(MemoryTier(settings.cache_memory_max_items, settings.cache_memory_ttl_seconds))
    if settings.cache_redis_enabled and redis_client is not None:
        tiers.append(RedisTier(redis_client, settings.cache_redis_ttl_seconds))
    if settings.cache_disk_enabled:
        tiers.append(
            DiskTier(
                disk_directory(settings),
                settings.cache_disk_ttl_seconds,
                settings.cache_disk_max_bytes,
            )
        )
    return TieredCache(tiers) if tiers else None
