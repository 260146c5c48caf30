"""What grump knows about one token string: its folded forms, word classes and phrases.

Each distinct token string is analysed once and remembered, so a paragraph
costs one dict lookup per token. The memory is bounded: past its size,
new strings are analysed each time instead of stored (a hostile input of a
million distinct words cannot grow it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Final

from grump.intent import vocabulary as v
from grump.intent.codes import (
    CODE_BLOCKED,
    CODE_CAREFUL,
    CODE_CONTENT,
    CODE_HOT,
    CODE_KNOWN,
    CODE_ROLE,
    CODE_SCOPE,
    pair_bits,
)
from grump.intent.lexicon import Entry, Index, build_index, pair_starts
from grump.intent.morphology import match_key, singular
from grump.intent.normalise import clean, tokenise

# Word-class flags (bits of TokenInfo.flags).
WORD: Final = 1
BOUNDARY: Final = 1 << 1  # ends a clause: . ! ? ; : ( ) | or a new list item
COMMA: Final = 1 << 2
STOP: Final = 1 << 3
NEGATOR: Final = 1 << 4
SCOPE_BREAKER: Final = 1 << 5
MODAL: Final = 1 << 6
DETERMINER: Final = 1 << 7
ACTOR_TRIGGER: Final = 1 << 8
PREPOSITION: Final = 1 << 9
MANAGEMENT_VERB: Final = 1 << 10
VERB: Final = 1 << 11
ACTOR: Final = 1 << 12
PERSONISH: Final = 1 << 13
GENERIC: Final = 1 << 14
APP_HEAD: Final = 1 << 15
NUMBER: Final = 1 << 16
KNOWN: Final = 1 << 17  # a word grump understands even when it carries no label
POST_NEGATION: Final = 1 << 18  # "unnecessary", "unneeded"
POST_NEGATION_LEAD: Final = 1 << 19  # "not" in "login not needed"
NEED: Final = 1 << 20  # "needed", "required" after a lead
CLONE: Final = 1 << 21  # "an Instagram clone": a brand named, not integrated
CONJUNCTION: Final = 1 << 22  # "and", "or"
AS: Final = 1 << 23
CLONE_OF: Final = 1 << 24  # "clone" in "a clone of Instagram"
# Shaped like a noun naming a thing: 3+ letters, no adjective/adverb ending ("saved").
NOUN_SHAPED: Final = 1 << 25

_DOT_WORDS: Final = frozenset({".net"})
CACHE_LIMIT: Final = 50_000
_PUNCT_BOUNDARIES: Final = frozenset(".!?;:()|•\u3002\uff01\uff1f")
_KNOWN_WORDS: Final = (
    v.MANAGEMENT_VERBS | v.OTHER_VERBS | v.ACTOR_NOUNS | v.GENERIC_NOUNS | v.APP_HEADS
)
# Verbs are recognised by folded key, so "arranged" and "replacing" count as verbs too.
_MANAGEMENT_KEYS: Final = frozenset(match_key(word) for word in v.MANAGEMENT_VERBS)
_VERB_KEYS: Final = _MANAGEMENT_KEYS | frozenset(match_key(word) for word in v.OTHER_VERBS)


# Tokens that negate: as written ("no", and ".no", whose word is "no"), and from behind.
POST_NEGATORS: Final = v.POST_NEGATION_LEADS | v.POST_NEGATION_WORDS
NEGATOR_TOKENS: Final = v.NEGATORS | {"." + word for word in v.NEGATORS}


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What the parser knows of one token string: its word, match key, lemma, flags, phrases and code bytes."""

    surface: str
    key: str
    lemma: str
    flags: int
    phrases: Entry | None
    code: bytes = b"\0\0"  # CODE_* bits and pair bits (see grump.intent.codes)


_SCOPE_FLAGS: Final = NEGATOR | SCOPE_BREAKER | CLONE_OF
_BOUNDARY_INFO: Final = TokenInfo("|", "|", "|", BOUNDARY, None, bytes([CODE_SCOPE, 0]))
_COMMA_INFO: Final = TokenInfo(",", ",", ",", COMMA, None, bytes([CODE_SCOPE, 0]))


def _word_flags(word: str, lemma: str, key: str) -> int:
    flags = WORD
    if key in _VERB_KEYS and word not in v.ACTOR_NOUNS:
        flags |= VERB | KNOWN
        if key in _MANAGEMENT_KEYS:
            flags |= MANAGEMENT_VERB
    for flag, words in (
        (STOP, v.STOPWORDS),
        (NEGATOR, v.NEGATORS),
        (SCOPE_BREAKER, v.SCOPE_BREAKERS),
        (MODAL, v.MODALS),
        (DETERMINER, v.DETERMINERS),
        (ACTOR_TRIGGER, v.ACTOR_TRIGGERS),
        (PREPOSITION, v.PREPOSITIONS),
        (POST_NEGATION, v.POST_NEGATION_WORDS),
        (POST_NEGATION_LEAD, v.POST_NEGATION_LEADS),
        (NEED, v.NEED_WORDS),
        (KNOWN, _KNOWN_WORDS),
    ):
        if word in words:
            flags |= flag
    if lemma in v.ACTOR_NOUNS:
        flags |= ACTOR | KNOWN
    elif _looks_like_person(lemma):
        flags |= PERSONISH
    if lemma in v.GENERIC_NOUNS:
        flags |= GENERIC | KNOWN
    if word in v.APP_HEADS:
        flags |= APP_HEAD
    if word.isdigit():
        flags |= NUMBER
    if lemma in ("clone", "alternative", "knockoff", "replica"):
        flags |= CLONE
    if lemma == "clone":
        flags |= CLONE_OF
    if word in ("and", "or"):
        flags |= CONJUNCTION
    if word == "as":
        flags |= AS
    if (
        len(lemma) >= 3
        and lemma.isalpha()
        and (not lemma.endswith(v.NOT_NOUN_ENDINGS) or lemma in v.NOUNS_WITH_THOSE_ENDINGS)
    ):
        flags |= NOUN_SHAPED
    return flags


def _looks_like_person(lemma: str) -> bool:
    return (
        len(lemma) >= 5
        and lemma.isalpha()
        and lemma.endswith(v.PERSON_SUFFIXES)
        and lemma not in v.NOT_PERSONS
        and lemma not in v.STOPWORDS
    )


def _is_word(token: str) -> bool:
    return token[0] not in ",\n" and not (len(token) == 1 and token in _PUNCT_BOUNDARIES)


def word_of(token: str) -> str:
    """The word of a token, without the dot of ".js" (but ".net" keeps it)."""
    if token[0] == "." and token not in _DOT_WORDS:
        return token[1:]
    return token


class TokenTable:
    """The phrase index plus the per-token-string memory. Safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, TokenInfo] = {}
        common = frozenset(match_key(word) for word in v.STOPWORDS - v.NEGATORS)
        self.index: Index = build_index(self.phrase_keys, common)
        self.pairs: frozenset[tuple[str, str]] = pair_starts(self.index)
        self._pair_bits = pair_bits(self.pairs, common)
        self._codes: dict[bytes, bytes] = {}  # one object per distinct code, shared

    def phrase_keys(self, phrase: str) -> list[list[str]]:
        """A phrase's key sequence, plus its one-word spelling ("sign up" -> "signup")."""
        words = [word_of(token) for token in tokenise(clean(phrase)) if _is_word(token)]
        spellings = [[match_key(word) for word in words]]
        if 2 <= len(words) <= 3 and all(word.isalpha() for word in words):
            spellings.append([match_key("".join(words))])
        return spellings

    def info(self, token: str) -> TokenInfo:
        """The token's analysis, remembered while the memory is under its limit."""
        found = self._cache.get(token)
        if found is not None:
            return found
        info = self._analyse(token)
        if len(self._cache) < CACHE_LIMIT:
            with self._lock:
                self._cache[token] = info
        return info

    def remembered(self) -> int:
        """How many token strings are remembered (never more than the limit)."""
        return len(self._cache)

    def infos(self, tokens: list[str]) -> list[TokenInfo]:
        """The analysis of each token of a list, in order."""
        try:  # usually every token is known: the lookup then runs at C speed
            return list(map(self._cache.__getitem__, tokens))
        except KeyError:
            return [self.info(token) for token in tokens]

    def _analyse(self, token: str) -> TokenInfo:
        if token[0] == ",":
            return _COMMA_INFO
        if not _is_word(token):
            return _BOUNDARY_INFO
        word = word_of(token)
        lemma = singular(word)
        key = match_key(word)
        flags = _word_flags(word, lemma, key)
        entry = self.index.get(key)
        return TokenInfo(word, key, lemma, flags, entry, self._code(token, key, flags, entry))

    def _code(self, token: str, key: str, flags: int, entry: Entry | None) -> bytes:
        """The token's two code bytes, one shared object per distinct value."""
        code = 0
        if (entry is not None and entry.alone is not None) or flags & CLONE_OF:
            code |= CODE_HOT
        if entry is not None and entry.alone is not None and entry.alone.blocked:
            code |= CODE_BLOCKED
        if flags & _SCOPE_FLAGS:
            code |= CODE_SCOPE
        if flags & (ACTOR | PERSONISH | AS | MANAGEMENT_VERB | APP_HEAD):
            code |= CODE_ROLE
        if not flags & (STOP | NUMBER):
            code |= CODE_CONTENT | (CODE_KNOWN if flags & KNOWN else 0)
        if token in NEGATOR_TOKENS or token in POST_NEGATORS or flags & (CLONE | CLONE_OF):
            code |= CODE_CAREFUL
        code_bytes = bytes([code, self._pair_bits.get(key, 0)])
        return self._codes.setdefault(code_bytes, code_bytes)


@cache
def token_table() -> TokenTable:
    """The one table, built on first use (importing grump.intent does not build it)."""
    return TokenTable()
