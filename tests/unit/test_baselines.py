"""The two baselines a job is compared with, and how its saving splits by cause."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from grump.cache.completions import CachedAnswer, hit_outcome
from grump.jobs.batch_results import batch_outcome
from grump.jobs.models import CompleteInput, Outcome
from grump.money.baselines import direct_cost, event_money, with_direct
from grump.routing.direct_prefixes import ClientCaching, client_caching
from grump.routing.pricing import cache_savings, load_catalogue
from grump.runtime import Runtime
from grump.settings import Settings

CATALOGUE = load_catalogue()
PREMIUM = "claude-sonnet-4-5"
CLAUDE = CATALOGUE.price(PREMIUM)  # $3 in, $15 out, reads $0.30, writes $3.75 (5m) / $6 (1h)
KIMI = CATALOGUE.price("moonshotai/kimi-k2.5")
SYSTEM = "s" * 32_000  # 8,000 estimated tokens, 8,004 with the message's overhead


def with_breakpoint(ttl: str | None = None) -> CompleteInput:
    control = {"type": "ephemeral"} | ({"ttl": ttl} if ttl else {})
    part = {"type": "text", "text": SYSTEM, "cache_control": control}
    return CompleteInput.model_validate(
        {"messages": [{"role": "system", "content": [part]}, {"role": "user", "content": "q"}]}
    )


def test_a_request_without_breakpoints_goes_direct_uncached() -> None:
    assert direct_cost(CLAUDE, 10_000, 500, None) == CLAUDE.cost(10_000, 500) == Decimal("0.0375")


def test_client_breakpoints_price_the_cached_prefix_as_the_provider_bills_it() -> None:
    cold = ClientCaching(cached_tokens=8_000, warm_tokens=0)
    # 2,000 plain x $3 + 8,000 written x $3.75 + 500 out x $15: a first call costs more than uncached
    assert direct_cost(CLAUDE, 10_000, 500, cold) == Decimal("0.0435")
    warm = ClientCaching(8_000, 8_000)
    # 2,000 x $3 + 8,000 read x $0.30 + 500 x $15
    assert direct_cost(CLAUDE, 10_000, 500, warm) == Decimal("0.0159")
    part = ClientCaching(8_000, 5_000)  # 5,000 read, the 3,000 after them written
    assert direct_cost(CLAUDE, 10_000, 500, part) == Decimal("0.02625")
    hour = ClientCaching(8_000, 0, "1h")  # 8,000 written x $6
    assert direct_cost(CLAUDE, 10_000, 500, hour) == Decimal("0.0615")
    # The cached prefix never exceeds the input billed, nor the warm part the prefix.
    assert direct_cost(CLAUDE, 4_000, 0, ClientCaching(8_000, 9_000)) == Decimal("0.0012")


def claude_call(read: int, write: int) -> Outcome:
    return Outcome(
        result={},
        model=PREMIUM,
        provider="anthropic",
        tokens_in=10_000,
        tokens_out=500,
        cost=CLAUDE.cost(10_000, 500, read, write),
        baseline_cost=CLAUDE.cost(10_000, 500),
        tokens_cache_read=read,
        tokens_cache_write=write,
        provider_cache_savings=cache_savings(CLAUDE, read),
    )


def test_a_call_on_the_premium_model_with_the_clients_breakpoints_is_its_own_direct_bill() -> None:
    call = claude_call(read=6_000, write=2_000)
    priced = with_direct(call, ClientCaching(8_004, 6_000), CATALOGUE, PREMIUM)
    # 2,000 x $3 + 6,000 x $0.30 + 2,000 x $3.75 + 500 x $15: as billed
    assert priced.direct_cost == call.cost == Decimal("0.0228")
    # The client's own direct cache held all of it (grump had sent it elsewhere): read, not written.
    warm = with_direct(call, ClientCaching(8_004, 8_004), CATALOGUE, PREMIUM)
    assert warm.direct_cost == CLAUDE.cost(10_000, 500, 8_000, 0) == Decimal("0.0159")
    assert with_direct(call, None, CATALOGUE, PREMIUM).direct_cost is None


def test_another_model_is_compared_with_the_estimated_direct_call() -> None:
    economy = Outcome({}, KIMI.model, "nim", 10_000, 500, KIMI.cost(10_000, 500), Decimal("0.0375"))
    cold = with_direct(economy, ClientCaching(8_000, 0), CATALOGUE, PREMIUM)
    warm = with_direct(economy, ClientCaching(8_000, 8_000), CATALOGUE, PREMIUM)
    assert (cold.direct_cost, warm.direct_cost) == (Decimal("0.0435"), Decimal("0.0159"))
    # A warm session's short turn on economy can cost more than the cached premium call.
    long_turn = Outcome({}, KIMI.model, "nim", 20_000, 0, KIMI.cost(20_000), Decimal("0.06"))
    direct = with_direct(long_turn, ClientCaching(19_900, 19_900), CATALOGUE, PREMIUM).direct_cost
    assert direct == Decimal("0.00627")  # 100 x $3 + 19,900 x $0.30
    assert long_turn.cost > direct


def test_a_cache_hit_is_compared_with_the_call_it_replays_sent_direct() -> None:
    answer = CachedAnswer.of(claude_call(read=8_000, write=0))
    hit = hit_outcome(answer, CATALOGUE, PREMIUM)
    priced = with_direct(hit, ClientCaching(8_000, 8_000), CATALOGUE, PREMIUM, (10_000, 500))
    assert (priced.cost, priced.direct_cost, priced.baseline_cost) == (
        Decimal(0),
        Decimal("0.0159"),
        Decimal("0.0375"),
    )


def test_a_batched_call_goes_direct_at_standard_prices() -> None:
    data = {
        "id": "msg_1",
        "model": PREMIUM,
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 2_000,
            "output_tokens": 500,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 8_000,
        },
    }
    outcome = batch_outcome(data, PREMIUM, with_breakpoint(), CATALOGUE, PREMIUM)
    assert outcome.cost == Decimal("0.02175")  # half of 0.0435
    assert outcome.direct_cost == Decimal("0.0435")
    plain = CompleteInput.model_validate({"messages": [{"role": "user", "content": "q"}]})
    assert batch_outcome(data, PREMIUM, plain, CATALOGUE, PREMIUM).direct_cost is None


def test_coalesced_requests_count_in_both_baselines_and_coalescing_saved_theirs() -> None:
    call = Outcome({}, KIMI.model, "nim", 10_000, 500, Decimal("0.0066"), Decimal("0.0375"))
    call = with_direct(call, ClientCaching(8_000, 8_000), CATALOGUE, PREMIUM)
    money = event_money("complete", call, joined=3)
    assert money.baseline_cost == Decimal("0.15")  # four requests answered
    assert money.direct_baseline_cost == Decimal("0.0636")  # 4 x 0.0159
    assert money.coalescing_savings == Decimal("0.1125")  # the three joined requests' baselines
    assert money.routing_savings == call.routing_savings == Decimal("0.0309")
    assert money.baseline_cost - call.cost == money.coalescing_savings + money.routing_savings
    alone = event_money("complete", call)
    assert (alone.baseline_cost, alone.coalescing_savings) == (Decimal("0.0375"), 0)


def test_a_parse_job_is_work_kept_off_the_llm_not_in_either_baseline() -> None:
    parse = Outcome({}, "grump/intent-parser", "local", 1_000, 200, Decimal(0), Decimal("0.006"))
    money = event_money("parse", parse, joined=1)
    assert (money.baseline_cost, money.direct_baseline_cost, money.routing_savings) == (0, 0, 0)
    assert money.kept_off_llm == Decimal("0.012")


def test_without_redis_the_clients_prefix_is_taken_as_warm(tmp_path: Path) -> None:
    runtime = Runtime(Settings.model_validate({"data_dir": tmp_path}))
    try:
        caching = client_caching(runtime, with_breakpoint("1h"), "acme")
        plain = CompleteInput.model_validate({"messages": [{"role": "user", "content": "q"}]})
        assert client_caching(runtime, plain, "acme") is None
    finally:
        runtime.dispose()
    assert caching == ClientCaching(8_004, 8_004, "1h")
