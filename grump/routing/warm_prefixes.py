"""Which prompt prefixes grump sent to Anthropic, and when: what of a request is likely warm.

Each time grump sends a request with breakpoints (its own or the client's), it
records per tenant a hash of each prefix a breakpoint closes, when it was sent,
the TTL it was sent with and its length (``grump:pcache:<tenant>:<hash>`` in
Redis, kept an hour, the longest TTL). ``warm_tokens`` then says how many input
tokens of a request are likely read from the provider's cache: the longest of
its prefixes whose record is younger than its TTL. Anthropic looks a prefix up
at any block before a breakpoint, so every cut of the request is looked up, not
only its breakpoints. The record also carries how often the session came back
after more than 5 minutes idle, which the ``auto`` TTL reads
(``grump.routing.cache_ttl``).

Per tenant, although Anthropic's cache is per organisation (every tenant sends
with grump's key): a tenant's warmth is never read from another's traffic.
Estimates only: a failed call, Anthropic evicting early, or the 20-block
lookback limit can make a "warm" prefix miss.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from redis import Redis

from grump.routing.breakpoints import Prefix
from grump.routing.cache_ttl import LONG_TTL_SECONDS, is_long_gap

KEY_PREFIX = "grump:pcache"
RECORD_SECONDS = LONG_TTL_SECONDS
LOOKUP_HEAD = 4  # tools and system cuts, which every turn of a session shares
LOOKUP_TAIL = 60  # the latest turns' cuts


@dataclass(frozen=True)
class SeenPrefix:
    """A prefix grump sent: when (seconds since the epoch, UTC), with which TTL, how long it is.

    ``long_gaps`` counts the times the session it belongs to came back after
    more than 5 minutes (and at most an hour) idle.
    """

    last_sent: float
    ttl_seconds: int
    tokens: int
    long_gaps: int = 0

    def warm(self, now: float) -> bool:
        """Whether the provider likely still holds the prefix at ``now``."""
        return now - self.last_sent <= self.ttl_seconds

    def dumps(self) -> str:
        """The record as Redis keeps it."""
        return json.dumps([self.last_sent, self.ttl_seconds, self.tokens, self.long_gaps])

    @classmethod
    def loads(cls, raw: bytes | str) -> SeenPrefix:
        """A record read back from Redis."""
        last_sent, ttl_seconds, tokens, long_gaps = json.loads(raw)
        return cls(float(last_sent), int(ttl_seconds), int(tokens), int(long_gaps))


def warm_tokens(cuts: Sequence[Prefix], seen: Mapping[str, SeenPrefix], now: float) -> int:
    """How many input tokens of a request (cut into ``cuts``) are likely read from the cache.

    The longest cut whose prefix was sent within its TTL; 0 when none was.
    """
    warm = [cut.tokens for cut in cuts if (s := seen.get(cut.digest)) is not None and s.warm(now)]
    return max(warm, default=0)


def latest_seen(cuts: Sequence[Prefix], seen: Mapping[str, SeenPrefix]) -> SeenPrefix | None:
    """The record of the longest cut grump sent before: where the session last left off."""
    for cut in reversed(cuts):
        found = seen.get(cut.digest)
        if found is not None:
            return found
    return None


def long_gaps_now(previous: SeenPrefix | None, now: float) -> int:
    """The session's idle returns, this one included when it follows a gap of over 5 minutes."""
    if previous is None:
        return 0
    return previous.long_gaps + (1 if is_long_gap(now - previous.last_sent) else 0)


def lookup_cuts(cuts: Sequence[Prefix]) -> list[Prefix]:
    """The cuts worth looking up: all of a short request's; the head and tail of a long one."""
    if len(cuts) <= LOOKUP_HEAD + LOOKUP_TAIL:
        return list(cuts)
    return [*cuts[:LOOKUP_HEAD], *cuts[-LOOKUP_TAIL:]]


class PrefixRecords:
    """The prefixes each tenant sent, in Redis; RedisError propagates to the caller."""

    def __init__(self, client: Redis, record_seconds: int = RECORD_SECONDS) -> None:
        self._redis = client
        self._record_seconds = record_seconds

    def lookup(self, tenant: str, cuts: Sequence[Prefix]) -> dict[str, SeenPrefix]:
        """The records of those of ``cuts`` that ``tenant`` sent within the last hour, by digest."""
        wanted = lookup_cuts(cuts)
        if not wanted:
            return {}
        raw = self._redis.mget([self._key(tenant, cut.digest) for cut in wanted])
        return {
            cut.digest: SeenPrefix.loads(value)
            for cut, value in zip(wanted, raw, strict=True)
            if value is not None
        }

    def record(self, tenant: str, sent: Mapping[Prefix, SeenPrefix]) -> None:
        """Store what ``tenant`` just sent: each breakpoint's prefix with its new record."""
        if not sent:
            return
        pipe = self._redis.pipeline(transaction=False)
        for cut, seen in sent.items():
            pipe.set(self._key(tenant, cut.digest), seen.dumps(), ex=self._record_seconds)
        pipe.execute()

    @staticmethod
    def _key(tenant: str, digest: str) -> str:
        return f"{KEY_PREFIX}:{tenant}:{digest}"
