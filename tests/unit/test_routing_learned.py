"""The learned routing score: its shipped weights, its features, its fallback, its cut."""

from __future__ import annotations

import numpy as np
import pytest

from bench.routing_fit import DIM, as_weights, cut_for_hard_recall, ranks, spearman
from grump.jobs.models import CompleteInput, Message
from grump.routing.complexity import complexity
from grump.routing.learned import (
    STRUCTURAL,
    ScorerWeights,
    hashed_indexes,
    latest_task,
    learned_complexity,
    shipped_weights,
)
from grump.routing.policy import RoutingPolicy, route, task_score
from tests.unit.test_routing import CATALOGUE, ECONOMY, HARD, PREMIUM

EASY = [
    "Rename the variable cfg to config in settings.py.",
    "What time zone is Lisbon in?",
    "Sort the imports in models.py.",
]
HARD_WORK = [
    HARD,
    "Two workers of billing sometimes both process the same job: they read the row, check the "
    "status, then update it. Find the race and fix it without a global lock.",
    "Plan a zero-downtime migration of the orders table from integer ids to UUIDs, with "
    "foreign keys in five other tables. Order the steps and say how to back out of each.",
]


def ask(*messages: tuple[str, str]) -> CompleteInput:
    return CompleteInput(messages=[Message(role=r, content=c) for r, c in messages])


def weights() -> ScorerWeights:
    loaded = shipped_weights()
    assert loaded is not None
    return loaded


def test_the_shipped_weights_load_with_every_feature() -> None:
    loaded = weights()
    assert loaded.dim == len(loaded.hashed) == DIM
    assert len(loaded.structural) == len(STRUCTURAL)


def test_features_hash_the_same_in_every_process() -> None:
    # crc32, not hash(): the weights trained in one process index the same features in another.
    assert sorted(hashed_indexes("Rename foo", 4096)) == [1090, 1204, 2065, 3892]


def test_the_score_is_deterministic_and_within_0_to_100() -> None:
    for text in EASY + HARD_WORK:
        scores = {learned_complexity(ask(("user", text)), weights()) for _ in range(3)}
        assert len(scores) == 1 and 0 <= scores.pop() <= 100


@pytest.mark.parametrize("text", EASY)
def test_easy_work_scores_below_the_threshold(text: str) -> None:
    assert learned_complexity(ask(("user", text)), weights()) < 60


@pytest.mark.parametrize("text", HARD_WORK)
def test_hard_work_scores_at_or_above_the_threshold(text: str) -> None:
    assert learned_complexity(ask(("user", text)), weights()) >= 60


def test_a_long_system_prompt_does_not_make_a_rename_hard() -> None:
    plain = ask(("user", EASY[0]))
    long_context = ask(("system", "You are a careful architect. " * 2000), ("user", EASY[0]))
    assert learned_complexity(long_context, weights()) == learned_complexity(plain, weights())
    assert complexity(long_context) > complexity(plain)  # what the keyword score did


def test_the_task_is_the_latest_user_turn() -> None:
    request = ask(("system", "s"), ("user", "first"), ("assistant", "done"), ("user", "second"))
    assert latest_task(request) == ("second", ["first", "done"])


def test_without_readable_weights_the_keyword_score_decides() -> None:
    request = ask(("user", HARD))
    assert task_score(request, "learned", lambda: None) == ("keywords", complexity(request))
    assert task_score(request, "keywords") == ("keywords", complexity(request))
    policy = RoutingPolicy(ECONOMY, PREMIUM, scorer="keywords")
    decision = route(request, policy, CATALOGUE, budget_left=None)
    assert (decision.scorer, decision.score) == ("keywords", complexity(request))


@pytest.mark.parametrize(
    "text",
    ["{}", '{"dim": 2, "bias": 0, "structural": {}, "hashed": [0, 0]}', "not json"],
)
def test_malformed_weights_are_refused(text: str) -> None:
    with pytest.raises((ValueError, KeyError)):
        ScorerWeights.loads(text)


def test_the_cut_leaves_at_most_the_allowed_share_of_hard_work_below_it() -> None:
    z = np.linspace(-2.0, 2.0, 40)
    hard = np.ones(40, dtype=bool)
    cut = cut_for_hard_recall(z, hard, max_miss=0.025)
    assert int((z < cut).sum()) == 1  # 2.5% of 40
    assert int((z < cut_for_hard_recall(z, hard, max_miss=0.0)).sum()) == 0


def test_the_shipped_bias_puts_the_chosen_cut_at_score_60() -> None:
    cut = 0.37
    scorer = as_weights(np.zeros(DIM + len(STRUCTURAL)), cut, cut)  # margin == cut everywhere
    assert learned_complexity(ask(("user", "anything")), scorer) == 60


def test_spearman_handles_ties_and_order() -> None:
    assert ranks([3.0, 1.0, 3.0]) == [2.5, 1.0, 2.5]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
