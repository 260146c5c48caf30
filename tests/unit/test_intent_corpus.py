"""The parser on 45 real app descriptions (Beginner, Intermediate and Advanced projects).

The corpus is part of the repository: tests/data/app-ideas.jsonl (MIT, see
tests/data/README.md). A missing corpus is an error, never a skip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

import pytest

from grump.intent import Intent, parse

CORPUS = Path(__file__).resolve().parents[1] / "data" / "app-ideas.jsonl"
TIER_RANK = {"1-Beginner": 1, "2-Intermediate": 2, "3-Advanced": 3}


def _load() -> list[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    return _load()


@pytest.fixture(scope="module")
def intents(corpus: list[dict[str, Any]]) -> dict[str, Intent]:
    return {row["id"]: parse(row["text"]) for row in corpus}


def ranks(values: list[float]) -> list[float]:
    """1-based ranks; tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda index: values[index])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            result[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks."""
    rx, ry = ranks(xs), ranks(ys)
    mx, my = mean(rx), mean(ry)
    covariance = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    spread = (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5
    return float(covariance / spread)


def test_spearman_matches_known_values() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    # Hand-computed: ranks x = 1,2,3,4,5; y = 2,1,4,3,5 -> 1 - 6*4/(5*24) = 0.8
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)


def test_corpus_is_complete(corpus: list[dict[str, Any]]) -> None:
    assert len(corpus) == 45
    assert {row["tier"] for row in corpus} == set(TIER_RANK)


def test_harder_tiers_score_higher_on_average(
    corpus: list[dict[str, Any]], intents: dict[str, Intent]
) -> None:
    by_tier = {
        tier: mean(intents[row["id"]].complexity for row in corpus if row["tier"] == tier)
        for tier in TIER_RANK
    }
    assert by_tier["3-Advanced"] > by_tier["2-Intermediate"] > by_tier["1-Beginner"], by_tier


def test_complexity_rank_correlates_with_tier(
    corpus: list[dict[str, Any]], intents: dict[str, Intent]
) -> None:
    tiers = [float(TIER_RANK[row["tier"]]) for row in corpus]
    scores = [float(intents[row["id"]].complexity) for row in corpus]
    assert spearman(tiers, scores) > 0.4


@dataclass(frozen=True)
class Expected:
    project_type: str | None = None
    integrations: frozenset[str] | None = None  # exact, when given
    features: frozenset[str] = frozenset()  # at least these
    entities: frozenset[str] = frozenset()  # at least these


EXPECTED = {
    "Chat-App": Expected(features=frozenset({"messaging", "realtime_updates"})),
    "Simple-Online-Store": Expected(features=frozenset({"shopping_cart", "payments", "inventory"})),
    "Instagram-Clone-App": Expected(
        features=frozenset(
            {"authentication", "social_feed", "file_upload", "user_profiles", "messaging"}
        ),
        integrations=frozenset(),  # a clone names Instagram; it does not integrate with it
    ),
    "Timezone-Slackbot": Expected(project_type="chatbot", integrations=frozenset({"slack"})),
    "Calculator-CLI": Expected(project_type="cli_tool"),
    "GitHub-Profiles": Expected(integrations=frozenset({"github"})),
    "GitHub-Timeline-App": Expected(integrations=frozenset({"github"})),
    "Movie-App": Expected(features=frozenset({"authentication", "ratings_reviews", "search"})),
    "Battleship-Game-Engine": Expected(project_type="game"),
    "Bug-Race-Game": Expected(project_type="game"),
    "Image-Scaner": Expected(
        project_type="mobile_app", features=frozenset({"file_upload", "tagging"})
    ),
    "Notes-App": Expected(entities=frozenset({"note"})),
    "Calendar-App": Expected(features=frozenset({"calendar_scheduling", "notifications"})),
}


@pytest.mark.parametrize("project", sorted(EXPECTED))
def test_known_projects_yield_what_their_text_asks_for(
    project: str, intents: dict[str, Intent]
) -> None:
    intent = intents[project]
    expected = EXPECTED[project]
    if expected.project_type is not None:
        assert intent.project_type == expected.project_type
    if expected.integrations is not None:
        assert set(intent.integrations) == expected.integrations
    assert expected.features <= set(intent.features)
    assert expected.entities <= set(intent.entities)


def test_every_project_is_understood(intents: dict[str, Intent]) -> None:
    assert all(intent.confidence > 0.3 for intent in intents.values())
    assert all("user" in intent.actors for intent in intents.values())
