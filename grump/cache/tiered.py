"""Read-through over the tiers, fastest first, promoting a hit to the faster tiers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grump import metrics
from grump.cache.tier import CacheTier, TierStats


@dataclass(frozen=True)
class Hit:
    """A cached value and the name of the tier it came from."""

    value: bytes
    tier: str


class TieredCache:
    """The tiers of one process, fastest first, read and written as one cache."""

    def __init__(self, tiers: Sequence[CacheTier]) -> None:
        self.tiers = tuple(tiers)

    @property
    def tier_names(self) -> tuple[str, ...]:
        """Names of the tiers, fastest first."""
        return tuple(t.name for t in self.tiers)

    def get(self, key: str, kind: str = "complete") -> Hit | None:
        """The value from the fastest tier holding it; slower tiers are not asked then."""
        for index, tier in enumerate(self.tiers):
            value = tier.get(key)
            if value is None:
                continue
            for faster in self.tiers[:index]:
                faster.set(key, value)
            metrics.CACHE_HITS.labels(tier.name, kind).inc()
            return Hit(value, tier.name)
        return None

    def set(self, key: str, value: bytes, only: Sequence[str] | None = None) -> None:
        """Write to every tier, or to the tiers named in ``only``."""
        for tier in self.tiers:
            if only is None or tier.name in only:
                tier.set(key, value)

    def contains(self, key: str, only: Sequence[str] | None = None) -> bool:
        """Whether a tier (of ``only``) holds ``key``; no promotion, no hit counted."""
        return any(
            tier.get(key) is not None for tier in self.tiers if only is None or tier.name in only
        )

    def clear(self, namespace: str | None = None) -> dict[str, int]:
        """Remove every entry (of one namespace); how many each tier dropped."""
        return {tier.name: tier.clear(namespace) for tier in self.tiers}

    def stats(self) -> list[TierStats]:
        """Each tier's entries and bytes, fastest first."""
        return [tier.stats() for tier in self.tiers]

    def close(self) -> None:
        """Close every tier."""
        for tier in self.tiers:
            tier.close()
