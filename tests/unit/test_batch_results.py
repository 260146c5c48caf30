"""A Message Batch's result lines: answered at the batch price, retried, or refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from grump.jobs.batch_results import read_line
from grump.jobs.models import CompleteInput
from grump.routing.pricing import load_catalogue

CATALOGUE = load_catalogue()
CLAUDE = "claude-sonnet-4-5"
PAYLOAD = CompleteInput.model_validate({"messages": [{"role": "user", "content": "hi"}]})


def _read(result: dict[str, Any]) -> Any:
    return read_line({"custom_id": "j", "result": result}, CLAUDE, PAYLOAD, CATALOGUE, CLAUDE)


def test_a_succeeded_line_is_priced_at_half_with_its_cache_tokens() -> None:
    usage = {
        "input_tokens": 1000,
        "cache_read_input_tokens": 20_000,
        "cache_creation_input_tokens": 3000,
        "output_tokens": 500,
    }
    message = {
        "content": [{"type": "text", "text": "ok"}],
        "model": CLAUDE,
        "stop_reason": "end_turn",
        "usage": usage,
    }
    read = _read({"type": "succeeded", "message": message})
    assert read.verdict == "answered" and read.outcome is not None
    price = CATALOGUE.price(CLAUDE)
    standard = price.cost(24_000, 500, 20_000, 3000)
    outcome = read.outcome
    assert outcome.cost == standard / 2 and outcome.tokens_cache_read == 20_000
    # cost + what caching saved + what the discount saved = the call at list price, no cache
    uncached_reads = standard + price.cost(20_000) - price.cost(20_000, cached_tokens_in=20_000)
    total = outcome.cost + outcome.provider_cache_savings + outcome.batch_savings
    assert total == uncached_reads
    assert outcome.routing_savings == Decimal(0)
    assert outcome.result["usage"]["prompt_tokens"] == 24_000


@pytest.mark.parametrize(
    ("result", "verdict"),
    [
        ({"type": "expired"}, "retry"),
        ({"type": "canceled"}, "retry"),
        ({"type": "errored", "error": {"type": "error", "error": {"type": "api_error"}}}, "retry"),
        (
            {
                "type": "errored",
                "error": {"type": "error", "error": {"type": "invalid_request_error"}},
            },
            "refused",
        ),
        ({"type": "succeeded", "message": {"content": "not blocks"}}, "retry"),
    ],
)
def test_other_lines(result: dict[str, Any], verdict: str) -> None:
    assert _read(result).verdict == verdict
