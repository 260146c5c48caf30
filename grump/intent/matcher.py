"""One left-to-right pass: match label phrases, honour negation, count understood words.

At each token the longest phrase starting there wins and its tokens are
consumed, so "React Native" is react_native and never also react. A negator
("no", "without", "doesn't") opens a short scope that ends at a clause break
or a contrast word; a phrase inside it is dropped. "login not needed" and
"ad-free" (cleaned to "ad unneeded") are negated from behind. Brands right after
"clone of" or before "clone" are named, not integrated ("an Instagram clone").

This loop runs on every parse, so it is written for speed: it visits only the
tokens that may start a phrase or change a scope, found with C-level operations
on the tokens' code bytes (``grump.intent.codes``), which also count the words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

from grump.intent.codes import (
    CODE_BLOCKED,
    CODE_CONTENT,
    CODE_HOT,
    CODE_KNOWN,
    CODE_SCOPE,
    ones,
    pair_candidates,
    positions,
)
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


def match(
    infos: list[TokenInfo],
    codes: tuple[bytes, bytes],
    pairs: frozenset[tuple[str, str]],
    may_negate: bool = True,
    may_post_negate: bool = True,
    careful: bool = True,
) -> Matches:
    """Labels asked for in ``infos`` (``codes``: their code lanes, see ``codes_of``).

    ``pairs`` are the first two keys of every longer phrase. ``may_negate`` False
    promises the text has no negator ("no", "without"), ``may_post_negate`` False
    that it has no word that negates from behind ("not", "-n't", "unnecessary"),
    ``careful`` False that it has neither nor a clone word ("an Instagram clone"):
    each skips work.

    Only the tokens where a phrase may start (a word that names a label alone, the
    first two words of a longer phrase) or, with a negator, where a scope may open
    or close are visited: any other visit would leave the pass as it was.
    """
    flags = codes[0]
    starts = _phrase_starts(infos, codes[1], pairs)
    if starts or careful:
        visits = positions(flags, CODE_HOT | CODE_SCOPE if may_negate else CODE_HOT)
        if starts:
            visits = sorted({*visits, *starts, *[start + 1 for start in starts]})
        found, labelled = _pass(infos, visits, may_post_negate)
    else:
        found, labelled = _single_words(infos, flags)
    # One translate tells both counts: 1 for a content word, 2 for one grump knows.
    words = flags.translate(_WORDS)
    known = words.count(2)
    found.content_words = content = words.count(1) + known
    understood = known + labelled
    found.understood_words = understood if understood < content else content
    return found


def _phrase_starts(
    infos: list[TokenInfo], pair_codes: bytes, pairs: frozenset[tuple[str, str]]
) -> list[int]:
    """Where a phrase of two words or more may start: its first two keys are a pair."""
    return [
        start
        for start in pair_candidates(pair_codes)
        if (infos[start].key, infos[start + 1].key) in pairs
    ]


def _single_words(infos: list[TokenInfo], flags: bytes) -> tuple[Matches, int]:
    """What the pass finds when every phrase is one word and nothing negates.

    Then no phrase overlaps another and each names what it names, so the covered
    bytes come straight from the codes and only the labels need a Python loop.
    Returns the matches and how many words the labels took.
    """
    covered = bytearray(flags.translate(_COVERED))
    found = Matches(covered, [], [])
    asked, votes = found.asked, found.votes
    labelled = ones(covered)  # LABELLED is 1; a blocked word names nothing
    for i in labelled:
        payload: Payload = _ALONE(infos[i])  # a hot word outside a clone has one
        asked.extend(payload.labels)
        if payload.type_votes:
            votes.extend((label, weight, i) for label, weight in payload.type_votes)
    return found, len(labelled)


def _pass(infos: list[TokenInfo], visits: list[int], may_post_negate: bool) -> tuple[Matches, int]:
    """The pass over the visited positions: the matches, and how many words labels took."""
    count = len(infos)
    found = Matches(bytearray(count), [], [])
    covered, asked, votes = found.covered, found.asked, found.votes
    labelled = negation_left = cursor = consumed = 0  # cursor: the first token not yet
    clone_until = -1  # visited or consumed; consumed: the first after the last phrase
    for i in visits:
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
        if entry is not None:
            if entry.longer and (
                (i + 1 < count and infos[i + 1].key in entry.nexts)
                or (i > consumed and infos[i - 1].key in entry.previous)
            ):
                start, end, payload = _phrase_at(infos, i, entry, consumed)
            else:  # the one-word phrase, if any: no longer one can start here
                start, end, payload = i, i + 1, entry.alone
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
                    asked.extend(payload.labels_but_brands)
                else:
                    asked.extend(payload.labels)
                if payload.type_votes:
                    votes.extend((label, weight, start) for label, weight in payload.type_votes)
        if negation_left:
            negation_left = max(0, negation_left - (end - i))
    return found, labelled


_SCOPE_FLAGS = NEGATOR | SCOPE_BREAKER | CLONE_OF
_CLAUSE_BREAKS = BOUNDARY | COMMA
_ALONE = attrgetter("phrases.alone")
_WORDS = bytes((2 if code & CODE_KNOWN else 1) if code & CODE_CONTENT else 0 for code in range(256))
_LONGEST_PHRASE = 16
# Per code byte, what a one-word phrase leaves in Matches.covered.
_COVERED = bytes(
    (BLOCKED if code & CODE_BLOCKED else LABELLED) if code & CODE_HOT else UNCOVERED
    for code in range(256)
)
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
