"""parse(text) -> Intent: clean, tokenise, match labels, find roles, score."""

from __future__ import annotations

from collections.abc import Iterable

from grump.intent.labels import STACK, UNKNOWN
from grump.intent.lexicon import CONSTRAINT, FEATURE, INTEGRATION
from grump.intent.matcher import Matches, match
from grump.intent.model import Intent
from grump.intent.normalise import clean, tokenise
from grump.intent.roles import extract_roles
from grump.intent.scoring import choose_project_type, complexity, confidence
from grump.intent.tokens import token_table
from grump.intent.vocabulary import POST_NEGATION_LEADS, POST_NEGATION_WORDS

_EMPTY = Intent()
_NONE: frozenset[str] = frozenset()
# Every word that can negate a label from behind ("login not needed", "ads unneeded").
_POST_NEGATORS = POST_NEGATION_LEADS | POST_NEGATION_WORDS


def parse(text: str) -> Intent:
    """The intent of one free-text request. Pure, thread-safe, never raises for a str."""
    tokens = tokenise(clean(text))
    if not tokens:
        return _EMPTY
    infos = token_table().infos(tokens)
    found = match(infos, may_post_negate=not _POST_NEGATORS.isdisjoint(tokens))
    roles = extract_roles(infos, found.covered)
    labels = _labels_by_kind(found)
    project_type = choose_project_type(_type_votes(found))
    features = labels.get(FEATURE, _NONE)
    integrations = labels.get(INTEGRATION, _NONE)
    constraints = labels.get(CONSTRAINT, _NONE)
    stack = {category: sorted(labels[category]) for category in STACK if category in labels}
    stack_items = sum(map(len, stack.values()))
    evidence = (
        len(features)
        + len(integrations)
        + len(constraints)
        + stack_items
        + len(roles.actors)
        + len(roles.entities)
        + (project_type != UNKNOWN)
    )
    # The sets are already free of duplicates, so sorting them is all Intent.build would do.
    return Intent(
        project_type=project_type,
        actors=tuple(sorted(roles.actors)),
        features=tuple(sorted(features)),
        entities=tuple(sorted(roles.entities)),
        integrations=tuple(sorted(integrations)),
        stack=stack,
        constraints=tuple(sorted(constraints)),
        complexity=complexity(
            features, roles.actors, roles.entities, integrations, constraints, stack_items
        ),
        confidence=confidence(
            found.content_words, found.understood_words + roles.mentions, evidence
        ),
    )


def warm_up() -> None:
    """Build the phrase tables now rather than on the first parse.

    Call it when a worker starts (before a prefork pool forks, so children share them).
    """
    token_table()


def parse_many(texts: Iterable[str]) -> list[Intent]:
    """parse() of each text, in order."""
    return [parse(text) for text in texts]


def _labels_by_kind(found: Matches) -> dict[str, set[str]]:
    labels: dict[str, set[str]] = {}
    for kind, label in found.asked:
        if kind in labels:
            labels[kind].add(label)
        else:
            labels[kind] = {label}
    return labels


def _type_votes(found: Matches) -> dict[str, tuple[float, int]]:
    """Project type -> (total weight, first position)."""
    votes: dict[str, tuple[float, int]] = {}
    for label, weight, position in found.votes:
        total, first = votes.get(label, (0.0, position))
        votes[label] = (total + weight, first)
    return votes
