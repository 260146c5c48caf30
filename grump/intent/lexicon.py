"""Compiles every label phrase into one index: first token key -> candidate phrases.

At a token, the matcher looks its key up once and tries that key's phrases,
longest first; no label is ever searched for by its own scan of the text.
A phrase listed under several labels ("real time": a feature and a constraint)
carries all of them, and brand implications are folded in here ("Stripe" also
means payments), so the matcher does no further lookups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from grump.intent.lexicon_features import FEATURE_PHRASES
from grump.intent.lexicon_product import (
    CONSTRAINT_PHRASES,
    GENERIC_SOFTWARE_WORDS,
    PROJECT_TYPE_HINTS,
    PROJECT_TYPE_PHRASES,
)
from grump.intent.lexicon_tech import (
    BLOCKED_PHRASES,
    INTEGRATION_PHRASES,
    STACK_BUNDLES,
    STACK_PHRASES,
)

PROJECT_TYPE: Final = "project_type"
FEATURE: Final = "feature"
INTEGRATION: Final = "integration"
CONSTRAINT: Final = "constraint"

# Votes for a project type: a phrase that names it, a hint, a generic word.
TYPE_PHRASE_WEIGHT: Final = 3.0
TYPE_HINT_WEIGHT: Final = 1.0
TYPE_GENERIC_WEIGHT: Final = 0.5

Label = tuple[str, str, float]  # (kind, label, weight); kind is a stack category for stack items


@dataclass(frozen=True, slots=True)
class Payload:
    """What one phrase reports, split ahead of time the way the matcher uses it."""

    labels: tuple[tuple[str, str], ...]  # (kind, label), project types left out
    labels_but_brands: tuple[tuple[str, str], ...]  # the same less integrations ("a Spotify clone")
    type_votes: tuple[tuple[str, float], ...]  # (project type, weight)
    blocked: bool  # a phrase that only stops its words from matching anything else

    @classmethod
    def of(cls, labels: Iterable[Label]) -> Payload:
        """The payload of a phrase's labels; a phrase with none only blocks its words."""
        items = list(labels)
        named = tuple((kind, label) for kind, label, _ in items if kind != PROJECT_TYPE)
        return cls(
            labels=named,
            labels_but_brands=tuple(pair for pair in named if pair[0] != INTEGRATION),
            type_votes=tuple((label, w) for kind, label, w in items if kind == PROJECT_TYPE),
            blocked=not items,
        )


Tail = tuple[tuple[str, ...], Payload]  # keys after the second token, what the phrase reports


@dataclass(frozen=True, slots=True)
class Entry:
    """The phrases that involve one token key, longest first in each group.

    A phrase led by a common word ("can rate", "with go", "the following") is
    filed under its second word, in ``after``: the matcher then never looks
    anything up for "can", "the" or "with", which are a quarter of all words.
    """

    alone: Payload | None  # the one-word phrase, if any
    by_second: dict[str, tuple[Tail, ...]] | None  # next key -> phrases starting here
    after: dict[str, tuple[Tail, ...]] | None  # previous key -> phrases starting there
    nexts: frozenset[str] = frozenset()  # keys of by_second
    previous: frozenset[str] = frozenset()  # keys of after
    longer: bool = False  # has phrases of two words or more (by_second or after)

    @classmethod
    def of(
        cls,
        alone: Payload | None,
        by_second: dict[str, tuple[Tail, ...]] | None,
        after: dict[str, tuple[Tail, ...]] | None,
    ) -> Entry:
        """The entry of one key, with the key sets and ``longer`` worked out from its phrase groups."""
        return cls(
            alone,
            by_second,
            after,
            frozenset(by_second or ()),
            frozenset(after or ()),
            by_second is not None or after is not None,
        )


Index = dict[str, Entry]

# A label that implies others wherever it is asked for.
IMPLIES: Final[dict[tuple[str, str], tuple[tuple[str, str], ...]]] = {
    (INTEGRATION, "stripe"): ((FEATURE, "payments"),),
    (INTEGRATION, "paypal"): ((FEATURE, "payments"),),
    (INTEGRATION, "sendgrid"): ((FEATURE, "email"),),
    (INTEGRATION, "mailgun"): ((FEATURE, "email"),),
    (INTEGRATION, "mailchimp"): ((FEATURE, "email"),),
    (INTEGRATION, "openai"): ((FEATURE, "ai_features"),),
    (INTEGRATION, "anthropic"): ((FEATURE, "ai_features"),),
    (INTEGRATION, "google_maps"): ((FEATURE, "maps_location"),),
    (INTEGRATION, "mapbox"): ((FEATURE, "maps_location"),),
    (INTEGRATION, "google_calendar"): ((FEATURE, "calendar_scheduling"),),
    (INTEGRATION, "auth0"): ((FEATURE, "authentication"),),
    (INTEGRATION, "algolia"): ((FEATURE, "search"),),
    (INTEGRATION, "zoom"): ((FEATURE, "video_streaming"),),
}


def _entries() -> Iterable[tuple[str, Label]]:
    """Every (phrase, label) pair of the lexicon."""
    for label, phrases in PROJECT_TYPE_PHRASES.items():
        yield from ((p, (PROJECT_TYPE, label, TYPE_PHRASE_WEIGHT)) for p in phrases)
    for label, phrases in PROJECT_TYPE_HINTS.items():
        yield from ((p, (PROJECT_TYPE, label, TYPE_HINT_WEIGHT)) for p in phrases)
    for phrase in GENERIC_SOFTWARE_WORDS:
        yield phrase, (PROJECT_TYPE, "web_app", TYPE_GENERIC_WEIGHT)
    for kind, table in (
        (FEATURE, FEATURE_PHRASES),
        (INTEGRATION, INTEGRATION_PHRASES),
        (CONSTRAINT, CONSTRAINT_PHRASES),
    ):
        for label, phrases in table.items():
            yield from ((p, (kind, label, 1.0)) for p in phrases)
    for category, labels in STACK_PHRASES.items():
        for label, phrases in labels.items():
            yield from ((p, (category, label, 1.0)) for p in phrases)
    for phrase, items in STACK_BUNDLES.items():
        yield from ((phrase, (category, label, 1.0)) for category, label in items)


def _with_implications(labels: list[Label]) -> Payload:
    """The labels of a phrase plus the ones they imply, each once at its highest weight."""
    seen: dict[tuple[str, str], Label] = {}
    for kind, label, weight in labels:
        key = (kind, label)
        if key not in seen or seen[key][2] < weight:
            seen[key] = (kind, label, weight)
        for implied in IMPLIES.get(key, ()):
            seen.setdefault(implied, (implied[0], implied[1], 1.0))
    return Payload.of(seen.values())


def build_index(
    phrase_keys: Callable[[str], list[list[str]]], common_keys: frozenset[str] = frozenset()
) -> Index:
    """The phrase index.

    ``phrase_keys`` turns a phrase into its token-key spellings; phrases led by one
    of ``common_keys`` (with no one-word phrase of its own) are filed under their
    second word.
    """
    by_keys: dict[tuple[str, ...], list[Label]] = defaultdict(list)
    for phrase, label in _entries():
        for spelling in phrase_keys(phrase):
            by_keys[tuple(spelling)].append(label)
    for phrase in BLOCKED_PHRASES:
        for spelling in phrase_keys(phrase):
            by_keys.setdefault(tuple(spelling), [])
    alone = {
        keys[0]: _with_implications(labels) for keys, labels in by_keys.items() if len(keys) == 1
    }
    forward: dict[str, dict[str, list[Tail]]] = defaultdict(lambda: defaultdict(list))
    backward: dict[str, dict[str, list[Tail]]] = defaultdict(lambda: defaultdict(list))
    for keys, labels in by_keys.items():
        if len(keys) < 2:
            continue
        tail = (keys[2:], _with_implications(labels))
        if keys[0] in common_keys and keys[0] not in alone:
            backward[keys[1]][keys[0]].append(tail)
        else:
            forward[keys[0]][keys[1]].append(tail)
    return {
        key: Entry.of(
            alone.get(key), _longest_first(forward.get(key)), _longest_first(backward.get(key))
        )
        for key in alone.keys() | forward.keys() | backward.keys()
    }


def _longest_first(groups: dict[str, list[Tail]] | None) -> dict[str, tuple[Tail, ...]] | None:
    if not groups:
        return None
    return {
        key: tuple(sorted(tails, key=lambda tail: -len(tail[0]))) for key, tails in groups.items()
    }


def pair_starts(index: Index) -> frozenset[tuple[str, str]]:
    """The first two keys of every phrase of two words or more.

    A longer phrase can only start where two tokens in a row form one of these:
    the matcher checks the few candidate places (see ``grump.intent.codes``)
    against this set instead of trying every token.
    """
    pairs: set[tuple[str, str]] = set()
    for key, entry in index.items():
        pairs.update((key, second) for second in entry.nexts)
        pairs.update((first, key) for first in entry.previous)
    return frozenset(pairs)
