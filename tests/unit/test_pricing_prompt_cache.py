"""Prompt-cache prices: the catalogue's figures, exact costs and savings, and reservations that hold."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from grump.jobs.models import CompleteInput, CompleteJobRequest, Message, Outcome
from grump.routing.pricing import (
    cache_savings,
    estimate_input_tokens,
    estimate_max_cost,
    estimate_reservation,
    load_catalogue,
    max_input_per_million,
)

CATALOGUE = load_catalogue()
CLAUDE = CATALOGUE.price("claude-sonnet-4-5")
KIMI = CATALOGUE.price("moonshotai/kimi-k2.5")
EPHEMERAL = {"type": "ephemeral"}


def test_every_anthropic_model_has_anthropics_published_cache_multipliers() -> None:
    anthropic = [CATALOGUE.price(m) for m in CATALOGUE.models() if m.startswith("claude")]
    assert anthropic and all(p.provider == "anthropic" for p in anthropic)
    for price in anthropic:
        base = price.input_per_million
        assert price.cache_write_per_million == base * Decimal("1.25")  # 5-minute TTL
        assert price.cache_write_long_per_million == base * 2  # 1-hour TTL
        assert price.cached_input_per_million == base * Decimal("0.1")
    assert (
        CLAUDE.cached_input_per_million,
        CLAUDE.cache_write_per_million,
        CLAUDE.cache_write_long_per_million,
    ) == (Decimal("0.30"), Decimal("3.75"), Decimal("6.00"))


def test_nim_has_no_cache_prices_so_its_input_is_ordinary_input() -> None:
    assert KIMI.cached_input_per_million is None and KIMI.cache_write_per_million is None
    assert KIMI.cost(1000, 0, cached_tokens_in=400, cache_write_tokens=600) == KIMI.cost(1000)
    assert cache_savings(KIMI, 400) == 0


def test_a_call_with_reads_and_writes_costs_what_it_was_billed_to_the_digit() -> None:
    # 10,000 tokens in: 2,000 read from the cache, 3,000 written to it, 5,000 plain; 500 out.
    # 5,000 x $3 + 2,000 x $0.30 + 3,000 x $3.75 + 500 x $15 = $34,350 per million calls.
    assert CLAUDE.cost(10_000, 500, 2_000, 3_000) == Decimal("0.0343500000")
    # The 1-hour TTL writes at $6: 15,000 + 600 + 18,000 + 7,500.
    assert CLAUDE.cost(10_000, 500, 2_000, 3_000, "1h") == Decimal("0.0411000000")
    # What the reads saved: 2,000 x ($3 - $0.30).
    assert cache_savings(CLAUDE, 2_000) == Decimal("0.0054000000")
    assert CLAUDE.cost(10_000, 500) - CLAUDE.cost(10_000, 500, 2_000) == cache_savings(
        CLAUDE, 2_000
    )
    assert cache_savings(CLAUDE, 0) == 0 and cache_savings(CLAUDE, 1) == Decimal("0.0000027000")


def test_routing_savings_leave_the_provider_caches_saving_to_it() -> None:
    outcome = Outcome(
        result={},
        model=CLAUDE.model,
        provider="anthropic",
        tokens_in=10_000,
        tokens_out=500,
        cost=CLAUDE.cost(10_000, 500, 9_000),  # 1,000 plain + 9,000 read
        baseline_cost=CLAUDE.cost(10_000, 500),
        tokens_cache_read=9_000,
        provider_cache_savings=cache_savings(CLAUDE, 9_000),
    )
    assert outcome.cost == Decimal("0.0132000000")  # 3,000 + 2,700 + 7,500
    assert outcome.provider_cache_savings == Decimal("0.0243000000")
    assert outcome.routing_savings == 0  # premium is the baseline: routing saved nothing
    assert outcome.cost + outcome.provider_cache_savings == outcome.baseline_cost


def test_the_catalogue_reads_cache_read_and_its_older_name_cached_input(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    entries = {
        "old/model": {"provider": "anthropic", "kind": "chat", "input": "1", "cached_input": "0.1"},
        "new/model": {
            "provider": "anthropic",
            "kind": "chat",
            "input": "1",
            "cache_read": "0.1",
            "cache_write": "1.25",
            "cache_write_1h": "2",
        },
    }
    override.write_text(json.dumps({"models": entries}))
    catalogue = load_catalogue(override)
    old, new = catalogue.price("old/model"), catalogue.price("new/model")
    assert old.cached_input_per_million == new.cached_input_per_million == Decimal("0.1")
    assert old.cache_write_per_million is None and max_input_per_million(old) == 1
    assert (new.cache_write_per_million, new.cache_write_long_per_million) == (
        Decimal("1.25"),
        Decimal(2),
    )


# Reservations


def _cached_request(text: str, max_tokens: int, tools: bool = False) -> CompleteInput:
    return CompleteInput(
        messages=[
            Message(role="system", content=text, cache_control=EPHEMERAL),
            Message(role="user", content="and now?"),
        ],
        max_tokens=max_tokens,
        model=CLAUDE.model,
        tools=[{"type": "function", "function": {"name": "grep", "parameters": {}}}]
        if tools
        else None,
    )


def test_a_claude_reservation_prices_input_as_a_one_hour_cache_write() -> None:
    request = _cached_request("abcd" * 250, max_tokens=100)  # 250 + 4, and 2 + 4 tokens in
    tokens_in = estimate_input_tokens(request)
    assert tokens_in == 260
    expected = (Decimal(260) * Decimal("6.00") + Decimal(100) * Decimal(15)) / 1_000_000
    assert estimate_max_cost(CLAUDE, request) == expected == Decimal("0.00306")
    job = CompleteJobRequest(kind="complete", input=request)
    assert estimate_reservation(CATALOGUE, job, CLAUDE.model) == expected
    # Kimi bills no cache writes: its input is reserved at the input price.
    assert estimate_max_cost(KIMI, request) == Decimal(260 + 100) * Decimal("0.60") / 1_000_000


def test_tool_definitions_count_as_input_in_the_estimate() -> None:
    bare, tooled = _cached_request("x", 10), _cached_request("x", 10, tools=True)
    assert estimate_input_tokens(tooled) > estimate_input_tokens(bare)
    assert estimate_max_cost(CLAUDE, tooled) > estimate_max_cost(CLAUDE, bare)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(min_size=1, max_size=2_000),
    max_tokens=st.integers(1, 4_096),
    split=st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(0, 100)),
    ttl=st.sampled_from(["5m", "1h"]),
    used_out=st.integers(0, 4_096),
)
def test_a_request_with_cache_control_never_overruns_its_reservation(
    text: str, max_tokens: int, split: tuple[int, int, int], ttl: str, used_out: int
) -> None:
    """However the provider splits the input between plain, read and written, the bill fits."""
    request = _cached_request(text, max_tokens)
    reserved = estimate_reservation(
        CATALOGUE, CompleteJobRequest(kind="complete", input=request), CLAUDE.model
    )
    tokens_in = estimate_input_tokens(request)
    weights = sum(split) or 1
    read = tokens_in * split[1] // weights
    written = tokens_in * split[2] // weights
    billed = CLAUDE.cost(
        tokens_in,
        min(used_out, max_tokens),
        cached_tokens_in=read,
        cache_write_tokens=written,
        cache_write_ttl="1h" if ttl == "1h" else "5m",
    )
    assert billed <= reserved
    # The dearest case is every input token written for an hour: exactly the reservation.
    assert CLAUDE.cost(tokens_in, max_tokens, 0, tokens_in, "1h") == reserved


def test_a_call_mixing_both_ttls_prices_each_part_at_its_rate() -> None:
    # 3,000 written: 1,000 for an hour ($6), 2,000 for five minutes ($3.75).
    mixed = CLAUDE.cost(10_000, 500, 2_000, 3_000, cache_write_long_tokens=1_000)
    assert mixed == Decimal("0.0366000000")  # 15,000 + 600 + 7,500 + 6,000 + 7,500
    assert CLAUDE.cost(10_000, 500, 2_000, 3_000, cache_write_long_tokens=0) == CLAUDE.cost(
        10_000, 500, 2_000, 3_000
    )
    assert CLAUDE.cost(10_000, 500, 2_000, 3_000, cache_write_long_tokens=3_000) == CLAUDE.cost(
        10_000, 500, 2_000, 3_000, "1h"
    )


def test_cache_tokens_beyond_tokens_in_never_make_plain_input_negative() -> None:
    # A caller that forgot to add the cache tokens into tokens_in is charged for them all.
    assert CLAUDE.cost(0, 0, 1_000, 1_000) == CLAUDE.cost(2_000, 0, 1_000, 1_000)
    assert CLAUDE.cost(0, 0, 1_000, 1_000) == Decimal("0.0040500000")  # 300 + 3,750


def test_an_answer_whose_writes_took_the_one_hour_ttl_is_priced_at_its_rate() -> None:
    # Anthropic splits its cache writes by TTL in usage.cache_creation; the 1-hour ones cost 2x.
    from grump.jobs.complete import price_answer
    from grump.providers.anthropic_answers import chat_result
    from grump.providers.base import ChatRequest

    request = ChatRequest(
        model="claude-sonnet-4-5",
        input=CompleteInput(messages=[Message(role="user", content="hi")], max_tokens=10),
    )
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 3000,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
        "output_tokens": 5,
    }
    answer = chat_result(
        request, content="ok", tool_calls=(), usage=usage, stop_reason="end_turn", model=None
    )
    outcome = price_answer(answer, "claude-sonnet-4-5", CATALOGUE, "claude-sonnet-4-5")
    # 10 x $3 + 1000 x $3.75 + 2000 x $6 + 5 x $15, per million.
    assert outcome.cost == Decimal("0.015855")
