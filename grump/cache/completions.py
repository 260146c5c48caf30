"""The cache as complete jobs see it: answers in, answers out, and what a hit is worth.

A hit costs nothing; its saving is what the call would have cost on the model
that answered, and its tokens are not spent (the ledger records zero), so they
never count against a token budget. The answer keeps its original usage, so
callers still see how large it was.

The provider's prompt cache is the original call's business: the answer keeps
the cache tokens that call read and wrote, so the saving prices it exactly as
it was billed, but a hit records no cache tokens and no provider-cache saving
of its own. Its whole saving against the call is the cache's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from grump.cache.codec import CorruptEntry, decode, encode
from grump.cache.keys import completion_key
from grump.cache.tiered import TieredCache
from grump.jobs.models import CompleteInput, Outcome
from grump.routing.pricing import PriceCatalogue

log = logging.getLogger(__name__)
CACHE_PROVIDER = "cache"


@dataclass(frozen=True)
class CachedAnswer:
    """What the cache keeps of a complete job's answer: the result, who answered, and its usage.

    ``tokens_cache_read`` and ``tokens_cache_write`` are the part of
    ``tokens_in`` the provider's prompt cache took when the answer was made.
    """

    result: dict[str, Any]
    model: str
    provider: str
    tokens_in: int
    tokens_out: int
    tokens_cache_read: int = 0
    tokens_cache_write: int = 0

    @classmethod
    def of(cls, outcome: Outcome) -> CachedAnswer:
        """The part of a finished job's outcome worth caching."""
        return cls(
            outcome.result,
            outcome.model,
            outcome.provider,
            outcome.tokens_in,
            outcome.tokens_out,
            outcome.tokens_cache_read,
            outcome.tokens_cache_write,
        )

    def to_json(self) -> dict[str, Any]:
        """The answer as the JSON object stored in the cache."""
        return {
            "result": self.result,
            "model": self.model,
            "provider": self.provider,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_cache_read": self.tokens_cache_read,
            "tokens_cache_write": self.tokens_cache_write,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CachedAnswer:
        """The answer ``to_json`` stored; CorruptEntry when a field is missing or of the wrong type."""
        try:
            return cls(
                result=dict(data["result"]),
                model=str(data["model"]),
                provider=str(data["provider"]),
                tokens_in=int(data["tokens_in"]),
                tokens_out=int(data["tokens_out"]),
                # Entries cached before the prompt cache was recorded have neither.
                tokens_cache_read=int(data.get("tokens_cache_read", 0)),
                tokens_cache_write=int(data.get("tokens_cache_write", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptEntry(f"cache entry lacks {exc}") from exc


@dataclass(frozen=True)
class Lookup:
    """A cached answer and the tier it was found in."""

    answer: CachedAnswer
    tier: str


def hit_outcome(answer: CachedAnswer, catalogue: PriceCatalogue, premium_model: str) -> Outcome:
    """The ledger's view of a hit: cost 0, saving = the call it replaced, priced as it was billed.

    No prompt-cache tokens or provider-cache saving are recorded: the hit sent
    nothing to the provider, and the original call's were recorded with it.
    """
    would_cost = catalogue.price(answer.model).cost(
        answer.tokens_in,
        answer.tokens_out,
        cached_tokens_in=answer.tokens_cache_read,
        cache_write_tokens=answer.tokens_cache_write,
    )
    premium = catalogue.price(premium_model).cost(answer.tokens_in, answer.tokens_out)
    return Outcome(
        result={**answer.result, "cached": True},
        model=answer.model,
        provider=CACHE_PROVIDER,
        tokens_in=0,
        tokens_out=0,
        cost=Decimal(0),
        baseline_cost=max(premium, would_cost),
        cache_savings=would_cost,
        cached=True,
    )


class CompletionCache:
    """Complete jobs' answers in the tiered cache, keyed by tenant, model and request."""

    def __init__(self, tiered: TieredCache, compress_min_bytes: int) -> None:
        self.tiered = tiered
        self.compress_min_bytes = compress_min_bytes

    def lookup(self, tenant: str, model: str, payload: CompleteInput) -> Lookup | None:
        """The cached answer to this request on ``model``, or None (an unreadable entry is a miss)."""
        hit = self.tiered.get(completion_key(tenant, model, payload), kind="complete")
        if hit is None:
            return None
        try:
            return Lookup(CachedAnswer.from_json(decode(hit.value)), hit.tier)
        except CorruptEntry as exc:
            log.warning("ignoring an unreadable cache entry: %s", exc)
            return None

    def store(
        self,
        tenant: str,
        model: str,
        payload: CompleteInput,
        answer: CachedAnswer,
        only: Sequence[str] | None = None,
    ) -> None:
        """Cache an answer to this request on ``model``, in every tier or those named in ``only``."""
        value = encode(answer.to_json(), self.compress_min_bytes)
        self.tiered.set(completion_key(tenant, model, payload), value, only)

    def holds(
        self, tenant: str, model: str, payload: CompleteInput, only: Sequence[str] | None = None
    ) -> bool:
        """Whether a tier (of ``only``) has an answer to this request, without counting a hit."""
        return self.tiered.contains(completion_key(tenant, model, payload), only)
