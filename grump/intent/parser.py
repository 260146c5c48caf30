"""parse(text) -> Intent: clean, tokenise, match labels, find roles, score."""

from __future__ import annotations

from collections.abc import Iterable

from grump.intent.codes import CODE_CAREFUL, codes_of, lane
from grump.intent.labels import STACK, UNKNOWN
from grump.intent.lexicon import CONSTRAINT, FEATURE, INTEGRATION
from grump.intent.matcher import Matches, match
from grump.intent.model import Intent, assemble
from grump.intent.normalise import words
from grump.intent.roles import Roles, extract_roles
from grump.intent.scoring import choose_project_type, complexity, confidence
from grump.intent.tokens import NEGATOR_TOKENS, POST_NEGATORS, token_table

_EMPTY = Intent()
_NONE: frozenset[str] = frozenset()


def parse(text: str) -> Intent:
    """The intent of one free-text request. Pure, thread-safe, never raises for a str."""
    tokens = words(text)
    if not tokens:
        return _EMPTY
    table = token_table()
    infos = table.infos(tokens)
    codes = codes_of(infos)
    may_negate = may_post_negate = careful = 1 in lane(codes[0], CODE_CAREFUL)
    if careful:  # rare: then find out which kind
        may_negate = not NEGATOR_TOKENS.isdisjoint(tokens)
        may_post_negate = not POST_NEGATORS.isdisjoint(tokens)
    found = match(infos, codes, table.pairs, may_negate, may_post_negate, careful)
    roles = extract_roles(infos, codes[0], found.covered)
    return _intent(found, roles)


def _intent(found: Matches, roles: Roles) -> Intent:
    labels = _labels_by_kind(found.asked)
    features = labels.pop(FEATURE, _NONE)
    integrations = labels.pop(INTEGRATION, _NONE)
    constraints = labels.pop(CONSTRAINT, _NONE)
    # What is left are stack categories, reported in taxonomy order.
    stack = {c: sorted(labels[c]) for c in STACK if c in labels} if labels else {}
    stack_items = sum(map(len, labels.values())) if labels else 0
    project_type = _project_type(found.votes)
    actors, entities = roles.actors, roles.entities
    evidence = (
        len(features)
        + len(integrations)
        + len(constraints)
        + stack_items
        + len(actors)
        + len(entities)
        + (project_type != UNKNOWN)
    )
    # The sets are already free of duplicates, so sorting them is all Intent.build would
    # do; an empty one needs no sort (each call counts at this rate).
    return assemble(
        project_type,
        tuple(sorted(actors)) if actors else (),
        tuple(sorted(features)) if features else (),
        tuple(sorted(entities)) if entities else (),
        tuple(sorted(integrations)) if integrations else (),
        stack,
        tuple(sorted(constraints)) if constraints else (),
        complexity(features, actors, entities, integrations, constraints, stack_items),
        confidence(found.content_words, found.understood_words + roles.mentions, evidence),
    )


def warm_up() -> None:
    """Build the phrase tables now rather than on the first parse.

    Call it when a worker starts (before a prefork pool forks, so children share them).
    """
    token_table()


def parse_many(texts: Iterable[str]) -> list[Intent]:
    """parse() of each text, in order."""
    return [parse(text) for text in texts]


def _labels_by_kind(asked: list[tuple[str, str]]) -> dict[str, set[str]]:
    labels: dict[str, set[str]] = {}
    for kind, label in asked:
        if kind in labels:
            labels[kind].add(label)
        else:
            labels[kind] = {label}
    return labels


def _project_type(votes: list[tuple[str, float, int]]) -> str:
    """The type with most weight; on a tie, the one named first."""
    if len(votes) == 1:  # the usual case: one naming ("a web app")
        return votes[0][0]
    totals: dict[str, tuple[float, int]] = {}  # type -> (total weight, first position)
    for label, weight, position in votes:
        total, first = totals.get(label, (0.0, position))
        totals[label] = (total + weight, first)
    return choose_project_type(totals)
