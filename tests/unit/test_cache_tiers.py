"""Memory and disk tiers, and read-through with promotion over them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from grump import metrics
from grump.cache.build import build_tiered_cache
from grump.cache.disk import DiskTier
from grump.cache.memory import MemoryTier
from grump.cache.tiered import TieredCache
from tests.conftest import local_settings

NS_A, NS_B = "v1:aaaa:", "v1:bbbb:"


@pytest.fixture
def disk(tmp_path: Path) -> DiskTier:
    return DiskTier(tmp_path / "cache", ttl_seconds=3600, max_bytes=1 << 24)


def _hits(tier: str) -> float:
    value = metrics.CACHE_HITS.labels(tier, "complete")._value.get()
    return float(value)


def test_memory_evicts_the_least_recently_used_past_its_size() -> None:
    memory = MemoryTier(max_items=2, ttl_seconds=60)
    memory.set("a", b"1")
    memory.set("b", b"2")
    assert memory.get("a") == b"1"  # "a" is now the most recently used
    memory.set("c", b"3")
    assert (memory.get("a"), memory.get("b"), memory.get("c")) == (b"1", None, b"3")


def test_memory_entries_expire_after_their_ttl() -> None:
    memory = MemoryTier(max_items=10, ttl_seconds=0.05)
    memory.set("a", b"1")
    time.sleep(0.08)
    assert memory.get("a") is None


def test_disk_entries_survive_a_new_process_and_expire(tmp_path: Path) -> None:
    first = DiskTier(tmp_path / "cache", ttl_seconds=3600, max_bytes=1 << 24)
    first.set(NS_A + "k", b"value")
    first.close()
    again = DiskTier(tmp_path / "cache", ttl_seconds=3600, max_bytes=1 << 24)
    assert again.get(NS_A + "k") == b"value"
    short = DiskTier(tmp_path / "short", ttl_seconds=1, max_bytes=1 << 24)
    short.set(NS_A + "k", b"value")
    time.sleep(1.1)
    assert short.get(NS_A + "k") is None


@pytest.mark.parametrize("tier_name", ["memory", "disk"])
def test_clear_by_namespace_leaves_other_tenants(tier_name: str, disk: DiskTier) -> None:
    tier = disk if tier_name == "disk" else MemoryTier(10, 60)
    tier.set(NS_A + "1", b"a1")
    tier.set(NS_A + "2", b"a2")
    tier.set(NS_B + "1", b"b1")
    assert tier.clear(NS_A) == 2
    assert (tier.get(NS_A + "1"), tier.get(NS_B + "1")) == (None, b"b1")
    assert tier.stats().items == 1
    assert tier.clear() == 1 and tier.stats().items == 0


def test_a_hit_in_a_slower_tier_is_promoted_to_the_faster_ones(disk: DiskTier) -> None:
    memory = MemoryTier(10, 60)
    cache = TieredCache([memory, disk])
    disk.set(NS_A + "k", b"v")
    before = _hits("disk")
    hit = cache.get(NS_A + "k")
    assert hit is not None and (hit.value, hit.tier) == (b"v", "disk")
    assert memory.get(NS_A + "k") == b"v"
    assert _hits("disk") == before + 1
    again = cache.get(NS_A + "k")
    assert again is not None and again.tier == "memory"


def test_set_can_fill_only_the_shared_tiers(disk: DiskTier) -> None:
    memory = MemoryTier(10, 60)
    cache = TieredCache([memory, disk])
    cache.set(NS_A + "k", b"v", only=("disk",))
    assert memory.get(NS_A + "k") is None and disk.get(NS_A + "k") == b"v"
    assert cache.contains(NS_A + "k") and not cache.contains(NS_A + "k", only=("memory",))
    assert cache.get(NS_B + "k") is None


def test_settings_choose_the_tiers(tmp_path: Path) -> None:
    full = build_tiered_cache(local_settings(tmp_path), None)
    assert full is not None and full.tier_names == ("memory", "disk")  # no Redis URL: no L2
    no_disk = build_tiered_cache(local_settings(tmp_path, cache_disk_enabled=False), None)
    assert no_disk is not None and no_disk.tier_names == ("memory",)
    assert build_tiered_cache(local_settings(tmp_path, cache_enabled=False), None) is None
    bare = local_settings(tmp_path, cache_memory_enabled=False, cache_disk_enabled=False)
    assert build_tiered_cache(bare, None) is None
