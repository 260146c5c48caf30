"""Cheap word folding: plurals to singular, and inflections to one matching key.

Two forms per word:

- ``singular(word)`` is what grump reports for actors and entities ("categories"
  -> "category", "movies" -> "movie"), so it must read as an English word.
- ``match_key(word)`` folds further ("booked", "schedules", "scheduling" ->
  "book", "schedul", "schedul") and is only ever compared with other keys made
  by the same function, so it needs to be consistent, not pretty.
"""

from __future__ import annotations

from typing import Final

from grump.intent.phrases import split_words as _words

_IRREGULAR_PLURALS: Final[dict[str, str]] = {
    "people": "person",
    "children": "child",
    "men": "man",
    "women": "woman",
    "mice": "mouse",
    "geese": "goose",
    "feet": "foot",
    "teeth": "tooth",
    "data": "data",
    "media": "media",
    "criteria": "criterion",
    "analyses": "analysis",
    "bases": "base",
    "indices": "index",
    "matrices": "matrix",
    "vertices": "vertex",
    "quizzes": "quiz",
    "heroes": "hero",
    "potatoes": "potato",
    "tomatoes": "tomato",
    "echoes": "echo",
    "wolves": "wolf",
    "leaves": "leaf",
    "knives": "knife",
    "lives": "life",
    "wives": "wife",
    "shelves": "shelf",
    "halves": "half",
    "thieves": "thief",
    "loaves": "loaf",
    "ads": "ad",
    "ids": "id",
    "apis": "api",
    "uis": "ui",
    "dms": "dm",
    "kpis": "kpi",
}

# Words that end like plurals but are not ("-s" is part of the word).
_NOT_PLURAL: Final = _words(
    "news series species always perhaps whereas thanks kudos lens canvas atlas alias "
    "bias chaos gas yes ios macos windows kubernetes postgres redis rails jenkins aws "
    "sms gps css https http js nodejs nextjs vuejs reactjs nestjs expressjs nuxtjs "
    "solidjs angularjs sass less plus minus cors dns sales mathematics physics economics "
    "ethics logistics analytics statistics metrics graphics electronics politics "
    "genetics robotics diabetes rabies measles mumps pants scissors glasses clothes "
    "premises headquarters chess billiards athletics gymnastics aerobics pilates mars "
    "venus uranus texas paris whatsapp ajax lodash socketio devops ops mmos rss gis dos "
    "sqs sns ses ecs eks"
)

# "-us"/"-is" words whose plural adds "-es".
_US_IS_STEMS: Final = _words(
    "status bonus campus virus bus focus census corpus syllabus apparatus cactus octopus "
    "thesaurus prospectus stimulus radius genius chorus circus sinus abacus exodus nexus "
    "plus minus alias atlas canvas lens class pass boss process address access business"
)

# "-ie" words whose plural "-ies" must not become "-y".
_IE_WORDS: Final = _words(
    "movie cookie tie pie lie zombie rookie selfie calorie brownie smoothie pixie auntie "
    "goalie hoodie sweetie techie prairie genie newbie freebie foodie"
)

# "-che" words whose plural is "-ches" + nothing dropped but the "s".
_CHE_WORDS: Final = _words("cache niche headache moustache avalanche psyche creche quiche")

# Words where a trailing "-ing"/"-ed"/"-e" is part of the word, not an inflection.
_NO_SUFFIX: Final = _words(
    "booking rating listing setting meeting building shipping wedding clothing pudding "
    "morning evening ceiling string thing nothing something anything everything king "
    "ring ping sing wing bring sibling during pricing hosting parking painting feed need "
    "speed seed embed bed shed red bleed breed deed weed greed steed reed led fred ted "
    "ned messaging mapping heading padding spacing timing"
)

_VOWELS: Final = frozenset("aeiou")
_KEEP_DOUBLE: Final = frozenset("lsz")


def singular(word: str) -> str:
    """The singular of an English noun (lower case in, lower case out)."""
    irregular = _IRREGULAR_PLURALS.get(word)
    if irregular is not None:
        return irregular
    if len(word) <= 3 or not word.endswith("s") or word in _NOT_PLURAL:
        return word
    if word.endswith(("ss", "us", "is", "ics")):
        return word
    if word.endswith("ies"):
        stem = word[:-3]
        return stem + "ie" if stem + "ie" in _IE_WORDS else stem + "y"
    if word.endswith("es"):
        return _singular_es(word)
    return word[:-1]


def _singular_es(word: str) -> str:
    stem = word[:-2]
    if stem in _US_IS_STEMS or word.endswith(("sses", "xes", "shes", "zzes")):
        return stem
    if word.endswith("ches"):
        return word[:-1] if word[:-1] in _CHE_WORDS else stem
    return word[:-1]


def match_key(word: str) -> str:
    """A key shared by a word's plural and inflected forms ("uploads", "uploaded" -> "upload")."""
    base = singular(word)
    if base in _NO_SUFFIX or not base.isalpha():
        return base
    if base.endswith("ing") and len(base) >= 6:
        base = base[:-3]
    elif base.endswith("ied") and len(base) >= 5:
        return base[:-3] + "y"
    elif base.endswith("ed") and len(base) >= 5:
        base = base[:-2]
    elif base.endswith("e") and len(base) >= 4 and base[-2] not in _VOWELS:
        return base[:-1]
    else:
        return base
    return _undouble(base)


def _undouble(stem: str) -> str:
    """'shipp' -> 'ship', 'chatt' -> 'chat'; a trailing 'e' dropped like the bare form drops it."""
    last = stem[-1]
    if len(stem) >= 4 and last == stem[-2] and last not in _VOWELS and last not in _KEEP_DOUBLE:
        return stem[:-1]
    if last == "e" and len(stem) >= 4 and stem[-2] not in _VOWELS:
        return stem[:-1]
    return stem
