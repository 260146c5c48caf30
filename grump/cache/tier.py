"""What every cache tier offers: bytes in, bytes out, by string key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TierStats:
    """The size of one tier: entries and bytes."""

    tier: str
    items: int
    bytes: int


class CacheTier(Protocol):
    """A tier never raises on get or set: an unreachable tier is a miss, not an outage."""

    name: str

    def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or None on a miss (an error is a miss too)."""

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` until the tier's TTL or eviction drops it; a failure is skipped."""

    def clear(self, namespace: str | None = None) -> int:
        """Remove every entry, or those of one namespace; how many were removed."""

    def stats(self) -> TierStats:
        """How many entries the tier holds now, and their size in bytes."""

    def close(self) -> None:
        """Let go of what the tier owns; a tier is not used after this."""
