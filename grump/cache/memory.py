"""L1: an in-process LRU with a TTL (cachetools), safe to share between threads."""

from __future__ import annotations

import threading

from cachetools import TTLCache

from grump.cache.tier import TierStats


class MemoryTier:
    """The L1 tier: entries of this process only, dropped by age or when the least recently used must make room."""

    name = "memory"

    def __init__(self, max_items: int, ttl_seconds: float) -> None:
        self._items: TTLCache[str, bytes] = TTLCache(maxsize=max_items, ttl=ttl_seconds)
        # cachetools caches are not thread-safe; an LLM worker runs many threads.
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """The value under ``key`` while it is fresh, else None."""
        with self._lock:
            return self._items.get(key)

    def set(self, key: str, value: bytes) -> None:
        """Keep ``value`` under ``key``, evicting the least recently used entry when full."""
        with self._lock:
            self._items[key] = value

    def clear(self, namespace: str | None = None) -> int:
        """Remove every entry, or those whose key starts with ``namespace``; how many went."""
        with self._lock:
            doomed = [k for k in self._items if namespace is None or k.startswith(namespace)]
            for key in doomed:
                self._items.pop(key, None)
        return len(doomed)

    def stats(self) -> TierStats:
        """Entries and bytes held, expired ones dropped first."""
        with self._lock:
            self._items.expire()
            values = list(self._items.values())
        return TierStats(self.name, len(values), sum(map(len, values)))

    def close(self) -> None:
        """Nothing to release: the entries go with the process."""
        return None
