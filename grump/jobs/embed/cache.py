"""The per-text embedding cache: a text embedded once is free the next time.

A key names everything that changes the provider's vector (model, dimensions,
input type, truncation, the text) inside the tenant's namespace, so one tenant
never reads another's entry. Values are the provider's raw vector as float32
bytes; post-processing (normalising, quantising) runs per job afterwards, so
one entry serves every encoding.

The cache is an optimisation: a Redis error is logged and read as a miss
(or a skipped write), never a failed job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import redis
from cachetools import TTLCache

from grump.settings import Settings

log = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]
KEY_PREFIX = "grump:embed:v2"


@dataclass(frozen=True)
class EmbedParams:
    """What a provider call is made with; only requests with equal params share a call."""

    model: str
    input_type: Literal["query", "passage"]
    dimensions: int | None
    truncate: Literal["NONE", "START", "END"]


def text_key(tenant: str, params: EmbedParams, text: str) -> str:
    """One text's cache key (for many texts, ``text_keys`` is cheaper)."""
    return text_keys(tenant, params, [text])[0]


def text_keys(tenant: str, params: EmbedParams, texts: Sequence[str]) -> list[str]:
    """The cache key of each text; the shared part is hashed once, not once per text."""
    # The JSON array of the parameters ends unambiguously, so the text can follow it as is.
    canonical = json.dumps(
        [params.model, params.dimensions, params.input_type, params.truncate],
        separators=(",", ":"),
    )
    shared = hashlib.sha256(canonical.encode())
    prefix = f"{KEY_PREFIX}:{hashlib.sha256(tenant.encode()).hexdigest()[:16]}:"
    keys = []
    for text in texts:
        digest = shared.copy()
        digest.update(text.encode("utf-8", "surrogatepass"))
        keys.append(prefix + digest.hexdigest())
    return keys


class VectorCache(Protocol):
    """Where embed jobs keep the provider's vectors by text key: Redis, in-process, or nowhere."""

    def get_many(self, keys: Sequence[str]) -> list[Vector | None]:
        """The vector stored under each key, in order; None for a miss."""

    def put_many(self, entries: Mapping[str, Vector]) -> None:
        """Store each vector under its key; a failed write is skipped, never a failed job."""


class NoVectorCache:
    """The cache turned off: every lookup misses."""

    def get_many(self, keys: Sequence[str]) -> list[Vector | None]:
        """A miss for every key."""
        return [None] * len(keys)

    def put_many(self, entries: Mapping[str, Vector]) -> None:
        """Drop the entries: nothing is cached."""
        return None


class MemoryVectorCache:
    """In-process LRU with TTL (cachetools), safe across threads."""

    def __init__(self, max_items: int, ttl_seconds: float) -> None:
        self._entries: TTLCache[str, bytes] = TTLCache(maxsize=max_items, ttl=ttl_seconds)
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> list[Vector | None]:
        """The vector of each key held in this process; None where missing or expired."""
        with self._lock:
            raw = [self._entries.get(key) for key in keys]
        return [None if value is None else _decode(value) for value in raw]

    def put_many(self, entries: Mapping[str, Vector]) -> None:
        """Keep each vector in this process until its TTL or the LRU drops it."""
        encoded = {key: _encode(vector) for key, vector in entries.items()}
        with self._lock:
            self._entries.update(encoded)


class RedisVectorCache:
    """Shared by every GPU worker: one MGET per job, one pipelined write."""

    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self._redis = client
        self._ttl = ttl_seconds

    def get_many(self, keys: Sequence[str]) -> list[Vector | None]:
        """The vector of each key from one MGET; all misses when Redis fails."""
        if not keys:
            return []
        try:
            raw: list[Any] = self._redis.mget(list(keys))
        except (redis.RedisError, OSError) as exc:
            log.warning("embedding cache read failed (%s); treating as misses", exc)
            return [None] * len(keys)
        return [_decode(value) if isinstance(value, bytes) else None for value in raw]

    def put_many(self, entries: Mapping[str, Vector]) -> None:
        """Write every entry with the TTL in one pipeline; a Redis error skips the write."""
        if not entries:
            return
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for key, vector in entries.items():
                    pipe.set(key, _encode(vector), ex=self._ttl)
                pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("embedding cache write failed (%s); entries not cached", exc)


def _encode(vector: Vector) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def _decode(value: bytes) -> Vector | None:
    if not value or len(value) % 4:
        return None  # a foreign or truncated entry: a miss, not a crash
    return np.frombuffer(value, dtype="<f4").astype(np.float32)


def make_vector_cache(settings: Settings, client: redis.Redis | None) -> VectorCache:
    """Redis when ``client`` is given (GRUMP_REDIS_URL), else in-process; off with a TTL of 0."""
    if settings.embed_cache_ttl_seconds <= 0:
        return NoVectorCache()
    if client is not None:
        return RedisVectorCache(client, settings.embed_cache_ttl_seconds)
    return MemoryVectorCache(settings.embed_cache_max_items, settings.embed_cache_ttl_seconds)
