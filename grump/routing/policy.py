"""Model choice for ``complete`` jobs.

``route`` maps a request's complexity score (``grump.routing.complexity``) to a tier
and a model under a ``RoutingPolicy``, bounded by the policy's cost cap and the
budget left. Everything here is pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from grump.errors import BudgetExceeded, UnknownModel, ValidationFailed
from grump.jobs.models import CompleteInput, RoutingDecision, Tier
from grump.routing.complexity import complexity
from grump.routing.pricing import ModelPrice, PriceCatalogue, estimate_max_cost

if TYPE_CHECKING:
    from grump.settings import Settings


AUTO_MODEL = "auto"


@dataclass(frozen=True)
class RoutingPolicy:
    """How scores map to models, and the cost bounds routing respects."""

    economy_model: str
    premium_model: str
    threshold: int = 60
    max_cost_per_request: Decimal | None = None

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
    return RoutingDecision(score=score, tier=tier, model=model, reason="pinned")


def route(
    request: CompleteInput,
    policy: RoutingPolicy,
    catalogue: PriceCatalogue,
    *,
    budget_left: Decimal | None,
) -> RoutingDecision:
    """Choose the tier and model of a ``complete`` request.

    A pinned model (``request.model`` set and not ``"auto"``) is used as is,
    but still has to fit the cost cap and the budget left. Otherwise a score at
    or above the threshold goes premium, unless its estimated maximum cost
    breaks a bound: then it goes economy.
    Raises ``BudgetExceeded`` when no allowed choice fits, ``UnknownModel`` for
    a model missing from the catalogue.
    """
    score = complexity(request)
    if request.model is not None and request.model != AUTO_MODEL:
        return _route_pinned(request, catalogue, policy, budget_left, score)

    reason = f"score<{policy.threshold}"
    if score >= policy.threshold:
        premium = _policy_price(catalogue, policy.premium_model, "routing.premium_model")
        cost = estimate_max_cost(premium, request)
        bound = _over_limit(cost, policy, budget_left)
        if bound is None:
            return RoutingDecision(
                score=score,
                tier=Tier.PREMIUM,
                model=policy.premium_model,
                reason=f"score>={policy.threshold}",
            )
        reason = f"downgraded:{bound[0]}"

    economy = _policy_price(catalogue, policy.economy_model, "routing.economy_model")
    cost = estimate_max_cost(economy, request)
    bound = _over_limit(cost, policy, budget_left)
    if bound is not None:
        raise _refuse(policy.economy_model, cost, bound, score)
    return RoutingDecision(
        score=score, tier=Tier.ECONOMY, model=policy.economy_model, reason=reason
    )
