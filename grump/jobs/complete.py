"""A complete job: the completion cache first, then the routed model, or the other tier's.

``call_provider`` sends one request and prices the answer; a job that asked to
stream is streamed from the provider, each delta written to the job's log as it
comes (``grump.jobs.deltas``), and is otherwise the same job: one answer, one
result, one cost. ``run_complete`` adds what a worker does around it: a cache
lookup, a fallback to the other tier when the routed provider is down (before
the first delta only: after it the caller has part of an answer, so the job
fails or retries as a whole), and storing the answer under the model that gave it.

A streamed job whose caller left (``GRUMP_STREAM_ON_DISCONNECT=cancel``) and that
no other caller joined stops between deltas: the provider's stream is closed and
``Cancelled`` carries what it billed: the whole input, as the provider reported it
when the stream began, and the output so far, counted by the provider's tokenizer
where it has one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from grump.cache.completions import CachedAnswer, hit_outcome
from grump.errors import ProviderError, ProviderTransient
from grump.jobs.deltas import DeltaWriter
from grump.jobs.models import Claimed, CompleteInput, Outcome
from grump.ledger.db import session_scope
from grump.ledger.models import Job
from grump.money.baselines import with_direct
from grump.money.holds import hold_at_least
from grump.providers.base import ChatDelta, ChatProvider, ChatRequest, ChatResult, estimate_tokens
from grump.providers.registry import fallback_model, is_rate_limited
from grump.routing.direct_prefixes import client_caching
from grump.routing.pricing import MESSAGE_OVERHEAD_TOKENS, PriceCatalogue, estimate_max_cost
from grump.routing.prompt_cache import prepare_for_provider
from grump.runtime import Runtime

log = logging.getLogger(__name__)
_NO_COUNT = (ProviderTransient, ProviderError)  # a token count that failed: estimate instead


class Cancelled(Exception):
    """A streamed job stopped because its caller left: ``outcome`` is what the provider billed."""

    def __init__(self, outcome: Outcome, deltas: int) -> None:
        super().__init__(f"cancelled after {deltas} deltas")
        self.outcome = outcome
        self.deltas = deltas


def result_of(answer: ChatResult) -> dict[str, Any]:
    """A provider's answer as the job's result (the shape every front door reads)."""
    result: dict[str, Any] = {
        "content": answer.content,
        "model": answer.model,
        "finish_reason": answer.finish_reason,
        "usage": {
            "prompt_tokens": answer.tokens_in,
            "completion_tokens": answer.tokens_out,
            "cache_read_input_tokens": answer.tokens_cache_read,
            "cache_creation_input_tokens": answer.tokens_cache_write,
        },
    }
    if answer.tool_calls:
        result["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in answer.tool_calls
        ]
    return result


def price_answer(
    answer: ChatResult, model: str, catalogue: PriceCatalogue, premium_model: str
) -> Outcome:
    """The outcome of an answer: its cost (prompt-cache reads and writes at their prices), its baseline
    (the premium model at full input price) and what the cache reads saved."""
    price = catalogue.price(model)
    read, write = answer.tokens_cache_read, answer.tokens_cache_write
    cost = price.cost(
        answer.tokens_in,
        answer.tokens_out,
        cached_tokens_in=read,
        cache_write_tokens=write,
        cache_write_long_tokens=answer.tokens_cache_write_1h,
    )
    baseline = catalogue.price(premium_model).cost(answer.tokens_in, answer.tokens_out)
    saved = price.cost(read) - price.cost(read, cached_tokens_in=read)
    return Outcome(
        result=result_of(answer),
        model=model,
        provider=answer.provider,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        cost=cost,
        baseline_cost=max(baseline, cost),
        tokens_cache_read=read,
        tokens_cache_write=write,
        provider_cache_savings=max(Decimal(0), saved),
    )


def call_provider(
    payload: CompleteInput,
    model: str,
    provider: ChatProvider,
    catalogue: PriceCatalogue,
    premium_model: str,
    writer: DeltaWriter | None = None,
) -> Outcome:
    """Send the request to ``provider`` (streamed into ``writer`` when given) and price its answer."""
    request = ChatRequest(model=model, input=payload)
    if writer is None:
        answer = provider.complete(request)
    else:
        answer = _streamed(provider, request, writer, catalogue, premium_model)
    return price_answer(answer, model, catalogue, premium_model)


def _streamed(
    provider: ChatProvider,
    request: ChatRequest,
    writer: DeltaWriter,
    catalogue: PriceCatalogue,
    premium_model: str,
) -> ChatResult:
    """The provider's stream written to the log as it comes; its closing answer."""
    items: Iterator[ChatDelta | ChatResult] = provider.stream(request)
    given: list[ChatDelta] = []
    try:
        for item in items:
            if isinstance(item, ChatResult):
                return item
            writer.add(item)
            given.append(item)
            if writer.cancel_requested and writer.may_cancel():
                break
        else:
            raise ProviderError(f"{provider.name}: the stream ended without its answer")
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # an early close closes the upstream connection
        writer.flush()
    # Priced once the provider's stream is closed: it bills what it made until then.
    partial = _partial(request, given, provider)
    raise Cancelled(price_answer(partial, request.model, catalogue, premium_model), len(given))


def _partial(request: ChatRequest, given: list[ChatDelta], provider: ChatProvider) -> ChatResult:
    """What a stream cut short was billed: its whole input, the output it produced so far.

    The input is the provider's own report when it sent one before the answer
    (Anthropic's ``message_start``: cache reads and writes included), else
    grump's estimate. The output is counted by the provider's tokenizer when it
    has a counting endpoint, else estimated.
    """
    text = "".join(d.text for d in given)
    arguments = "".join(d.tool_arguments + (d.tool_name or "") for d in given)
    reported = next((d.input_usage for d in given if d.input_usage is not None), None)
    if reported is not None:
        uncached, read, write, long_write = reported
    else:
        uncached = sum(
            estimate_tokens(m.text()) + MESSAGE_OVERHEAD_TOKENS for m in request.messages
        )
        read = write = long_write = 0
    return ChatResult(
        content=text,
        model=request.model,
        tokens_in=uncached + read + write,
        tokens_out=_output_tokens(provider, request.model, text + arguments),
        finish_reason="cancelled",
        provider=provider.name,
        tokens_cache_read=read,
        tokens_cache_write=write,
        tokens_cache_write_1h=long_write,
    )


def _output_tokens(provider: ChatProvider, model: str, produced: str) -> int:
    """The tokens of the output a cancelled stream produced, by the provider's count if it has one."""
    if not produced:
        return 0
    count = getattr(getattr(provider, "inner", provider), "count_tokens", None)
    if count is not None:
        try:
            return int(count(model, produced))
        except _NO_COUNT:
            log.warning("%s: no token count for a cancelled stream; estimated", provider.name)
    return estimate_tokens(produced)


def _writer(runtime: Runtime, job: Claimed) -> DeltaWriter:
    """The log writer of this run of a streamed job, its attempt marked."""
    flush = runtime.settings.stream_flush_ms / 1000
    writer = DeltaWriter(runtime.delta_log, job.id, flush, lambda: _may_cancel(runtime, job))
    leases = runtime.leases
    writer.begin(leases.claimer if leases is not None else "")
    return writer


def _may_cancel(runtime: Runtime, job: Claimed) -> bool:
    """Whether the job may stop for its departed caller: no other caller joined it."""
    with session_scope(runtime.sessions) as session:
        joined = session.scalar(select(Job.coalesced_count).where(Job.id == job.id))
    if joined:
        log.info("job %s: its caller left, but %d others joined it; it runs on", job.id, joined)
        runtime.delta_log.forget_cancel(job.id)
        return False
    return True


def run_complete(runtime: Runtime, job: Claimed) -> Outcome:
    """Answer a claimed complete job: from the cache, else from a provider, then cache it."""
    settings = runtime.settings
    payload = CompleteInput.model_validate(job.input)
    model = job.model or settings.economy_model
    writer = _writer(runtime, job) if payload.stream else None
    catalogue, premium = runtime.catalogue, settings.premium_model
    # Before the cache: a client going direct would have sent this request too.
    caching = client_caching(runtime, payload, job.tenant)
    cache = runtime.completion_cache
    if cache is not None:
        found = cache.lookup(job.tenant, model, payload)
        if found is not None:
            hit, replayed = found.answer, (found.answer.tokens_in, found.answer.tokens_out)
            return with_direct(
                hit_outcome(hit, catalogue, premium), caching, catalogue, premium, replayed
            )
    if writer is not None and writer.cancel_requested and writer.may_cancel():
        raise Cancelled(_nothing(runtime, model), 0)  # the caller left before it ran
    try:
        outcome = _call_with_fallback(runtime, job, payload, model, writer)
    except Cancelled as stopped:  # billed for what it sent: compared with the same going direct
        stopped.outcome = with_direct(stopped.outcome, caching, catalogue, premium)
        raise
    if cache is not None:
        # Under the model that answered: a fallback answer never serves the routed model.
        cache.store(job.tenant, outcome.model, payload, CachedAnswer.of(outcome))
    return with_direct(outcome, caching, catalogue, premium)


def _nothing(runtime: Runtime, model: str) -> Outcome:
    """The outcome of a job stopped before any provider call: nothing billed."""
    zero = Decimal(0)
    result = {"content": "", "model": model, "finish_reason": "cancelled"}
    return Outcome(result, model, runtime.chat(model).name, 0, 0, zero, zero)


def _fallback_for(runtime: Runtime, job: Claimed, payload: CompleteInput, model: str) -> str | None:
    """The other tier's model when this job may fall back to it, else None."""
    if job.routing is None or job.routing.get("reason") == "pinned":
        return None  # the caller chose the model: running another would not be what was asked
    other = fallback_model(model, runtime.catalogue, runtime.settings)
    if other is None:
        return None
    most = estimate_max_cost(runtime.catalogue.price(other), payload)
    cap = runtime.settings.max_cost_per_request
    if cap is not None and most > cap:
        return None
    # The job reserved for the model it was routed to; the other may cost more. It
    # falls back only once its budgets hold that much too: no fallback overruns one.
    with session_scope(runtime.sessions) as session:
        if not hold_at_least(session, job.id, most):
            log.warning("job %s: no fallback to %s, its budget cannot hold %s", job.id, other, most)
            return None
    return other


def _call_with_fallback(
    runtime: Runtime,
    job: Claimed,
    payload: CompleteInput,
    model: str,
    writer: DeltaWriter | None,
) -> Outcome:
    settings, catalogue = runtime.settings, runtime.catalogue
    premium = settings.premium_model
    try:
        # Claude gets grump's prompt-cache breakpoints when the client sent none; the
        # completion cache and the ledger keep the request as the client sent it.
        sent = prepare_for_provider(runtime, model, payload, job.tenant)
        return call_provider(sent, model, runtime.chat(model), catalogue, premium, writer)
    except ProviderTransient as exc:
        if writer is not None and writer.sent:
            raise  # part of an answer went out: the job runs again whole, on its own model
        other = None if is_rate_limited(exc) else _fallback_for(runtime, job, payload, model)
        if other is None:
            raise
        log.warning("job %s: %s is down (%s); falling back to %s", job.id, model, exc, other)
        sent = prepare_for_provider(runtime, other, payload, job.tenant)
        outcome = call_provider(sent, other, runtime.chat(other), catalogue, premium, writer)
    routing = {**(job.routing or {}), "model": other, "reason": f"fallback:{model}"}
    tier = catalogue.price(other).tier
    return replace(outcome, tier=tier, routing={**routing, "tier": tier})
