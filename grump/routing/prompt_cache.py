"""What the worker does to a Claude request just before the provider sees it: prompt caching.

``prepare_for_provider`` places grump's breakpoints (``grump.routing.breakpoints``)
with the TTL ``GRUMP_PROMPT_CACHE_TTL`` asks for (``auto``: from the session's
and the tenant's idle returns, ``grump.routing.cache_ttl``), and records the prefixes the request's
breakpoints close, grump's or the client's (``grump.routing.warm_prefixes``).
``warm_tokens_for`` reads those records back: the input tokens of a request
likely read from the provider's cache. Redis is a hint here: without it, or
when it fails, requests go out with 5-minute breakpoints and nothing recorded.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from grump.jobs.models import CompleteInput
from grump.routing.breakpoints import (
    TTL_SECONDS,
    Prefix,
    Ttl,
    breakpoint_indexes,
    cache_control,
    client_breakpoints,
    continues_session,
    has_cache_control,
    is_prompt_cached,
    mark,
    minimum_cacheable_tokens,
    prefixes,
)
from grump.routing.cache_ttl import choose_ttl
from grump.routing.warm_prefixes import (
    IdleStats,
    PrefixRecords,
    SeenPrefix,
    latest_seen,
    long_gaps_now,
    warm_tokens,
)

if TYPE_CHECKING:
    from grump.runtime import Runtime

log = logging.getLogger(__name__)


def prepare_for_provider(
    runtime: Runtime,
    model: str,
    payload: CompleteInput,
    tenant: str = "",
    now: float | None = None,
) -> CompleteInput:
    """``payload`` as it should go to ``model``: with grump's breakpoints when it qualifies.

    Unchanged for a model without a prompt cache, for a request whose client
    sent breakpoints (those are recorded as sent), with
    ``GRUMP_PROMPT_CACHE_BREAKPOINTS`` off, or when no prefix is long enough.
    ``now`` is seconds since the epoch (UTC); the clock when None.
    """
    price = runtime.catalogue.price(model)
    client_sent = has_cache_control(payload)
    if not is_prompt_cached(price) or not (
        client_sent or runtime.settings.prompt_cache_breakpoints
    ):
        return payload
    at = time.time() if now is None else now
    cuts = prefixes(model, payload)
    records = _records(runtime)
    seen, stats = _read(records, tenant, cuts, at)
    session = continues_session(payload)
    # Where this session left off: its own turns, not the tools and system other sessions share.
    turns = [c for c in cuts if c.index >= 0 and payload.messages[c.index].role != "system"]
    previous = latest_seen(turns, seen) if session else None
    gaps = long_gaps_now(previous, at)
    minimum = minimum_cacheable_tokens(model)
    if client_sent:
        sent, prepared = client_breakpoints(payload), payload
    else:
        ttl = choose_ttl(runtime.settings.prompt_cache_ttl, price, stats.expected_long_gaps())
        indexes = breakpoint_indexes(payload, minimum)
        sent = [(index, ttl) for index in indexes]
        prepared = mark(payload, indexes, cache_control(ttl)) if indexes else payload
    by_index = {cut.index: cut for cut in cuts}
    fresh = {
        by_index[i]: SeenPrefix(at, TTL_SECONDS[ttl], by_index[i].tokens, gaps)
        for i, ttl in sent
        if by_index[i].tokens >= minimum
    }
    _refresh_read(fresh, cuts, seen, at, gaps)
    long_gap = previous is not None and gaps > previous.long_gaps
    _record(records, tenant, fresh, at, new_session=not session, long_gap=long_gap)
    return prepared


def warm_tokens_for(
    runtime: Runtime, model: str, payload: CompleteInput, tenant: str = "", now: float | None = None
) -> int:
    """How many input tokens of ``payload`` on ``model`` are likely read from Anthropic's cache.

    0 for a model without a prompt cache, without Redis, or when Redis fails.
    """
    if not is_prompt_cached(runtime.catalogue.price(model)):
        return 0
    cuts = prefixes(model, payload)
    seen = _lookup(_records(runtime), tenant, cuts)
    return warm_tokens(cuts, seen, time.time() if now is None else now)


def _refresh_read(
    fresh: dict[Prefix, SeenPrefix],
    cuts: list[Prefix],
    seen: dict[str, SeenPrefix],
    at: float,
    gaps: int,
) -> None:
    """A read refreshes the entry it read: the longest warm cut not written anew is sent again."""
    if not fresh:
        return
    for cut in reversed(cuts):
        found = seen.get(cut.digest)
        if found is not None and found.warm(at) and cut.tokens <= max(c.tokens for c in fresh):
            fresh.setdefault(cut, SeenPrefix(at, found.ttl_seconds, cut.tokens, gaps))
            return


def _records(runtime: Runtime) -> PrefixRecords | None:
    client = runtime.redis
    return None if client is None else PrefixRecords(client)


def _read(
    records: PrefixRecords | None, tenant: str, cuts: list[Prefix], now: float
) -> tuple[dict[str, SeenPrefix], IdleStats]:
    if records is None:
        return {}, IdleStats()
    try:
        return records.lookup(tenant, cuts), records.idle_stats(tenant, now)
    except RedisError as exc:
        log.warning("prompt-cache records unreadable (%s): treating every prefix as cold", exc)
        return {}, IdleStats()


def _lookup(
    records: PrefixRecords | None, tenant: str, cuts: list[Prefix]
) -> dict[str, SeenPrefix]:
    if records is None:
        return {}
    try:
        return records.lookup(tenant, cuts)
    except RedisError as exc:
        log.warning("prompt-cache records unreadable (%s): treating every prefix as cold", exc)
        return {}


def _record(
    records: PrefixRecords | None,
    tenant: str,
    fresh: dict[Prefix, SeenPrefix],
    now: float,
    *,
    new_session: bool,
    long_gap: bool,
) -> None:
    if records is None:
        return
    try:
        records.record(tenant, fresh, now, new_session=new_session, long_gap=long_gap)
    except RedisError as exc:
        log.warning("prompt-cache records not written (%s)", exc)


__all__ = ["Ttl", "prepare_for_provider", "warm_tokens_for"]
