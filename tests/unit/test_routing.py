"""Complexity scores and routing decisions for ``complete`` jobs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grump.errors import BudgetExceeded, UnknownModel, ValidationFailed
from grump.jobs.models import CompleteInput, Message, Outcome, Tier
from grump.routing.complexity import complexity, complexity_breakdown
from grump.routing.policy import RoutingPolicy, route, task_score
from grump.routing.pricing import ModelPrice, PriceCatalogue, estimate_max_cost
from grump.settings import Settings

ECONOMY = "test/economy"
PREMIUM = "test/premium"
CATALOGUE = PriceCatalogue(
    {
        ECONOMY: ModelPrice(ECONOMY, "nim", "chat", "economy", Decimal("0.60"), Decimal("0.60")),
        PREMIUM: ModelPrice(
            PREMIUM, "anthropic", "chat", "premium", Decimal("3"), Decimal("15"), Decimal("0.30")
        ),
        "test/embed": ModelPrice("test/embed", "nim", "embed", "gpu", Decimal("0.02"), Decimal(0)),
        "test/untiered": ModelPrice("test/untiered", "x", "chat", "", Decimal(1), Decimal(1)),
    }
)
POLICY = RoutingPolicy(economy_model=ECONOMY, premium_model=PREMIUM)

TRIVIAL = "What is the capital of France?"
HARD = (
    "Design a distributed rate limiter for our API gateway. Discuss the trade-offs between "
    "token buckets and sliding windows, explain how it behaves under concurrency, then prove "
    "that no client can exceed its quota."
)


def ask(*contents: str, max_tokens: int = 512, model: str | None = None) -> CompleteInput:
    roles = ("user", "assistant")
    messages = [Message(role=roles[i % 2], content=c) for i, c in enumerate(contents)]
    return CompleteInput(messages=messages, max_tokens=max_tokens, model=model)


# complexity


def test_a_short_factual_question_scores_low() -> None:
    assert complexity(ask(TRIVIAL)) < 20


def test_a_design_question_with_reasoning_words_scores_premium() -> None:
    assert complexity(ask(HARD)) >= 60


@pytest.mark.parametrize(
    ("signal", "plain", "richer"),
    [
        ("length", "Summarise this.", "Summarise this. " + "Plain words here. " * 400),
        ("code", "Fix the bug.", "Fix the bug.\n```python\nx = 1\n```"),
        ("steps", "Clean the data.", "Steps:\n1. Load the data\n2. Clean it\n3. Save it"),
        ("steps", "Load the data.", "Load the data, then clean it, after that save it."),
        ("reasoning", "Write the function.", "Refactor the function."),
        ("reasoning", "Write the function.", "Optimise the function."),
        ("reasoning", "Write the function.", "Optimize the function."),
        ("reasoning", "Look at the service.", "Debug the distributed service."),
    ],
)
def test_each_signal_raises_its_points_and_the_score(signal: str, plain: str, richer: str) -> None:
    before, after = complexity_breakdown(ask(plain)), complexity_breakdown(ask(richer))
    assert after[signal] > before[signal]
    assert complexity(ask(richer)) > complexity(ask(plain))


def test_more_turns_score_higher() -> None:
    one = ask("Help me with my essay.")
    three = ask("Help me with my essay.", "Sure, paste it.", "Here it is.")
    assert complexity_breakdown(three)["turns"] > complexity_breakdown(one)["turns"] == 0


def test_a_system_message_is_not_a_turn() -> None:
    with_system = CompleteInput(
        messages=[Message(role="system", content="Be brief."), Message(role="user", content="Hi")]
    )
    assert complexity_breakdown(with_system)["turns"] == 0


def test_inflections_of_one_word_count_once() -> None:
    once = complexity_breakdown(ask("Design it."))["reasoning"]
    many = complexity_breakdown(ask("Design it. Designs, designing, redesign, designed."))
    assert many["reasoning"] == once > 0


@pytest.mark.parametrize(
    "text",
    [
        "Please improve the wording.",  # not "prove"
        "Authenticate the user.",  # not "then"
        "Use a formal tone.",  # formal style is not formal proof
        "Trade shares on Monday.",  # not "trade-off"
    ],
)
def test_words_inside_other_words_are_not_signals(text: str) -> None:
    breakdown = complexity_breakdown(ask(text))
    assert breakdown["reasoning"] == breakdown["steps"] == 0


def test_an_unclosed_code_fence_still_counts() -> None:
    assert complexity_breakdown(ask("```\nprint(1)"))["code"] > 0


def test_the_score_is_capped_at_100() -> None:
    words = "architecture refactor prove optimise debug design trade-off concurrency distributed"
    steps = "\n".join(f"{i}. then do step {i}" for i in range(1, 20))
    code = "```x```\n" * 5
    huge = ask(words, "ok", "go on", steps + code + "more text " * 4000, "and so on")
    assert complexity(huge) == 100


# Text made of the very pieces the signals look for, glued to random characters,
# so that appending can land next to (or inside) a signal word.
_pieces = st.sampled_from(
    ["then", "design", "prove", "improve", "trade-off", "step 2", "first,", "```", "\n1. ", "- "]
)
texts = st.lists(
    _pieces | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])),
    max_size=30,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(first=texts, extra=texts)
def test_adding_a_line_or_a_message_never_lowers_the_score(first: str, extra: str) -> None:
    base = complexity(ask(first))
    assert 0 <= base <= 100
    assert complexity(ask(first + "\n" + extra)) >= base
    assert complexity(ask(first, extra)) >= base


# estimate_max_cost


def test_max_cost_is_estimated_input_plus_max_tokens_at_output_price() -> None:
    # 40 characters -> 10 estimated tokens, + 4 per message = 14 tokens in.
    request = ask("abcd" * 10, max_tokens=100)
    expected = (Decimal(14) * Decimal(3) + Decimal(100) * Decimal(15)) / Decimal(1_000_000)
    assert estimate_max_cost(CATALOGUE.price(PREMIUM), request) == expected


def test_max_cost_grows_with_max_tokens() -> None:
    price = CATALOGUE.price(ECONOMY)
    assert estimate_max_cost(price, ask("hi", max_tokens=2000)) > estimate_max_cost(
        price, ask("hi", max_tokens=10)
    )


# route


def test_a_low_score_goes_economy() -> None:
    decision = route(ask(TRIVIAL), POLICY, CATALOGUE, budget_left=None)
    assert (decision.tier, decision.model, decision.reason) == (Tier.ECONOMY, ECONOMY, "score<60")
    assert (decision.scorer, decision.score) == task_score(ask(TRIVIAL), "learned")


def test_a_high_score_goes_premium() -> None:
    decision = route(ask(HARD), POLICY, CATALOGUE, budget_left=Decimal(10))
    assert (decision.tier, decision.model, decision.reason) == (Tier.PREMIUM, PREMIUM, "score>=60")


def test_the_threshold_is_inclusive_and_named_in_the_reason() -> None:
    score = task_score(ask(HARD), "learned")[1]
    at = RoutingPolicy(ECONOMY, PREMIUM, threshold=score)
    above = RoutingPolicy(ECONOMY, PREMIUM, threshold=score + 1)
    assert route(ask(HARD), at, CATALOGUE, budget_left=None).reason == f"score>={score}"
    assert route(ask(HARD), above, CATALOGUE, budget_left=None).reason == f"score<{score + 1}"


def test_premium_over_the_cost_cap_is_downgraded() -> None:
    request = ask(HARD, max_tokens=1000)  # premium: about $0.015, economy about $0.0006
    policy = RoutingPolicy(ECONOMY, PREMIUM, max_cost_per_request=Decimal("0.005"))
    decision = route(request, policy, CATALOGUE, budget_left=None)
    assert (decision.tier, decision.reason) == (Tier.ECONOMY, "downgraded:max_cost_per_request")


def test_premium_over_the_budget_left_is_downgraded() -> None:
    request = ask(HARD, max_tokens=1000)
    decision = route(request, POLICY, CATALOGUE, budget_left=Decimal("0.005"))
    assert (decision.tier, decision.model, decision.reason) == (
        Tier.ECONOMY,
        ECONOMY,
        "downgraded:budget",
    )


def test_a_request_even_economy_cannot_afford_is_refused() -> None:
    with pytest.raises(BudgetExceeded) as refused:
        route(ask(TRIVIAL, max_tokens=1000), POLICY, CATALOGUE, budget_left=Decimal("0.0001"))
    assert refused.value.details["model"] == ECONOMY


def test_an_exhausted_budget_refuses_everything() -> None:
    with pytest.raises(BudgetExceeded):
        route(ask(TRIVIAL), POLICY, CATALOGUE, budget_left=Decimal(0))


def test_economy_over_the_cost_cap_is_refused() -> None:
    policy = RoutingPolicy(ECONOMY, PREMIUM, max_cost_per_request=Decimal("0.0000001"))
    with pytest.raises(BudgetExceeded) as refused:
        route(ask(TRIVIAL), policy, CATALOGUE, budget_left=None)
    assert refused.value.details["limit_kind"] == "max_cost_per_request"


def test_a_pinned_model_skips_routing() -> None:
    decision = route(ask(TRIVIAL, model=PREMIUM), POLICY, CATALOGUE, budget_left=None)
    assert (decision.tier, decision.model, decision.reason) == (Tier.PREMIUM, PREMIUM, "pinned")
    pinned_cheap = route(ask(HARD, model=ECONOMY), POLICY, CATALOGUE, budget_left=None)
    assert (pinned_cheap.tier, pinned_cheap.reason) == (Tier.ECONOMY, "pinned")


def test_auto_routes_like_no_model() -> None:
    auto = route(ask(HARD, model="auto"), POLICY, CATALOGUE, budget_left=None)
    assert (auto.tier, auto.reason) == (Tier.PREMIUM, "score>=60")


def test_a_pinned_model_is_never_downgraded() -> None:
    with pytest.raises(BudgetExceeded):
        route(
            ask(TRIVIAL, model=PREMIUM, max_tokens=1000),
            POLICY,
            CATALOGUE,
            budget_left=Decimal("0.001"),
        )


def test_an_unknown_pinned_model_is_refused() -> None:
    with pytest.raises(UnknownModel) as refused:
        route(ask(TRIVIAL, model="nobody/model"), POLICY, CATALOGUE, budget_left=None)
    assert refused.value.details["field"] == "input.model"


@pytest.mark.parametrize("model", ["test/embed", "test/untiered"])
def test_a_pinned_model_must_be_a_chat_model_with_a_tier(model: str) -> None:
    with pytest.raises(ValidationFailed):
        route(ask(TRIVIAL, model=model), POLICY, CATALOGUE, budget_left=None)


def test_a_policy_model_missing_from_the_catalogue_names_the_setting() -> None:
    policy = RoutingPolicy(ECONOMY, "gone/model")
    with pytest.raises(UnknownModel) as refused:
        route(ask(HARD), policy, CATALOGUE, budget_left=None)
    assert refused.value.details["field"] == "routing.premium_model"


@pytest.mark.parametrize("threshold", [-1, 101])
def test_a_threshold_outside_0_to_100_is_rejected(threshold: int) -> None:
    with pytest.raises(ValueError, match="threshold"):
        RoutingPolicy(ECONOMY, PREMIUM, threshold=threshold)


def test_the_policy_comes_from_settings() -> None:
    settings = Settings(
        economy_model=ECONOMY,
        premium_model=PREMIUM,
        routing_threshold=42,
        max_cost_per_request=Decimal("0.5"),
    )
    assert RoutingPolicy.from_settings(settings) == RoutingPolicy(
        ECONOMY, PREMIUM, 42, Decimal("0.5")
    )


# routing savings: what a job records against its premium baseline


def outcome(cost: Decimal, baseline: Decimal, cache_savings: Decimal = Decimal(0)) -> Outcome:
    return Outcome({}, ECONOMY, "nim", 2000, 500, cost, baseline, cache_savings)


def test_routing_savings_are_baseline_minus_actual() -> None:
    baseline = CATALOGUE.price(PREMIUM).cost(2000, 500)
    actual = CATALOGUE.price(ECONOMY).cost(2000, 500)
    assert outcome(actual, baseline).routing_savings == Decimal("0.0135") - Decimal("0.0015")


def test_cache_savings_are_not_counted_again_as_routing_savings() -> None:
    assert outcome(Decimal(0), Decimal("0.01"), Decimal("0.01")).routing_savings == 0


def test_a_call_dearer_than_the_baseline_saved_nothing() -> None:
    assert outcome(Decimal("0.02"), Decimal("0.01")).routing_savings == 0
