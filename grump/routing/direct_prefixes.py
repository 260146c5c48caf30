"""What a client's own breakpoints would have Anthropic cache had the client sent everything direct.

The direct baseline (``grump.money.baselines``) prices a request that carries
``cache_control`` as the premium model would bill it from that client: the prefix
up to its last breakpoint read when the client sent it within the breakpoint's
TTL, written otherwise. grump routes such requests anywhere and answers some from
its own cache, so its prefix records (``grump.routing.warm_prefixes``) do not say
what the client's direct cache would hold. A second set does: every request
with breakpoints of its own records the prefixes they close, on the premium
model, when a worker takes it up (``grump:pcache-direct:<tenant>:<hash>``),
wherever it then goes.

Without Redis, or when it fails, the prefix is taken as warm: the direct
baseline is then the lowest the client could have paid, never an overstatement
of what grump saved against it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from grump.jobs.models import CompleteInput
from grump.routing.breakpoints import (
    TTL_SECONDS,
    Prefix,
    Ttl,
    client_breakpoints,
    has_cache_control,
    is_prompt_cached,
    minimum_cacheable_tokens,
    prefixes,
)
from grump.routing.warm_prefixes import PrefixRecords, SeenPrefix, warm_tokens

if TYPE_CHECKING:
    from grump.runtime import Runtime

log = logging.getLogger(__name__)

DIRECT_KEY_PREFIX = "grump:pcache-direct"


@dataclass(frozen=True)
class ClientCaching:
    """What a request's own breakpoints would have the premium model cache, going direct.

    ``cached_tokens``: the prefix up to its last breakpoint that reaches the
    model's minimum cacheable length; ``warm_tokens``: how much of it the same
    client sent direct within its TTL (read, the rest written); ``ttl``: the
    TTL the writes take.
    """

    cached_tokens: int
    warm_tokens: int
    ttl: Ttl = "5m"


def cached_by_client(model: str, payload: CompleteInput) -> list[tuple[Prefix, Ttl]]:
    """The prefixes the client's breakpoints close on ``model`` that are long enough to be cached."""
    cuts = {cut.index: cut for cut in prefixes(model, payload)}
    minimum = minimum_cacheable_tokens(model)
    return [
        (cuts[index], ttl)
        for index, ttl in client_breakpoints(payload)
        if index in cuts and cuts[index].tokens >= minimum
    ]


def client_caching(
    runtime: Runtime, payload: CompleteInput, tenant: str, now: float | None = None
) -> ClientCaching | None:
    """The request's caching going direct to the premium model; None when it carries no breakpoint.

    Records the request's breakpoints as sent direct at ``now`` (seconds since
    the epoch, UTC; the clock when None), after reading what was warm before it.
    """
    premium = runtime.settings.premium_model
    if not has_cache_control(payload) or not is_prompt_cached(runtime.catalogue.price(premium)):
        return None
    marked = cached_by_client(premium, payload)
    if not marked:
        return ClientCaching(0, 0)  # every breakpoint closes too short a prefix: nothing cached
    last, ttl = max(marked, key=lambda item: item[0].tokens)
    assumed = ClientCaching(last.tokens, last.tokens, ttl)
    if runtime.redis is None:
        return assumed
    at = time.time() if now is None else now
    records = PrefixRecords(runtime.redis, key_prefix=DIRECT_KEY_PREFIX)
    cuts = prefixes(premium, payload)
    try:
        seen = records.lookup(tenant, cuts)
        sent = {cut: SeenPrefix(at, TTL_SECONDS[cut_ttl], cut.tokens) for cut, cut_ttl in marked}
        records.record(tenant, sent, at)
    except RedisError as exc:
        log.warning("direct prefix records unusable (%s): the client's prefix taken as warm", exc)
        return assumed
    return ClientCaching(last.tokens, min(warm_tokens(cuts, seen, at), last.tokens), ttl)
