"""What every cache tier offers: bytes in, bytes out, by string key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TierStats:
    tier: str
    items: int
    bytes: int


class CacheTier(Protocol):
    """A tier never raises on get or set: an unreachable tier is a miss, not an outage."""

    name: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes) -> None: ...

    def clear(self, namespace: str | None = None) -> int: ...

    def stats(self) -> TierStats: ...

    def close(self) -> None: ...
