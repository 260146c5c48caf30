"""Which prompt prefixes grump sent to Anthropic, and when: what of a request is likely warm.

Each time grump sends a request with breakpoints (its own or the client's), it
records per tenant a hash of each prefix a breakpoint closes, when it was sent,
the TTL it was sent with and its length (``grump:pcache:<tenant>:<hash>`` in
Redis, kept an hour, the longest TTL). ``warm_tokens`` then says how many input
tokens of a request are likely read from the provider's cache: the longest of
its prefixes whose record is younger than its TTL. Anthropic looks a prefix up
at any block before a breakpoint, so every cut of the request is looked up, not
only its breakpoints.

It also counts, per tenant and hour, the sessions begun and the times one came
back to its prefix after 5 to 60 minutes idle (``grump:pcache-idle:<tenant>:<hour>``,
kept two hours): the ``auto`` TTL's evidence (``grump.routing.cache_ttl``). A
prefix's record carries its session's count of such returns so far.

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
IDLE_KEY_PREFIX = "grump:pcache-idle"  # per tenant and hour: sessions begun, idle returns
IDLE_BUCKET_SECONDS = 3600
MIN_SESSIONS = 3  # fewer sessions say nothing about a tenant's habits
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


@dataclass(frozen=True)
class IdleStats:
    """A tenant's sessions begun and idle returns (gaps of 5 minutes to an hour), lately."""

    sessions: int = 0
    long_gaps: int = 0

    def expected_long_gaps(self) -> float:
        """Idle returns a session of the tenant makes, on that evidence; 0 with too little."""
        return self.long_gaps / self.sessions if self.sessions >= MIN_SESSIONS else 0.0


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

    def __init__(
        self, client: Redis, record_seconds: int = RECORD_SECONDS, key_prefix: str = KEY_PREFIX
    ) -> None:
        self._redis = client
        self._record_seconds = record_seconds
        self._key_prefix = key_prefix

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

    def idle_stats(self, tenant: str, now: float) -> IdleStats:
        """``tenant``'s sessions begun and idle returns in this hour and the one before."""
        bucket = int(now // IDLE_BUCKET_SECONDS)
        pipe = self._redis.pipeline(transaction=False)
        for hour in (bucket - 1, bucket):
            pipe.hmget(self._idle_key(tenant, hour), ["sessions", "long_gaps"])
        rows = pipe.execute()
        return IdleStats(
            sessions=sum(int(row[0] or 0) for row in rows),
            long_gaps=sum(int(row[1] or 0) for row in rows),
        )

    def record(
        self,
        tenant: str,
        sent: Mapping[Prefix, SeenPrefix],
        now: float = 0.0,
        *,
        new_session: bool = False,
        long_gap: bool = False,
    ) -> None:
        """Store what ``tenant`` just sent: each breakpoint's prefix with its new record.

        ``new_session`` and ``long_gap`` count a session's first request and an
        idle return in the tenant's hourly figures.
        """
        pipe = self._redis.pipeline(transaction=False)
        for cut, seen in sent.items():
            pipe.set(self._key(tenant, cut.digest), seen.dumps(), ex=self._record_seconds)
        idle = self._idle_key(tenant, int(now // IDLE_BUCKET_SECONDS))
        for name, counted in (("sessions", new_session), ("long_gaps", long_gap)):
            if counted:
                pipe.hincrby(idle, name, 1)
                pipe.expire(idle, 2 * IDLE_BUCKET_SECONDS)
        pipe.execute()

    def _key(self, tenant: str, digest: str) -> str:
        return f"{self._key_prefix}:{tenant}:{digest}"

    @staticmethod
    def _idle_key(tenant: str, hour: int) -> str:
        return f"{IDLE_KEY_PREFIX}:{tenant}:{hour}"
