"""L1: an in-process LRU with a TTL (cachetools), safe to share between threads."""

from __future__ import annotations

import threading

from cachetools import TTLCache

from grump.cache.tier import TierStats


class MemoryTier:
    name = "memory"

    def __init__(self, max_items: int, ttl_seconds: float) -> None:
        self._items: TTLCache[str, bytes] = TTLCache(maxsize=max_items, ttl=ttl_seconds)
        # cachetools caches are not thread-safe; an LLM worker runs many threads.
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._items.get(key)

    def set(self, key: str, value: bytes) -> None:
        with self._lock:
            self._items[key] = value

    def clear(self, namespace: str | None = None) -> int:
        with self._lock:
            doomed = [k for k in self._items if namespace is None or k.startswith(namespace)]
            for key in doomed:
                self._items.pop(key, None)
        return len(doomed)

    def stats(self) -> TierStats:
        with self._lock:
            self._items.expire()
            values = list(self._items.values())
        return TierStats(self.name, len(values), sum(map(len, values)))

    def close(self) -> None:
        return None
