"""The two baselines a job's cost is compared with, and how its saving splits by cause: pure.

Every cost event records two baselines for the requests it answered:

- ``baseline_cost``: the premium model, no cache: what a client that sends
  everything to the premium model with no ``cache_control`` would be billed;
- ``direct_baseline_cost``: the premium model with the client's own
  ``cache_control`` breakpoints, cache reads and writes priced as the provider
  bills them (a read at 0.1x input, a write at 1.25x, 2x with the 1-hour TTL):
  what the same client pays going direct today. A request that carried no
  breakpoint would go direct uncached, so its two baselines are equal.

When the job ran on the premium model with the client's breakpoints as sent,
its direct baseline is the call as billed at standard prices. Otherwise (another
model, an answer from grump's cache) the client's cached prefix is estimated:
the tokens up to its last breakpoint long enough to be cached, of which those the
same client sent direct within the TTL are read (``grump.routing.direct_prefixes``)
and the rest written.

The saving against ``baseline_cost`` splits into causes that add up to it:
the exact cache (``cache_savings``), coalescing (``coalescing_savings``: each
request that joined the job in flight reached no provider, so its whole
baseline), routing (the rest), the provider's prompt cache and the batch
discount. A parse job is no LLM work: both its baselines are its cost, and its
premium price is ``kept_off_llm``, the line of work kept off the LLM.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from grump.jobs.models import JobKind, Outcome
from grump.routing.direct_prefixes import ClientCaching
from grump.routing.pricing import ModelPrice, PriceCatalogue

ZERO = Decimal(0)


def direct_cost(
    premium: ModelPrice, tokens_in: int, tokens_out: int, caching: ClientCaching | None
) -> Decimal:
    """What ``tokens_in``/``tokens_out`` cost sent direct to ``premium`` with the client's breakpoints.

    None (no breakpoints): premium, uncached. The cached prefix never exceeds
    the input; its warm part is read, the rest written at ``caching.ttl``'s price.
    """
    if caching is None:
        return premium.cost(tokens_in, tokens_out)
    cached = max(0, min(caching.cached_tokens, tokens_in))
    read = max(0, min(caching.warm_tokens, cached))
    return premium.cost(
        tokens_in,
        tokens_out,
        cached_tokens_in=read,
        cache_write_tokens=cached - read,
        cache_write_ttl=caching.ttl,
    )


def with_direct(
    outcome: Outcome,
    caching: ClientCaching | None,
    catalogue: PriceCatalogue,
    premium_model: str,
    tokens: tuple[int, int] | None = None,
) -> Outcome:
    """``outcome`` with its direct baseline; unchanged when the request carried no breakpoint.

    A call the premium model answered was sent with the client's breakpoints as
    they came: its direct baseline is that call at standard prices (a batch's
    discount is grump's, not the client's), its writes priced as reads when the
    client's own prefix was all warm going direct (grump had sent it elsewhere).
    Anything else is estimated from ``caching`` on ``tokens`` (in, out; the
    outcome's own when None: a cache hit passes the call it replays).
    """
    if caching is None:
        return outcome
    premium = catalogue.price(premium_model)
    if not outcome.cached and catalogue.price(outcome.model).model == premium.model:
        read, write = outcome.tokens_cache_read, outcome.tokens_cache_write
        if caching.cached_tokens > 0 and caching.warm_tokens >= caching.cached_tokens:
            read, write = read + write, 0
        direct = premium.cost(
            outcome.tokens_in, outcome.tokens_out, cached_tokens_in=read, cache_write_tokens=write
        )
    else:
        tokens_in, tokens_out = tokens or (outcome.tokens_in, outcome.tokens_out)
        direct = direct_cost(premium, tokens_in, tokens_out, caching)
    return replace(outcome, direct_cost=direct)


@dataclass(frozen=True)
class EventMoney:
    """A cost event's baselines and the causes' parts that are not the call's own."""

    baseline_cost: Decimal
    direct_baseline_cost: Decimal
    routing_savings: Decimal
    coalescing_savings: Decimal
    kept_off_llm: Decimal


def event_money(kind: str, outcome: Outcome, joined: int = 0) -> EventMoney:
    """The event of a job that answered its own request and ``joined`` others coalesced onto it.

    Each joined request would have been sent on its own, at the same moment:
    going direct it is billed as the job's request is (a cache entry is only
    readable once the first response begins, so a parallel twin reads nothing
    of it), so both baselines count it once more, and its whole premium,
    uncached baseline is what coalescing saved.
    """
    served = 1 + max(0, joined)
    if kind == JobKind.PARSE.value:
        kept = served * max(ZERO, outcome.baseline_cost - outcome.cost)
        return EventMoney(outcome.cost, outcome.cost, ZERO, ZERO, kept)
    direct = outcome.baseline_cost if outcome.direct_cost is None else outcome.direct_cost
    return EventMoney(
        baseline_cost=served * outcome.baseline_cost,
        direct_baseline_cost=served * direct,
        routing_savings=outcome.routing_savings,
        coalescing_savings=(served - 1) * outcome.baseline_cost,
        kept_off_llm=ZERO,
    )
