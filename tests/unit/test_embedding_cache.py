"""The per-text vector cache: keys per tenant and per parameter; outages read as misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grump.jobs.embed.cache import (
    EmbedParams,
    MemoryVectorCache,
    NoVectorCache,
    RedisVectorCache,
    make_vector_cache,
    text_key,
)
from grump.redis_client import redis_client
from grump.runtime import Runtime
from grump.settings import Settings
from tests.services import free_port

PARAMS = EmbedParams("m", "passage", 256, "END")


def test_every_answer_changing_parameter_and_the_tenant_change_the_key() -> None:
    base = text_key("acme", PARAMS, "hello")
    variants = [
        text_key("globex", PARAMS, "hello"),
        text_key("acme", PARAMS, "hello!"),
        text_key("acme", EmbedParams("other", "passage", 256, "END"), "hello"),
        text_key("acme", EmbedParams("m", "query", 256, "END"), "hello"),
        text_key("acme", EmbedParams("m", "passage", None, "END"), "hello"),
        text_key("acme", EmbedParams("m", "passage", 256, "NONE"), "hello"),
    ]
    assert base == text_key("acme", PARAMS, "hello")
    assert len({base, *variants}) == len(variants) + 1
    assert "acme" not in base  # tenant names stay out of Redis key listings


def test_memory_cache_returns_the_stored_float32_vector() -> None:
    cache = MemoryVectorCache(max_items=10, ttl_seconds=60)
    vector = np.array([0.25, -1.5, 3.0], dtype=np.float32)
    cache.put_many({"k": vector})
    found, missing = cache.get_many(["k", "nope"])
    assert missing is None and found is not None
    assert found.dtype == np.float32 and np.array_equal(found, vector)


def test_memory_cache_is_bounded() -> None:
    cache = MemoryVectorCache(max_items=2, ttl_seconds=60)
    cache.put_many({f"k{i}": np.ones(2, np.float32) for i in range(5)})
    assert sum(v is not None for v in cache.get_many([f"k{i}" for i in range(5)])) == 2


def test_an_unreachable_redis_reads_as_misses_and_skips_writes() -> None:
    cache = RedisVectorCache(redis_client(f"redis://127.0.0.1:{free_port()}/0"), ttl_seconds=60)
    cache.put_many({"k": np.ones(2, np.float32)})
    assert cache.get_many(["k", "j"]) == [None, None]


def test_the_cache_in_use_follows_the_settings(tmp_path: Path) -> None:
    local = Runtime(Settings(data_dir=tmp_path))
    shared = Runtime(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0"))
    off = Runtime(Settings(data_dir=tmp_path, embed_cache_ttl_seconds=0))
    assert isinstance(make_vector_cache(local.settings, local.redis), MemoryVectorCache)
    assert isinstance(make_vector_cache(shared.settings, shared.redis), RedisVectorCache)
    assert isinstance(make_vector_cache(off.settings, off.redis), NoVectorCache)
