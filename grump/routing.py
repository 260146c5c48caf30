"""Complexity score and model choice for ``complete`` jobs.

``complexity`` turns a request into a score from 0 to 100 out of cheap text
signals; ``route`` maps the score to a tier and a model under a
``RoutingPolicy``, bounded by the policy's cost cap and the budget left.
Everything here is pure: no I/O, no clock, no randomness.

The score is the sum of these points, clamped to 0..100:

========== ======================================================== ======
signal     points                                                   cap
========== ======================================================== ======
length     log-scaled estimated tokens: 0 at 32 tokens, 30 at 4,000 30
turns      3 per user/assistant message after the first             10
code       8 per fenced code block (an unclosed fence counts)       16
steps      3 per numbered/bulleted line or sequencing phrase        15
           ("then", "after that", "finally", "step 2", ...)
reasoning  15 per distinct reasoning/design word ("architecture",   60
           "refactor", "prove", "optimise", "debug", "trade-off",
           "concurrency", "distributed", ...)
========== ======================================================== ======

When the intent parser's complexity (0..100) is given, the score is the larger
of the two: the parser judges the whole build, the text signals see what the
parser does not. Adding a message, or a line to a message, never lowers the
score.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from grump.errors import BudgetExceeded, UnknownModel, ValidationFailed
from grump.jobs import CompleteInput, RoutingDecision, Tier
from grump.pricing import ModelPrice, PriceCatalogue, quantize_money
from grump.providers.base import estimate_tokens

if TYPE_CHECKING:
    from grump.settings import Settings

AUTO_MODEL = "auto"
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators each chat format adds per message

_LENGTH_FLOOR_TOKENS = 32
_LENGTH_FULL_TOKENS = 4_000
_LENGTH_CAP = 30
_LENGTH_SCALE = _LENGTH_CAP / math.log(_LENGTH_FULL_TOKENS / _LENGTH_FLOOR_TOKENS)
_TURN_POINTS, _TURN_CAP = 3, 10
_CODE_POINTS, _CODE_CAP = 8, 16
_STEP_POINTS, _STEP_CAP = 3, 15
_REASONING_POINTS, _REASONING_CAP = 15, 60

# A list item starts a line. Searching for the newline first is what keeps the
# scan fast: Python's regex engine only skips ahead quickly to a literal start.
_LIST_ITEM = re.compile(r"\n[ \t]*(?:\d{1,3}[.)]|[-*+\u2022])[ \t]+\S")


_Word = tuple[str, str, "re.Pattern[str]"]  # (concept, literal start, pattern)


def _words(*table: tuple[str, str, str]) -> tuple[_Word, ...]:
    """Compile (concept, literal start in lower case, rest of the pattern) rows."""
    return tuple((c, start, re.compile(re.escape(start) + rest)) for c, start, rest in table)


_SEQUENCE_PHRASES = _words(
    *(("step", start, r"\b") for start in ("then", "after that", "afterwards", "finally")),
    ("step", "step ", r"\d"),
    *(("step", start, r"(?:ly)?,") for start in ("next", "first", "second")),
)
# Several words may stand for one concept; each concept counts once.
_REASONING_WORDS = _words(
    ("architecture", "architect", ""),
    ("refactor", "refactor", ""),
    ("prove", "prove", r"[sdn]?\b"),
    ("prove", "proving", ""),
    ("prove", "proof", ""),
    ("optimise", "optimi", "[sz]"),
    ("debug", "debug", ""),
    ("design", "design", ""),
    ("trade-off", "trade", r"[- ]?offs?\b"),
    ("concurrency", "concurren", ""),
    ("concurrency", "race condition", ""),
    ("concurrency", "deadlock", ""),
    ("concurrency", "thread", r"[- ]?safe"),
    ("distributed", "distributed", r"\b"),
    ("distributed", "consensus", ""),
    ("algorithm", "algorithm", ""),
    ("scalability", "scalab", ""),
    ("security", "security", ""),
    ("security", "vulnerab", ""),
    ("security", "threat model", ""),
    ("analysis", "analy", "[sz]"),
    ("reasoning", "step", r"[- ]by[- ]step"),
    ("reasoning", "reason about", ""),
    ("reasoning", "deriv", r"(?:e|es|ed|ing|ation)\b"),
    ("migration", "migrat", ""),
    ("invariant", "invariant", ""),
    ("invariant", "formal", r"(?:ly)? (?:verif|proof|spec)"),
)


def _count_at_word_start(text: str, pattern: re.Pattern[str], limit: int) -> int:
    """Matches of ``pattern`` in ``text`` that start a word, up to ``limit``."""
    found = 0
    for match in pattern.finditer(text):
        at = match.start()
        if at == 0 or not text[at - 1].isalnum():
            found += 1
            if found >= limit:
                break
    return found


def _step_count(text: str, limit: int) -> int:
    found = len(_LIST_ITEM.findall("\n" + text))
    for _, start, pattern in _SEQUENCE_PHRASES:
        if found >= limit:
            break
        # A substring test is far cheaper than a regex scan, and most words are absent.
        if start in text:
            found += _count_at_word_start(text, pattern, limit - found)
    return found


def _reasoning_concepts(text: str) -> int:
    concepts: set[str] = set()
    for concept, start, pattern in _REASONING_WORDS:
        if start in text and concept not in concepts and _count_at_word_start(text, pattern, 1):
            concepts.add(concept)
    return len(concepts)


def _length_points(tokens: int) -> int:
    if tokens <= _LENGTH_FLOOR_TOKENS:
        return 0
    points = _LENGTH_SCALE * math.log(tokens / _LENGTH_FLOOR_TOKENS)
    return min(_LENGTH_CAP, int(points))


_SIGNALS = ("length", "turns", "code", "steps", "reasoning")


def _signal_points(request: CompleteInput) -> tuple[int, int, int, int, int]:
    """Points of each signal, in the order of ``_SIGNALS``."""
    contents = [m.content for m in request.messages]
    text = "\n".join(contents).lower()
    tokens = 0
    for content in contents:
        tokens += estimate_tokens(content)
    turns = 0
    for message in request.messages:
        turns += message.role != "system"
    blocks = (text.count("```") + 1) // 2  # an unclosed fence still opens a block
    return (
        _length_points(tokens),
        min(_TURN_CAP, _TURN_POINTS * max(0, turns - 1)),
        min(_CODE_CAP, _CODE_POINTS * blocks),
        min(_STEP_CAP, _STEP_POINTS * _step_count(text, -(-_STEP_CAP // _STEP_POINTS))),
        min(_REASONING_CAP, _REASONING_POINTS * _reasoning_concepts(text)),
    )


def _clamp_score(value: int) -> int:
    return max(0, min(100, value))


def complexity_breakdown(
    request: CompleteInput, intent_complexity: int | None = None
) -> dict[str, int]:
    """The points of each signal behind ``complexity``, for logs and tuning."""
    breakdown = dict(zip(_SIGNALS, _signal_points(request), strict=True))
    if intent_complexity is not None:
        breakdown["intent"] = _clamp_score(intent_complexity)
    return breakdown


def complexity(request: CompleteInput, intent_complexity: int | None = None) -> int:
    """How hard a request looks, 0 (trivial) to 100 (hard); see the module docstring."""
    score = _clamp_score(sum(_signal_points(request)))
    if intent_complexity is None:
        return score
    return max(score, _clamp_score(intent_complexity))


@dataclass(frozen=True)
class RoutingPolicy:
    """How scores map to models, and the cost bounds routing respects."""

    economy_model: str
    premium_model: str
    threshold: int = 60
    max_cost_per_request: Decimal | None = None
    allow_downgrade: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 100:
            raise ValueError(f"threshold must be within 0..100, got {self.threshold}")
        if self.max_cost_per_request is not None and self.max_cost_per_request < 0:
            raise ValueError("max_cost_per_request must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings, *, allow_downgrade: bool = True) -> RoutingPolicy:
        return cls(
            economy_model=settings.economy_model,
            premium_model=settings.premium_model,
            threshold=settings.routing_threshold,
            max_cost_per_request=settings.max_cost_per_request,
            allow_downgrade=allow_downgrade,
        )


def estimate_max_cost(price: ModelPrice, request: CompleteInput) -> Decimal:
    """The most a request can cost on a model: estimated input plus ``max_tokens`` out."""
    tokens_in = sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in request.messages)
    return price.cost(tokens_in, request.max_tokens)


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
    intent_complexity: int | None = None,
) -> RoutingDecision:
    """Choose the tier and model of a ``complete`` request.

    A pinned model (``request.model`` set and not ``"auto"``) is used as is,
    but still has to fit the cost cap and the budget left. Otherwise a score at
    or above the threshold goes premium, unless its estimated maximum cost
    breaks a bound: then it goes economy when the policy allows a downgrade.
    Raises ``BudgetExceeded`` when no allowed choice fits, ``UnknownModel`` for
    a model missing from the catalogue.
    """
    score = complexity(request, intent_complexity)
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
        if not policy.allow_downgrade:
            raise _refuse(policy.premium_model, cost, bound, score)
        reason = f"downgraded:{bound[0]}"

    economy = _policy_price(catalogue, policy.economy_model, "routing.economy_model")
    cost = estimate_max_cost(economy, request)
    bound = _over_limit(cost, policy, budget_left)
    if bound is not None:
        raise _refuse(policy.economy_model, cost, bound, score)
    return RoutingDecision(
        score=score, tier=Tier.ECONOMY, model=policy.economy_model, reason=reason
    )


def baseline_cost(
    catalogue: PriceCatalogue, premium_model: str, tokens_in: int, tokens_out: int
) -> Decimal:
    """What a call would have cost on the premium model with no cache."""
    return catalogue.price(premium_model).cost(tokens_in, tokens_out)


def routing_savings(baseline: Decimal, actual: Decimal) -> Decimal:
    """Baseline minus actual cost, never below zero.

    A call dearer than the baseline (a pinned expensive model) saved nothing;
    it is not a negative saving, which a Prometheus counter could not record.
    """
    return quantize_money(max(Decimal(0), baseline - actual))
