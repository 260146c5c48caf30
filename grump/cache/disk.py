"""L3: local disk (diskcache, SQLite + files), surviving restarts; entries tagged by tenant.

Safe for the threads and processes of one host. A disk error is a miss, never
a failed job.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import diskcache

from grump.cache.tier import TierStats

log = logging.getLogger(__name__)
_NAMESPACE_END = 2  # keys look like "<version>:<tenant hash>:<request hash>"


def _namespace_of(key: str) -> str:
    parts = key.split(":", _NAMESPACE_END)
    return ":".join(parts[:_NAMESPACE_END]) + ":"


class DiskTier:
    """The L3 tier: entries on local disk, kept across restarts and shared by the processes of one host."""

    name = "disk"

    def __init__(self, directory: Path, ttl_seconds: int, max_bytes: int) -> None:
        self.directory = directory
        self.ttl_seconds = ttl_seconds
        self._cache = diskcache.Cache(
            str(directory),
            size_limit=max_bytes,
            tag_index=True,
            eviction_policy="least-recently-used",
        )

    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None on a miss or a disk error."""
        try:
            value = self._cache.get(key)
        except (OSError, sqlite3.Error) as exc:
            log.warning("disk cache read failed, treated as a miss: %s", exc)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` for the TTL, tagged with its namespace; a disk error skips it."""
        try:
            self._cache.set(key, value, expire=self.ttl_seconds, tag=_namespace_of(key))
        except (OSError, sqlite3.Error) as exc:
            log.warning("disk cache write failed, skipped: %s", exc)

    def clear(self, namespace: str | None = None) -> int:
        """Remove every entry, or those tagged with ``namespace`` (a whole tenant namespace); how many went."""
        if namespace is None:
            return int(self._cache.clear())
        return int(self._cache.evict(namespace))

    def stats(self) -> TierStats:
        """Entries and bytes on disk, expired ones removed first."""
        self._cache.expire()
        return TierStats(self.name, len(self._cache), int(self._cache.volume()))

    def close(self) -> None:
        """Close the cache's database and files."""
        self._cache.close()
