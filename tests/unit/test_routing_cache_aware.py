"""Easy work priced on each route with the premium model's warm prompt cache."""

from __future__ import annotations

from decimal import Decimal

from grump.jobs.models import CompleteInput, Message, Tier
from grump.routing.policy import RoutingPolicy, route
from grump.routing.pricing import estimate_input_tokens
from grump.routing.route_costs import EXPECTED_OUTPUT_TOKENS, expected_cost
from tests.unit.test_routing import CATALOGUE, ECONOMY, HARD, POLICY, PREMIUM

RENAME = "Rename the variable cfg to config in settings.py."
TOOLS_AND_SYSTEM = "You are the team's coding assistant. Follow the style guide. " * 4000


def session(latest: str) -> CompleteInput:
    """A coding session with a long shared prefix, asking ``latest`` now."""
    return CompleteInput(
        messages=[
            Message(role="system", content=TOOLS_AND_SYSTEM),
            Message(role="user", content="Open settings.py."),
            Message(role="assistant", content="Here it is."),
            Message(role="user", content=latest),
        ]
    )


def warm_prefix(request: CompleteInput) -> int:
    """Everything but the latest turn, as a warm session has it."""
    return estimate_input_tokens(request) - 40


def test_easy_work_of_a_warm_session_stays_on_premium_when_that_is_cheaper() -> None:
    request = session(RENAME)
    decision = route(request, POLICY, CATALOGUE, budget_left=None, warm_tokens=warm_prefix(request))
    assert (decision.tier, decision.model, decision.reason) == (
        Tier.PREMIUM,
        PREMIUM,
        "warm-premium-cheaper",
    )
    costs = decision.expected_costs or {}
    assert costs[PREMIUM] < costs[ECONOMY]
    assert decision.warm_tokens == warm_prefix(request)


def test_a_little_warm_input_does_not_pay_for_premium_output() -> None:
    request = CompleteInput(messages=[Message(role="user", content=RENAME)])
    decision = route(request, POLICY, CATALOGUE, budget_left=None, warm_tokens=8)
    assert (decision.tier, decision.reason) == (Tier.ECONOMY, "score<60;warm-cache-dropped")
    costs = decision.expected_costs or {}
    assert costs[PREMIUM] > costs[ECONOMY]


def test_a_cold_session_goes_economy_as_before() -> None:
    decision = route(session(RENAME), POLICY, CATALOGUE, budget_left=None)
    assert (decision.tier, decision.reason, decision.warm_tokens) == (Tier.ECONOMY, "score<60", 0)
    assert set(decision.expected_costs or {}) == {ECONOMY}


def test_hard_work_goes_premium_warm_or_not() -> None:
    for warm in (0, 50_000):
        decision = route(session(HARD), POLICY, CATALOGUE, budget_left=None, warm_tokens=warm)
        assert (decision.tier, decision.reason) == (Tier.PREMIUM, "score>=60")


def test_warm_premium_must_still_fit_the_cost_cap() -> None:
    request = session(RENAME)  # at most about $0.38 on premium, $0.04 on economy
    policy = RoutingPolicy(ECONOMY, PREMIUM, max_cost_per_request=Decimal("0.05"))
    decision = route(request, policy, CATALOGUE, budget_left=None, warm_tokens=warm_prefix(request))
    assert (decision.tier, decision.reason) == (Tier.ECONOMY, "score<60;warm-cache-dropped")


def test_warm_premium_must_still_fit_the_budget_left() -> None:
    request = session(RENAME)
    warm = warm_prefix(request)
    decision = route(request, POLICY, CATALOGUE, budget_left=Decimal("0.05"), warm_tokens=warm)
    assert decision.tier == Tier.ECONOMY


def test_a_pinned_model_ignores_the_warm_cache() -> None:
    request = session(RENAME).model_copy(update={"model": ECONOMY})
    decision = route(request, POLICY, CATALOGUE, budget_left=None, warm_tokens=10**6)
    assert (decision.model, decision.reason) == (ECONOMY, "pinned")


def test_expected_cost_prices_warm_reads_and_clamps_them_to_the_input() -> None:
    request = session(RENAME)
    tokens = estimate_input_tokens(request)
    premium = CATALOGUE.price(PREMIUM)
    assert expected_cost(premium, request, 10**9) == expected_cost(premium, request, tokens)
    assert expected_cost(premium, request, tokens) == premium.cost(
        tokens, EXPECTED_OUTPUT_TOKENS, cached_tokens_in=tokens
    )
    economy = CATALOGUE.price(ECONOMY)  # no prompt cache: warm tokens do not count
    assert expected_cost(economy, request, tokens) == economy.cost(tokens, EXPECTED_OUTPUT_TOKENS)
