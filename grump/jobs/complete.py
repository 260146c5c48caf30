"""What each kind of job does, given its input: pure of Celery and of the ledger.

Each function returns an ``Outcome``: the result, the tokens, what the work
cost and what it would have cost on the premium model with no cache (the
baseline that savings are measured against). Embed jobs run through the
cross-job batcher in ``grump.jobs.embed`` instead.
"""

from __future__ import annotations

import json

from grump.jobs.models import CompleteInput, ParseInput
from grump.jobs.rows import Outcome
from grump.providers.base import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    estimate_tokens,
)
from grump.routing.pricing import PARSER_MODEL, PriceCatalogue


def run_parse(payload: ParseInput, catalogue: PriceCatalogue, premium_model: str) -> Outcome:
    from grump.intent import parse_many  # the parser's tables load on the CPU tier only

    texts = payload.all_texts()
    intents = [intent.to_dict() for intent in parse_many(texts)]
    tokens_in = sum(estimate_tokens(t) for t in texts)
    tokens_out = estimate_tokens(json.dumps(intents))
    return Outcome(
        result={"intents": intents},
        model=PARSER_MODEL,
        provider="local",
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost=catalogue.price(PARSER_MODEL).cost(tokens_in, tokens_out),
        # What asking the premium model to extract the same intents would have cost.
        baseline_cost=catalogue.price(premium_model).cost(tokens_in, tokens_out),
    )


def run_complete(
    payload: CompleteInput,
    model: str,
    provider: ChatProvider,
    catalogue: PriceCatalogue,
    premium_model: str,
) -> Outcome:
    request = ChatRequest(
        model=model,
        messages=tuple(ChatMessage(m.role, m.content) for m in payload.messages),
        max_tokens=payload.max_tokens,
        temperature=payload.temperature,
    )
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
