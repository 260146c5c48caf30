"""Who uses the software (actors) and what it manages (entities), from word positions.

Actors are person nouns where the text makes them act: opening a clause
("Users can ...", "Customers order cakes"), after "as a" ("as a teacher"),
after words like "where", "lets", "for", "and" ("a marketplace where buyers
and sellers ..."), or followed by a modal ("... so admins can ban spam").
Entities are the nouns a management verb acts on ("track expenses",
"grade homework", "create, edit and delete notes") and the noun that names
an app ("a recipe app", "expense tracker"). Both come out singular.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grump.intent.codes import CODE_ROLE, positions
from grump.intent.matcher import BLOCKED, UNCOVERED
from grump.intent.tokens import (
    ACTOR,
    ACTOR_TRIGGER,
    APP_HEAD,
    AS,
    BOUNDARY,
    COMMA,
    CONJUNCTION,
    DETERMINER,
    GENERIC,
    MANAGEMENT_VERB,
    MODAL,
    NOUN_SHAPED,
    NUMBER,
    PERSONISH,
    PREPOSITION,
    STOP,
    VERB,
    WORD,
    TokenInfo,
)

OBJECT_REACH = 8  # tokens after a verb searched for its object
MAX_OBJECTS = 3  # coordinated objects per verb ("notes, tags and folders")
MAX_COMPOUND = 3  # words in a noun run ("shopping cart item")

_SKIPPED_BEFORE_OBJECT = COMMA | CONJUNCTION | DETERMINER | VERB | NUMBER
_ENDS_NOUN_RUN = STOP | VERB | NUMBER | ACTOR | PREPOSITION
_NOT_AN_ENTITY = STOP | VERB | GENERIC | ACTOR | APP_HEAD | NUMBER


@dataclass(slots=True)
class Roles:
    """The actors (who uses the app) and entities (what it manages) a request names."""

    actors: set[str] = field(default_factory=set)
    entities: set[str] = field(default_factory=set)
    mentions: int = 0  # words understood as an actor or entity


def extract_roles(infos: list[TokenInfo], codes: bytes, covered: bytearray) -> Roles:
    """Actors and entities of a token list (``codes``: their CODE_* bits); ``covered``
    marks the words labels took."""
    actors: set[str] = set()
    entities: set[str] = set()
    mentions = 0  # every actor or entity found, repeats included
    last = len(infos) - 1
    for i in positions(codes, CODE_ROLE):
        info = infos[i]
        flags = info.flags
        if flags & ACTOR:
            # Not a person where it qualifies the next word ('team member', 'user name')
            # or is a verb ('host it on Netlify').
            following = infos[i + 1] if i < last else None
            if covered[i] != BLOCKED and (
                following is None
                or not (following.flags & (ACTOR | GENERIC) or following.surface in _OBJECT_WORDS)
            ):
                actors.add(info.lemma)
                mentions += 1
        elif flags & PERSONISH and covered[i] == UNCOVERED and _acts(infos, i):
            actors.add(info.lemma)
            mentions += 1
        if flags & AS:
            named = _as_a(infos, i)
            if named:
                actors.add(named)
                mentions += 1
        if flags & MANAGEMENT_VERB:
            objects = _objects(infos, covered, i)
            entities.update(objects)
            mentions += len(objects)
        if flags & APP_HEAD:
            named = _app_subject(infos, covered, i)
            if named:
                entities.add(named)
                mentions += 1
    return Roles(actors, entities, mentions)


_SUBJECT_LOOKBACK = 4  # determiners and compound words between a clause start and its subject


def _in_subject_slot(infos: list[TokenInfo], i: int) -> bool:
    """Does a clause start just before, or 'where', 'lets', 'and'...? Determiners and
    qualifying words may come between ('the registered users', 'our warehouse staff')."""
    j = i - 1
    while j >= 0 and j >= i - _SUBJECT_LOOKBACK:
        flags = infos[j].flags
        if flags & (BOUNDARY | COMMA | ACTOR_TRIGGER):
            return True
        if flags & (STOP | VERB) and not flags & DETERMINER:
            return False
        j -= 1
    return j < 0


_OBJECT_WORDS = frozenset({"it", "them", "the", "a", "an", "this", "these", "our", "my", "your"})


def _acts(infos: list[TokenInfo], i: int) -> bool:
    """An unknown '-er'/'-ist' word is a person only as the subject of a verb ('Beekeepers log
    hives', 'the florist can ...')."""
    return _before_modal(infos, i) or (
        _in_subject_slot(infos, i) and i + 1 < len(infos) and bool(infos[i + 1].flags & VERB)
    )


def _before_modal(infos: list[TokenInfo], i: int) -> bool:
    return i + 1 < len(infos) and bool(infos[i + 1].flags & MODAL)


def _as_a(infos: list[TokenInfo], i: int) -> str | None:
    """'As a teacher, I ...', 'as a registered store owner': the person, if any."""
    j = i + 1
    if j >= len(infos) or infos[j].surface not in ("a", "an"):
        return None
    j += 1
    while j < len(infos) and j <= i + 4 and infos[j].flags & DETERMINER:
        j += 1
    head = j
    while head + 1 < min(len(infos), j + MAX_COMPOUND) and infos[head + 1].flags & (
        ACTOR | PERSONISH
    ):
        head += 1  # 'as a store owner': the last person noun is the head
    j = head
    if j < len(infos) and infos[j].flags & (ACTOR | PERSONISH):
        return infos[j].lemma
    return None


def _objects(infos: list[TokenInfo], covered: bytearray, verb: int) -> list[str]:
    """The nouns a management verb acts on: 'create, edit and delete notes' -> ['note']."""
    found: list[str] = []
    count = len(infos)
    j = verb + 1
    limit = min(count, verb + 1 + OBJECT_REACH)
    expect_noun = True  # right after the verb, or after "and"/"," that follows an object
    while j < limit and len(found) < MAX_OBJECTS:
        info = infos[j]
        flags = info.flags
        if flags & BOUNDARY or covered[j] == BLOCKED:
            break
        noun_here = flags & VERB and _verb_form_is_noun(infos, j, expect_noun)
        if not noun_here and (
            flags & _SKIPPED_BEFORE_OBJECT or (flags & STOP and not flags & PREPOSITION)
        ):
            expect_noun = expect_noun and bool(flags & DETERMINER)
            j += 1
            continue
        if flags & (PREPOSITION | ACTOR):
            break
        head = _noun_run_end(infos, covered, j)
        if _is_entity(infos[head], covered[head], verb_form_ok=True):
            found.append(infos[head].lemma)
        j = head + 1
        if not (j < count and infos[j].flags & (CONJUNCTION | COMMA)):
            break
        j += 1
        expect_noun = True
    return found


def _verb_form_is_noun(infos: list[TokenInfo], j: int, expect_noun: bool) -> bool:
    """'orders' in 'create orders', 'the order', 'an order': a noun despite looking like a verb.

    A verb-looking word is taken as a noun after a determiner, or when plural where
    an object is expected; 'create, edit and delete notes' keeps its verbs.
    """
    info = infos[j]
    if infos[j - 1].flags & DETERMINER:
        return True
    return expect_noun and info.surface != info.lemma


def _noun_run_end(infos: list[TokenInfo], covered: bytearray, start: int) -> int:
    """The last word of the noun run starting at ``start`` ('shopping cart item')."""
    end = start
    while end + 1 < len(infos) and end + 1 - start < MAX_COMPOUND:
        following = infos[end + 1]
        flags = following.flags
        if not flags & WORD or covered[end + 1] != UNCOVERED:
            break  # a label word starts something else: 'notes offline'
        plural_noun = flags & VERB and following.surface != following.lemma
        if flags & _ENDS_NOUN_RUN and not (plural_noun and not flags & STOP):
            break
        end += 1
    return end


def _app_subject(infos: list[TokenInfo], covered: bytearray, head: int) -> str | None:
    """'a recipe app' -> 'recipe'; 'an expense tracking app' -> 'expense'."""
    j = head - 1
    if j >= 0 and infos[j].flags & VERB and infos[j].surface.endswith("ing"):
        j -= 1
    if j >= 0 and _is_entity(infos[j], covered[j]):
        return infos[j].lemma
    return None


def _is_entity(info: TokenInfo, coverage: int, verb_form_ok: bool = False) -> bool:
    """A noun that names a thing: not a label, a person, a vague word or a modifier."""
    rejected = _NOT_AN_ENTITY & ~VERB if verb_form_ok else _NOT_AN_ENTITY
    return coverage == UNCOVERED and info.flags & (_ENTITY | rejected) == _ENTITY


_ENTITY = WORD | NOUN_SHAPED
