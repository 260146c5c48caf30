"""Model choice for ``complete`` jobs.

``route`` maps a request's complexity score to a tier and a model under a
``RoutingPolicy``, bounded by the policy's cost cap and the budget left. The score
is the learned one (``grump.routing.learned``) or, by setting or when its weights
are unreadable, the keyword one (``grump.routing.complexity``). Work scored at or
above the threshold goes premium: a wrong economy on hard work is a quality
failure. Easy work goes to the cheaper of the two routes by expected cost
(``grump.routing.route_costs``): premium when enough of its input is warm in the
premium model's prompt cache that the cached read beats economy uncached.
Everything here is pure: the warm-token count is read by the caller (submit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from grump.errors import BudgetExceeded, UnknownModel, ValidationFailed
from grump.jobs.models import CompleteInput, RoutingDecision, Tier
from grump.routing.complexity import complexity
from grump.routing.learned import ScorerWeights, learned_complexity, shipped_weights
from grump.routing.pricing import ModelPrice, PriceCatalogue, estimate_max_cost
from grump.routing.route_costs import expected_cost

if TYPE_CHECKING:
    from grump.settings import Settings


AUTO_MODEL = "auto"
WARM_PREMIUM_CHEAPER = "warm-premium-cheaper"
WARM_CACHE_DROPPED = "warm-cache-dropped"
Scorer = Literal["learned", "keywords"]


def task_score(
    request: CompleteInput,
    scorer: Scorer,
    weights: Callable[[], ScorerWeights | None] = shipped_weights,
) -> tuple[Scorer, int]:
    """(the scorer used, the score): the learned one, or keywords when asked or unreadable."""
    if scorer == "learned":
        loaded = weights()
        if loaded is not None:
            return "learned", learned_complexity(request, loaded)
    return "keywords", complexity(request)


@dataclass(frozen=True)
class RoutingPolicy:
    """How scores map to models, and the cost bounds routing respects."""

    economy_model: str
    premium_model: str
    threshold: int = 60
    max_cost_per_request: Decimal | None = None
    scorer: Scorer = "learned"

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 100:
            raise ValueError(f"threshold must be within 0..100, got {self.threshold}")
        if self.max_cost_per_request is not None and self.max_cost_per_request < 0:
            raise ValueError("max_cost_per_request must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> RoutingPolicy:
        """The policy the settings describe (threshold, models, cost cap per request)."""
        return cls(
            economy_model=settings.economy_model,
            premium_model=settings.premium_model,
            threshold=settings.routing_threshold,
            max_cost_per_request=settings.max_cost_per_request,
            scorer=settings.routing_scorer,
        )


def _over_limit(
    cost: Decimal, policy: RoutingPolicy, budget_left: Decimal | None
) -> tuple[str, Decimal] | None:
    """Which bound ``cost`` breaks first (name, bound), or None when it fits."""
    if policy.max_cost_per_request is not None and cost > policy.max_cost_per_request:
        return "max_cost_per_request", policy.max_cost_per_request
    if budget_left is not None and cost > budget_left:
        return "budget", budget_left
    return None


def _refuse(model: str, cost: Decimal, bound: tuple[str, Decimal], score: int) -> BudgetExceeded:
    name, limit = bound
    what = "the cost cap per request" if name == "max_cost_per_request" else "the budget left"
    return BudgetExceeded(
        f"estimated cost {cost} on {model} exceeds {what} ({limit})",
        limit_kind=name,
        limit=str(limit),
        requested=str(cost),
        model=model,
        score=score,
    )


def _policy_price(catalogue: PriceCatalogue, model: str, field: str) -> ModelPrice:
    if model not in catalogue:
        raise UnknownModel(model, field=field)
    return catalogue.price(model)


def _route_pinned(
    request: CompleteInput,
    catalogue: PriceCatalogue,
    policy: RoutingPolicy,
    budget_left: Decimal | None,
    score: int,
    scorer: Scorer,
) -> RoutingDecision:
    model = request.model or ""
    price = catalogue.price(model)
    if price.kind != "chat":
        raise ValidationFailed("input.model", f"model {model!r} is a {price.kind} model")
    try:
        tier = Tier(price.tier)
    except ValueError:
        raise ValidationFailed("input.model", f"model {model!r} has no tier") from None
    cost = estimate_max_cost(price, request)
    bound = _over_limit(cost, policy, budget_left)
    if bound is not None:  # the caller chose the model: nothing to downgrade to
        raise _refuse(model, cost, bound, score)
    return RoutingDecision(score=score, tier=tier, model=model, reason="pinned", scorer=scorer)


def _warm_premium(
    request: CompleteInput,
    policy: RoutingPolicy,
    catalogue: PriceCatalogue,
    budget_left: Decimal | None,
    warm_tokens: int,
) -> tuple[bool, dict[str, Decimal]]:
    """Whether easy work is cheaper on the warm premium model, and each route's expected cost."""
    economy = _policy_price(catalogue, policy.economy_model, "routing.economy_model")
    costs = {policy.economy_model: expected_cost(economy, request)}
    if warm_tokens <= 0 or policy.premium_model not in catalogue:
        return False, costs
    premium = catalogue.price(policy.premium_model)
    costs[policy.premium_model] = expected_cost(premium, request, warm_tokens)
    cheaper = costs[policy.premium_model] < costs[policy.economy_model]
    fits = _over_limit(estimate_max_cost(premium, request), policy, budget_left) is None
    return cheaper and fits, costs


def route(
    request: CompleteInput,
    policy: RoutingPolicy,
    catalogue: PriceCatalogue,
    *,
    budget_left: Decimal | None,
    warm_tokens: int = 0,
) -> RoutingDecision:
    """Choose the tier and model of a ``complete`` request.

    A pinned model (``request.model`` set and not ``"auto"``) is used as is,
    but still has to fit the cost cap and the budget left. Otherwise a score at
    or above the threshold goes premium, unless its estimated maximum cost
    breaks a bound: then it goes economy. A score below it goes economy, unless
    ``warm_tokens`` of its input are warm in the premium model's prompt cache and
    that makes premium the cheaper route (reason ``warm-premium-cheaper``); easy
    work moved off a warm premium cache says so (``warm-cache-dropped``).
    Raises ``BudgetExceeded`` when no allowed choice fits, ``UnknownModel`` for
    a model missing from the catalogue.
    """
    scorer, score = task_score(request, policy.scorer)
    if request.model is not None and request.model != AUTO_MODEL:
        return _route_pinned(request, catalogue, policy, budget_left, score, scorer)

    costs: dict[str, Decimal] = {}

    def decide(tier: Tier, model: str, reason: str) -> RoutingDecision:
        return RoutingDecision(
            score=score,
            tier=tier,
            model=model,
            reason=reason,
            scorer=scorer,
            warm_tokens=max(0, warm_tokens),
            expected_costs=costs or None,
        )

    reason = f"score<{policy.threshold}"
    if score >= policy.threshold:
        premium = _policy_price(catalogue, policy.premium_model, "routing.premium_model")
        cost = estimate_max_cost(premium, request)
        bound = _over_limit(cost, policy, budget_left)
        if bound is None:
            return decide(Tier.PREMIUM, policy.premium_model, f"score>={policy.threshold}")
        reason = f"downgraded:{bound[0]}"
    else:
        warm_wins, costs = _warm_premium(request, policy, catalogue, budget_left, warm_tokens)
        if warm_wins:
            return decide(Tier.PREMIUM, policy.premium_model, WARM_PREMIUM_CHEAPER)
        if policy.premium_model in costs:
            reason = f"{reason};{WARM_CACHE_DROPPED}"

    economy = _policy_price(catalogue, policy.economy_model, "routing.economy_model")
    cost = estimate_max_cost(economy, request)
    bound = _over_limit(cost, policy, budget_left)
    if bound is not None:
        raise _refuse(policy.economy_model, cost, bound, score)
    return decide(Tier.ECONOMY, policy.economy_model, reason)
