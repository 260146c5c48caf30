"""Project type vote, complexity and confidence: pure arithmetic over what was found.

Complexity is a sum of non-negative points, one term per distinct label (or a
non-decreasing function of a count), pushed through a saturating curve. Adding
a requirement can only add points, so it never lowers the score.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from itertools import repeat
from typing import Final

from grump.intent.labels import UNKNOWN

DEFAULT_FEATURE_POINTS: Final = 4.0
FEATURE_POINTS: Final[dict[str, float]] = {
    "authentication": 4.0,
    "authorization": 5.0,
    "two_factor_auth": 5.0,
    "payments": 8.0,
    "subscriptions": 7.0,
    "shopping_cart": 4.0,
    "search": 3.0,
    "notifications": 3.0,
    "email": 3.0,
    "messaging": 6.0,
    "comments": 3.0,
    "ratings_reviews": 3.0,
    "social_feed": 5.0,
    "user_profiles": 2.0,
    "file_upload": 3.0,
    "media_processing": 6.0,
    "video_streaming": 9.0,
    "maps_location": 5.0,
    "calendar_scheduling": 4.0,
    "booking": 6.0,
    "analytics_dashboard": 4.0,
    "admin_panel": 4.0,
    "data_export": 3.0,
    "data_import": 3.0,
    "offline_mode": 7.0,
    "realtime_updates": 8.0,
    "i18n": 4.0,
    "ai_features": 7.0,
    "recommendations": 7.0,
    "inventory": 5.0,
    "multi_tenancy": 8.0,
    "audit_log": 4.0,
    "webhooks": 4.0,
    "public_api": 6.0,
    "tagging": 2.0,
}

DEFAULT_CONSTRAINT_POINTS: Final = 3.0
CONSTRAINT_POINTS: Final[dict[str, float]] = {
    "realtime": 5.0,
    "offline": 4.0,
    "responsive": 2.0,
    "accessibility": 3.0,
    "scalability": 6.0,
    "high_availability": 7.0,
    "security": 4.0,
    "compliance_gdpr": 7.0,
    "compliance_hipaa": 9.0,
    "compliance_pci": 8.0,
    "compliance_soc2": 8.0,
    "performance": 3.0,
    "seo": 2.0,
    "budget": 1.0,
}

INTEGRATION_POINTS: Final = 5.0
STACK_ITEM_POINTS: Final = 1.5
ENTITY_POINTS: Final = 5.0  # times the square root of the count: many nouns add less each
ACTOR_POINTS: Final = 4.0  # per actor after the first
FIRST_ACTOR_POINTS: Final = 2.0
SATURATION: Final = 45.0  # points at which the score reaches 1 - 1/e of 100


def complexity(
    features: Collection[str],
    actors: Collection[str],
    entities: Collection[str],
    integrations: Collection[str],
    constraints: Collection[str],
    stack_items: int,
) -> int:
    """0..100 from distinct requirements; monotone in every argument."""
    # Every point value is a multiple of 0.5, so these float sums are exact and the
    # total does not depend on the order a set yields its labels in. (map over the
    # dicts' get, not a generator: this runs on every parse.)
    points = STACK_ITEM_POINTS * stack_items
    if features:
        points += sum(map(FEATURE_POINTS.get, features, repeat(DEFAULT_FEATURE_POINTS)))
    if constraints:
        points += sum(map(CONSTRAINT_POINTS.get, constraints, repeat(DEFAULT_CONSTRAINT_POINTS)))
    points += INTEGRATION_POINTS * len(integrations)
    if entities:
        points += ENTITY_POINTS * math.sqrt(len(entities))
    if actors:
        points += FIRST_ACTOR_POINTS + ACTOR_POINTS * (len(actors) - 1)
    return round(100.0 * (1.0 - math.exp(-points / SATURATION)))


def choose_project_type(votes: Mapping[str, tuple[float, int]]) -> str:
    """The type with most weight; on a tie, the one named first. votes: type -> (weight, first)."""
    if not votes:
        return UNKNOWN
    return min(votes.items(), key=lambda item: (-item[1][0], item[1][1]))[0]


def confidence(content_words: int, understood_words: int, evidence: int) -> float:
    """How much of the text was understood, 0..1.

    Nothing extracted means nothing understood (0). Otherwise it blends the
    share of content words understood with how much was extracted.
    """
    if evidence <= 0 or content_words <= 0:
        return 0.0
    # Comparisons rather than min(): the same values, without three builtin calls.
    coverage = 1.0 if understood_words >= content_words else understood_words / content_words
    amount = 1.0 if evidence >= 5 else evidence / 5.0
    score = 0.15 + 0.5 * coverage + 0.35 * amount
    return round(score if score < 1.0 else 1.0, 3)
