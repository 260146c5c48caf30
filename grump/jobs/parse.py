"""A parse job: the intent parser on the CPU tier, priced as if the premium model had done it."""

from __future__ import annotations

import json

from grump.jobs.models import Outcome, ParseInput
from grump.providers.base import estimate_tokens
from grump.routing.pricing import PARSER_MODEL, PriceCatalogue


def run_parse(payload: ParseInput, catalogue: PriceCatalogue, premium_model: str) -> Outcome:
    """Parse every text of the job into an intent; no provider is called."""
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
