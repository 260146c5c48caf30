"""The complexity score of a ``complete`` request: 0 to 100 from cheap text signals.

The score is the sum of these points, clamped to 0..100:

========== ======================================================== ======
signal     points                                                   cap
========== ======================================================== ======
length     log-scaled estimated tokens: 0 at 32 tokens, 30 at 4,000 30
turns      3 per user/assistant message after the first             10
code       8 per fenced code block (an unclosed fence counts)       16
steps      3 per numbered/bulleted line or sequencing phrase        15
           ("then", "after that", "finally", "step 2", ...)
reasoning  15 per distinct reasoning/design word ("architecture",   60
           "refactor", "prove", "optimise", "debug", "trade-off",
           "concurrency", "distributed", ...)
========== ======================================================== ======

Adding a message, or a line to a message, never lowers the score.
"""

from __future__ import annotations

import math
import re

from grump.jobs.models import CompleteInput
from grump.providers.base import estimate_tokens

_LENGTH_FLOOR_TOKENS = 32
_LENGTH_FULL_TOKENS = 4_000
_LENGTH_CAP = 30
_LENGTH_SCALE = _LENGTH_CAP / math.log(_LENGTH_FULL_TOKENS / _LENGTH_FLOOR_TOKENS)
_TURN_POINTS, _TURN_CAP = 3, 10
_CODE_POINTS, _CODE_CAP = 8, 16
_STEP_POINTS, _STEP_CAP = 3, 15
_REASONING_POINTS, _REASONING_CAP = 15, 60

# A list item starts a line. Searching for the newline first is what keeps the
# scan fast: Python's regex engine only skips ahead quickly to a literal start.
_LIST_ITEM = re.compile(r"\n[ \t]*(?:\d{1,3}[.)]|[-*+\u2022])[ \t]+\S")


_Word = tuple[str, str, "re.Pattern[str]"]  # (concept, literal start, pattern)


def _words(*table: tuple[str, str, str]) -> tuple[_Word, ...]:
    """Compile (concept, literal start in lower case, rest of the pattern) rows."""
    return tuple((c, start, re.compile(re.escape(start) + rest)) for c, start, rest in table)


_SEQUENCE_PHRASES = _words(
    *(("step", start, r"\b") for start in ("then", "after that", "afterwards", "finally")),
    ("step", "step ", r"\d"),
    *(("step", start, r"(?:ly)?,") for start in ("next", "first", "second")),
)
# Several words may stand for one concept; each concept counts once.
_REASONING_WORDS = _words(
    ("architecture", "architect", ""),
    ("refactor", "refactor", ""),
    ("prove", "prove", r"[sdn]?\b"),
    ("prove", "proving", ""),
    ("prove", "proof", ""),
    ("optimise", "optimi", "[sz]"),
    ("debug", "debug", ""),
    ("design", "design", ""),
    ("trade-off", "trade", r"[- ]?offs?\b"),
    ("concurrency", "concurren", ""),
    ("concurrency", "race condition", ""),
    ("concurrency", "deadlock", ""),
    ("concurrency", "thread", r"[- ]?safe"),
    ("distributed", "distributed", r"\b"),
    ("distributed", "consensus", ""),
    ("algorithm", "algorithm", ""),
    ("scalability", "scalab", ""),
    ("security", "security", ""),
    ("security", "vulnerab", ""),
    ("security", "threat model", ""),
    ("analysis", "analy", "[sz]"),
    ("reasoning", "step", r"[- ]by[- ]step"),
    ("reasoning", "reason about", ""),
    ("reasoning", "deriv", r"(?:e|es|ed|ing|ation)\b"),
    ("migration", "migrat", ""),
    ("invariant", "invariant", ""),
    ("invariant", "formal", r"(?:ly)? (?:verif|proof|spec)"),
)


def _count_at_word_start(text: str, pattern: re.Pattern[str], limit: int) -> int:
    """Matches of ``pattern`` in ``text`` that start a word, up to ``limit``."""
    found = 0
    for match in pattern.finditer(text):
        at = match.start()
        if at == 0 or not text[at - 1].isalnum():
            found += 1
            if found >= limit:
                break
    return found


def _step_count(text: str, limit: int) -> int:
    found = len(_LIST_ITEM.findall("\n" + text))
    for _, start, pattern in _SEQUENCE_PHRASES:
        if found >= limit:
            break
        # A substring test is far cheaper than a regex scan, and most words are absent.
        if start in text:
            found += _count_at_word_start(text, pattern, limit - found)
    return found


def _reasoning_concepts(text: str) -> int:
    concepts: set[str] = set()
    for concept, start, pattern in _REASONING_WORDS:
        if start in text and concept not in concepts and _count_at_word_start(text, pattern, 1):
            concepts.add(concept)
    return len(concepts)


def _length_points(tokens: int) -> int:
    if tokens <= _LENGTH_FLOOR_TOKENS:
        return 0
    points = _LENGTH_SCALE * math.log(tokens / _LENGTH_FLOOR_TOKENS)
    return min(_LENGTH_CAP, int(points))


_SIGNALS = ("length", "turns", "code", "steps", "reasoning")


def _signal_points(request: CompleteInput) -> tuple[int, int, int, int, int]:
    """Points of each signal, in the order of ``_SIGNALS``."""
    contents = [m.text() for m in request.messages]
    text = "\n".join(contents).lower()
    tokens = 0
    for content in contents:
        tokens += estimate_tokens(content)
    turns = 0
    for message in request.messages:
        turns += message.role != "system"
    blocks = (text.count("```") + 1) // 2  # an unclosed fence still opens a block
    return (
        _length_points(tokens),
        min(_TURN_CAP, _TURN_POINTS * max(0, turns - 1)),
        min(_CODE_CAP, _CODE_POINTS * blocks),
        min(_STEP_CAP, _STEP_POINTS * _step_count(text, -(-_STEP_CAP // _STEP_POINTS))),
        min(_REASONING_CAP, _REASONING_POINTS * _reasoning_concepts(text)),
    )


def _clamp_score(value: int) -> int:
    return max(0, min(100, value))


def complexity_breakdown(request: CompleteInput) -> dict[str, int]:
    """The points of each signal behind ``complexity``, for logs and tuning."""
    return dict(zip(_SIGNALS, _signal_points(request), strict=True))


def complexity(request: CompleteInput) -> int:
    """How hard a request looks, 0 (trivial) to 100 (hard); see the module docstring."""
    return _clamp_score(sum(_signal_points(request)))
