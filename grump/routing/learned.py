"""The learned complexity score: logistic regression on the task, 0 to 100.

Features come from the latest user turn (the task): hashed word unigrams,
bigrams and five-letter word stems, plus a few structural counts (its length,
code fences, list items, questions). The rest of the conversation is evidence
with small weights (how many turns came before, whether they carried code); a
system prompt's length is not a feature. The weights are trained offline by
``bench/routing_eval.py --write`` on ``tests/data/routing-requests.jsonl`` and
shipped as ``grump/data/routing-scorer.json``; applying them is plain Python
(a sum over the present features), well under a millisecond.

The score is ``100 * sigmoid(z)`` with the bias shifted at training so that
the cut chosen in cross-validation (just below every held-back hard request: the
target is at most 5% on economy, and when unsure, premium) lands on score 60,
``GRUMP_ROUTING_THRESHOLD``'s default.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from grump.jobs.models import CompleteInput

log = logging.getLogger(__name__)

WEIGHTS_FILE = "routing-scorer.json"
TASK_CHARS = 4_000  # the head of a very long turn says what the task is
_WORD = re.compile(r"[a-z0-9_]+(?:'[a-z]+)?")
_LIST_ITEM = re.compile(r"(?m)^[ \t]*(?:\d{1,3}[.)]|[-*+])[ \t]+\S")
STRUCTURAL = (
    "log_words",
    "code_fences",
    "list_items",
    "questions",
    "sentences",
    "log_earlier_turns",
    "earlier_code",
    "inline_code",
)


@dataclass(frozen=True)
class ScorerWeights:
    """A trained scorer: hashed-feature weights, structural weights and the bias."""

    dim: int
    bias: float
    hashed: tuple[float, ...]
    structural: tuple[float, ...]

    @classmethod
    def loads(cls, text: str) -> ScorerWeights:
        """Weights from the JSON the training script writes; ValueError when malformed."""
        raw = json.loads(text)
        dim = int(raw["dim"])
        hashed = tuple(float(w) for w in raw["hashed"])
        structural = tuple(float(raw["structural"][name]) for name in STRUCTURAL)
        if len(hashed) != dim:
            raise ValueError(f"{len(hashed)} hashed weights for dim {dim}")
        return cls(dim=dim, bias=float(raw["bias"]), hashed=hashed, structural=structural)


@lru_cache(maxsize=1)
def shipped_weights() -> ScorerWeights | None:
    """The weights shipped in ``grump/data``, read once per process; None when unreadable."""
    try:
        text = resources.files("grump").joinpath("data", WEIGHTS_FILE).read_text("utf-8")
        return ScorerWeights.loads(text)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("routing scorer weights unreadable (%s): scoring by keywords", exc)
        return None


def latest_task(request: CompleteInput) -> tuple[str, list[str]]:
    """The latest user turn, and the text of the non-system turns before it."""
    messages = request.messages
    for at in range(len(messages) - 1, -1, -1):
        if messages[at].role == "user":
            earlier = [m.text() for m in messages[:at] if m.role != "system"]
            return messages[at].text(), earlier
    return (messages[-1].text() if messages else ""), []


def hashed_indexes(text: str, dim: int) -> set[int]:
    """The hashed n-gram features present in ``text`` (lower-cased words, bigrams, stems)."""
    words = _WORD.findall(text[:TASK_CHARS].lower())
    keys = [f"w:{w}" for w in words]
    keys.extend(f"b:{a} {b}" for a, b in itertools.pairwise(words))
    keys.extend(f"s:{w[:5]}" for w in words if len(w) > 5)
    return {zlib.crc32(key.encode()) % dim for key in keys}


def structural_features(task: str, earlier: list[str]) -> tuple[float, ...]:
    """The structural counts, scaled to about 0..1, in the order of ``STRUCTURAL``."""
    head = task[:TASK_CHARS]
    words = len(head.split())
    fences = head.count("```")
    return (
        math.log1p(words) / 6.0,
        min(fences, 4) / 4.0,
        min(len(_LIST_ITEM.findall(head)), 10) / 10.0,
        min(head.count("?"), 5) / 5.0,
        min(head.count(". ") + head.count(".\n") + 1, 20) / 20.0,
        math.log1p(len(earlier)) / 3.0,
        1.0 if any("```" in turn for turn in earlier) else 0.0,
        min(head.count("`") - 3 * fences, 10) / 10.0,
    )


def margin(request: CompleteInput, weights: ScorerWeights) -> float:
    """The classifier's log-odds that ``request`` is hard work."""
    task, earlier = latest_task(request)
    hashed = weights.hashed
    total = weights.bias
    for index in hashed_indexes(task, weights.dim):
        total += hashed[index]
    for value, weight in zip(structural_features(task, earlier), weights.structural, strict=True):
        total += value * weight
    return total


def learned_complexity(request: CompleteInput, weights: ScorerWeights) -> int:
    """How hard a request looks to the classifier with ``weights``, 0 to 100."""
    z = margin(request, weights)
    z = max(-30.0, min(30.0, z))
    return round(100.0 / (1.0 + math.exp(-z)))
