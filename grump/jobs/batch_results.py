"""A Message Batch's result lines read as grump's outcomes and decisions: pure.

Each line is ``{"custom_id", "result": {"type": ...}}``: ``succeeded`` carries
a Messages answer, priced here at the batch price (cache reads and writes
included); ``errored`` carries an error, ``canceled`` and ``expired`` nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from grump.errors import ProviderError
from grump.jobs.complete import price_answer
from grump.jobs.models import CompleteInput, Outcome
from grump.money.baselines import with_direct
from grump.providers.anthropic_answers import parse_messages_response
from grump.providers.base import ChatRequest
from grump.routing.breakpoints import has_cache_control
from grump.routing.direct_prefixes import ClientCaching, cached_by_client
from grump.routing.pricing import PriceCatalogue

Verdict = Literal["answered", "retry", "refused"]


@dataclass(frozen=True)
class LineResult:
    """What one result line says of its job: an outcome, or why it has none."""

    verdict: Verdict
    outcome: Outcome | None = None
    error: str = ""


def batch_outcome(
    data: dict[str, Any],
    model: str,
    payload: CompleteInput,
    catalogue: PriceCatalogue,
    premium_model: str,
) -> Outcome:
    """A batch's Messages answer as the job's outcome, at the batch price.

    ``batch_savings`` is what the discount took off the call and off what its
    cache reads saved, so cost, provider-cache savings and batch savings still
    add up to the call at standard prices without the cache.
    """
    answer = parse_messages_response(data, ChatRequest(model=model, input=payload))
    full = price_answer(answer, model, catalogue, premium_model)
    price = catalogue.price(model)
    cost = price.batch_cost(full.cost)
    cache_saved = price.batch_cost(full.provider_cache_savings)
    saved = (full.cost - cost) + (full.provider_cache_savings - cache_saved)
    batched = replace(full, cost=cost, provider_cache_savings=cache_saved, batch_savings=saved)
    return with_direct(batched, _client_caching(payload, premium_model), catalogue, premium_model)


def _client_caching(payload: CompleteInput, premium_model: str) -> ClientCaching | None:
    """The client's breakpoints going direct, for a deferred request: nothing of it taken as warm.

    A deferred request (a review, a report) is seldom a session's next turn; beat
    keeps no direct prefix records (``grump.routing.direct_prefixes``).
    """
    if not has_cache_control(payload):
        return None
    marked = cached_by_client(premium_model, payload)
    if not marked:
        return ClientCaching(0, 0)
    last, ttl = max(marked, key=lambda item: item[0].tokens)
    return ClientCaching(last.tokens, 0, ttl)


def read_line(
    line: dict[str, Any],
    model: str,
    payload: CompleteInput,
    catalogue: PriceCatalogue,
    premium_model: str,
) -> LineResult:
    """One result line's verdict: answered, to retry as an ordinary job, or refused for good."""
    result = line.get("result") if isinstance(line.get("result"), dict) else {}
    assert isinstance(result, dict)
    kind = result.get("type")
    if kind == "succeeded" and isinstance(result.get("message"), dict):
        try:
            outcome = batch_outcome(result["message"], model, payload, catalogue, premium_model)
        except ProviderError as exc:
            return LineResult("retry", error=str(exc))
        return LineResult("answered", outcome)
    if kind == "errored":
        error = result.get("error") or {}
        inner = error.get("error", error) if isinstance(error, dict) else {}
        if not isinstance(inner, dict):
            inner = {}
        message = str(inner.get("message", "the batch request failed"))
        if inner.get("type") == "invalid_request_error":
            return LineResult("refused", error=message)  # the same request fails anywhere
        return LineResult("retry", error=message)
    return LineResult("retry", error=f"the batch request was {kind or 'lost'}")


def savings_note(outcome: Outcome, discount: Decimal | None) -> dict[str, str]:
    """What the job's routing decision says of its batch: the discount and what it saved."""
    return {"discount": str(discount or 0), "saved_usd": str(outcome.batch_savings)}
