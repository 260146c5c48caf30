"""What a call is expected to cost on a route, with what is warm in the provider's cache.

Routing compares these figures between the economy and the premium model for
easy work (hard work goes premium whatever it costs). Unlike
``estimate_max_cost``, which a budget holds, this is the likely bill: the warm
input at the cache-read price, the rest of the input at the cache-write price
where the model has one (grump's breakpoints write the new tail for the next
turn) or at the input price, and ``EXPECTED_OUTPUT_TOKENS`` out (at most
``max_tokens``). Pure: the warm-token count is read by the caller.
"""

from __future__ import annotations

from decimal import Decimal

from grump.jobs.models import CompleteInput
from grump.routing.pricing import ModelPrice, estimate_input_tokens

# A typical answer to easy work (a rename, a lookup, a short edit) is a few hundred tokens.
EXPECTED_OUTPUT_TOKENS = 256


def expected_output_tokens(request: CompleteInput) -> int:
    """The output a request is expected to produce: ``EXPECTED_OUTPUT_TOKENS``, capped."""
    return min(request.max_tokens, EXPECTED_OUTPUT_TOKENS)


def expected_cost(price: ModelPrice, request: CompleteInput, warm_tokens: int = 0) -> Decimal:
    """The likely cost of ``request`` on ``price``'s model, ``warm_tokens`` read from its cache.

    Warm tokens count only on a model that prices cache reads; they never exceed the input.
    """
    tokens_in = estimate_input_tokens(request)
    cached = price.cached_input_per_million is not None
    warm = max(0, min(warm_tokens, tokens_in)) if cached else 0
    writes = tokens_in - warm if cached and price.cache_write_per_million is not None else 0
    return price.cost(
        tokens_in,
        expected_output_tokens(request),
        cached_tokens_in=warm,
        cache_write_tokens=writes,
    )
