"""A complete job: the completion cache first, then the routed model, or the other tier's.

``call_provider`` is pure of the ledger: it sends one request and prices the
answer. ``run_complete`` adds what a worker does around it: a cache lookup, a
fallback to the other tier when the routed provider is down, and storing the
answer under the model that gave it.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from grump.cache.completions import CachedAnswer, hit_outcome
from grump.errors import ProviderTransient
from grump.jobs.models import Claimed, CompleteInput, Outcome
from grump.providers.base import ChatProvider, ChatRequest
from grump.providers.registry import fallback_model, is_rate_limited
from grump.routing.pricing import PriceCatalogue, estimate_max_cost
from grump.runtime import Runtime

log = logging.getLogger(__name__)


def call_provider(
    payload: CompleteInput,
    model: str,
    provider: ChatProvider,
    catalogue: PriceCatalogue,
    premium_model: str,
) -> Outcome:
    """Send the request to ``provider`` and price its answer against the premium baseline."""
    request = ChatRequest(model=model, input=payload)
    answer = provider.complete(request)
    cost = catalogue.price(model).cost(answer.tokens_in, answer.tokens_out)
    baseline = catalogue.price(premium_model).cost(answer.tokens_in, answer.tokens_out)
    return Outcome(
        result={
            "content": answer.content,
            "model": answer.model,
            "finish_reason": answer.finish_reason,
            "usage": {"prompt_tokens": answer.tokens_in, "completion_tokens": answer.tokens_out},
        },
        model=model,
        provider=answer.provider,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        cost=cost,
        baseline_cost=max(baseline, cost),
    )


def run_complete(runtime: Runtime, job: Claimed) -> Outcome:
    """Answer a claimed complete job: from the cache, else from a provider, then cache it."""
    settings = runtime.settings
    payload = CompleteInput.model_validate(job.input)
    model = job.model or settings.economy_model
    cache = runtime.completion_cache
    if cache is not None:
        found = cache.lookup(job.tenant, model, payload)
        if found is not None:
            return hit_outcome(found.answer, runtime.catalogue, settings.premium_model)
    outcome = _call_with_fallback(runtime, job, payload, model)
    if cache is not None:
        # Under the model that answered: a fallback answer never serves the routed model.
        cache.store(job.tenant, outcome.model, payload, CachedAnswer.of(outcome))
    return outcome


def _fallback_for(runtime: Runtime, job: Claimed, payload: CompleteInput, model: str) -> str | None:
    """The other tier's model when this job may fall back to it, else None."""
    if job.routing is None or job.routing.get("reason") == "pinned":
        return None  # the caller chose the model: running another would not be what was asked
    other = fallback_model(model, runtime.catalogue, runtime.settings)
    cap = runtime.settings.max_cost_per_request
    if other is None or (
        cap is not None and estimate_max_cost(runtime.catalogue.price(other), payload) > cap
    ):
        return None
    return other


def _call_with_fallback(
    runtime: Runtime, job: Claimed, payload: CompleteInput, model: str
) -> Outcome:
    settings, catalogue = runtime.settings, runtime.catalogue
    try:
        return call_provider(payload, model, runtime.chat(model), catalogue, settings.premium_model)
    except ProviderTransient as exc:
        other = None if is_rate_limited(exc) else _fallback_for(runtime, job, payload, model)
        if other is None:
            raise
        log.warning("job %s: %s is down (%s); falling back to %s", job.id, model, exc, other)
        outcome = call_provider(
            payload, other, runtime.chat(other), catalogue, settings.premium_model
        )
    routing = {**(job.routing or {}), "model": other, "reason": f"fallback:{model}"}
    tier = catalogue.price(other).tier
    return replace(outcome, tier=tier, routing={**routing, "tier": tier})
