"""One left-to-right pass: match label phrases, honour negation, count understood words.

At each token the longest phrase starting there wins and its tokens are
consumed, so "React Native" is react_native and never also react. A negator
("no", "without", "doesn't") opens a short scope that ends at a clause break
or a contrast word; a phrase inside it is dropped. "login not needed" and
"ad-free" (cleaned to "ad unneeded") are negated from behind. Brands right after
"clone of" or before "clone" are named, not integrated ("an Instagram clone").

This loop runs on every parse, so it is written for speed: it visits only the
tokens that may start a phrase or change a scope, and counts words with C-level
sums.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter

from grump.intent.lexicon import Entry, Payload, Tail
from grump.intent.tokens import (
    BOUNDARY,
    CLONE,
    CLONE_OF,
    COMMA,
    NEED,
    NEGATOR,
    POST_NEGATION,
    POST_NEGATION_LEAD,
    SCOPE_BREAKER,
    TokenInfo,
)

NEGATION_SCOPE = 5  # words after a negator that it can reach
POST_NEGATION_REACH = 4  # words after a phrase that may negate it ("login is not required")
CLONE_REACH = 4  # words after "clone of" whose brands are named, not integrated

# Values of Matches.covered per token.
UNCOVERED = 0
LABELLED = 1
BLOCKED = 2


@dataclass(slots=True)
class Matches:
    """What the pass found.

    ``asked`` lists every (kind, label) asked for, repeats included; ``votes``
    lists (project type, weight, position) for each naming of a project type.
    """

    covered: bytearray  # per token: UNCOVERED, LABELLED or BLOCKED
    asked: list[tuple[str, str]] = field(default_factory=list)
    votes: list[tuple[str, float, int]] = field(default_factory=list)
    content_words: int = 0  # words that carry meaning (not stopwords or numbers)
    understood_words: int = 0  # of those, the ones in a label phrase or known vocabulary


def match(infos: list[TokenInfo], may_post_negate: bool = True) -> Matches:
    """Labels asked for in ``infos``.

    Only tokens that may start a phrase or change a scope are visited; the words
    skipped in between only shorten an open negation scope. ``may_post_negate``
    False promises the text has no word that negates from behind ("not",
    "-n't", "unnecessary"), which skips that check.
    """
    count = len(infos)
    found = Matches(covered=bytearray(count))
    covered = found.covered
    labelled = 0
    negation_left = 0
    clone_until = -1
    cursor = 0  # the first token not yet visited or consumed by a phrase
    consumed = 0  # the first token after the last phrase
    for i in compress(range(count), map(_ACTIVE, infos)):
        if i < cursor:
            continue
        if negation_left:
            negation_left = max(0, negation_left - (i - cursor))
        info = infos[i]
        if info.flags & _CLAUSE_BREAKS:  # no phrase spans a clause break
            negation_left = 0
            cursor = i + 1
            continue
        entry = info.phrases
        payload = None
        if entry is not None and (
            entry.alone is not None
            or (i + 1 < count and infos[i + 1].key in entry.nexts)
            or (i > consumed and infos[i - 1].key in entry.previous)
        ):
            start, end, payload = _phrase_at(infos, i, entry, consumed)
        if payload is None:
            if info.flags & _SCOPE_FLAGS:
                negation_left, clone_until = _scope_word(infos, i, negation_left, clone_until)
            elif negation_left:
                negation_left -= 1
            cursor = i + 1
            continue
        cursor = consumed = end
        if payload.blocked:
            covered[start:end] = _BLOCKED_BYTES[end - start]
        else:
            covered[start:end] = _LABELLED_BYTES[end - start]
            labelled += end - start
            if not negation_left and not (may_post_negate and _negated_after(infos, end)):
                if start <= clone_until or (end < count and infos[end].flags & CLONE):
                    found.asked.extend(payload.labels_but_brands)
                else:
                    found.asked.extend(payload.labels)
                for label, weight in payload.type_votes:
                    found.votes.append((label, weight, start))
        negation_left = max(0, negation_left - (end - i))
    found.content_words = sum(map(_CONTENT, infos))
    found.understood_words = min(found.content_words, sum(map(_KNOWN, infos)) + labelled)
    return found


_ACTIVE = attrgetter("active")
_CONTENT = attrgetter("content")
_KNOWN = attrgetter("known")
_SCOPE_FLAGS = NEGATOR | SCOPE_BREAKER | CLONE_OF
_CLAUSE_BREAKS = BOUNDARY | COMMA
_LONGEST_PHRASE = 16
_LABELLED_BYTES = [bytes([LABELLED]) * n for n in range(_LONGEST_PHRASE + 1)]
_BLOCKED_BYTES = [bytes([BLOCKED]) * n for n in range(_LONGEST_PHRASE + 1)]


def _phrase_at(
    infos: list[TokenInfo], i: int, entry: Entry, consumed: int
) -> tuple[int, int, Payload | None]:
    """The longest phrase at token i: (start, end, payload), payload None for none.

    A phrase led by the previous (common, unconsumed) word starts one token
    earlier and wins, as it would have if matched from that word.
    """
    after = entry.after
    if after is not None and i - 1 >= consumed and infos[i - 1].key in after:
        end, payload = _tail(infos, i + 1, after[infos[i - 1].key])
        if payload is not None:
            return i - 1, end, payload
    by_second = entry.by_second
    if by_second is not None and i + 1 < len(infos) and infos[i + 1].key in by_second:
        end, payload = _tail(infos, i + 2, by_second[infos[i + 1].key])
        if payload is not None:
            return i, end, payload
    return i, i + 1, entry.alone


def _tail(
    infos: list[TokenInfo], start: int, tails: tuple[Tail, ...]
) -> tuple[int, Payload | None]:
    """The first (longest) tail whose keys follow from ``start``: (end, payload)."""
    for rest, payload in tails:
        if not rest:
            return start, payload
        stop = start + len(rest)
        if stop <= len(infos) and tuple(t.key for t in infos[start:stop]) == rest:
            return stop, payload
    return start, None


def _scope_word(
    infos: list[TokenInfo], i: int, negation_left: int, clone_until: int
) -> tuple[int, int]:
    """A negator opens a scope; a contrast word closes it; "clone of" names brands.
    Returns the scope left after this word, and where "clone of" reaches."""
    flags = infos[i].flags
    if flags & SCOPE_BREAKER:
        return 0, clone_until
    if flags & NEGATOR and not _is_post_negation(infos, i):
        return NEGATION_SCOPE, clone_until
    if flags & CLONE_OF and i + 1 < len(infos) and infos[i + 1].surface == "of":
        clone_until = i + 1 + CLONE_REACH
    return max(0, negation_left - 1), clone_until


def _is_post_negation(infos: list[TokenInfo], i: int) -> bool:
    """'not' in 'login not needed' looks back, so it opens no scope forwards."""
    return (
        bool(infos[i].flags & POST_NEGATION_LEAD)
        and i + 1 < len(infos)
        and infos[i + 1].surface in _PARTICIPLES
    )


_PARTICIPLES = frozenset(
    {"needed", "required", "necessary", "wanted", "supported", "planned", "allowed", "permitted"}
)


def _negated_after(infos: list[TokenInfo], end: int) -> bool:
    """'login not needed', 'accounts are not required', 'login unnecessary'."""
    for j in range(end, min(end + POST_NEGATION_REACH, len(infos))):
        flags = infos[j].flags
        if flags & (BOUNDARY | COMMA | SCOPE_BREAKER):
            return False
        if flags & POST_NEGATION:
            return True
        if flags & POST_NEGATION_LEAD and j + 1 < len(infos) and infos[j + 1].flags & NEED:
            return True
    return False
