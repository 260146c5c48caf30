"""Huge and hostile inputs: parse() finishes and returns a valid Intent.

Every pattern in the parser is linear in its input (see grump.intent.normalise),
so these inputs take a fraction of a second. The timeout is a hang detector
for catastrophic backtracking, tens of times above the expected cost, not a
speed measurement: speed is measured by bench/intent.py.
"""

from __future__ import annotations

import pytest

from grump.intent import parse
from tests.unit.test_intent_properties import assert_valid

_SIZE = 300_000  # characters per hostile input

HOSTILE = {
    "one huge word": "a" * _SIZE,
    "unclosed markdown links": "](" * (_SIZE // 2),
    "link targets without an end": "[x](" + "y" * _SIZE,
    "urls without spaces": "https://" * (_SIZE // 8),
    "headings everywhere": "# example\n" * (_SIZE // 10),
    "nested headings": "".join("#" * (n % 7 + 1) + " links\n" for n in range(_SIZE // 8)),
    "hashes without headings": "#" * _SIZE,
    "bullet storm": "\n- " * (_SIZE // 3),
    "negators only": "no " * (_SIZE // 3),
    "negated labels": "without login " * (_SIZE // 14),
    "post negations": "login not needed " * (_SIZE // 17),
    "clone chains": "clone of stripe " * (_SIZE // 16),
    "phrase prefixes that never finish": "sign in with " * (_SIZE // 13),
    "as a as a": "as a " * (_SIZE // 5),
    "verbs without objects": "create, edit and delete " * (_SIZE // 24),
    "dotted words": ".net." * (_SIZE // 5),
    "plus and hash runs": "c" + "+#" * (_SIZE // 2),
    "free suffixes": "-free" * (_SIZE // 5),
    "apostrophes": "'" * _SIZE,
    "control characters": "".join(chr(n % 32) for n in range(_SIZE)),
    "emoji and right-to-left": "😀\u202e\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627\u202d"
    * (_SIZE // 12),
    "digits": "9" * _SIZE,
    "distinct words": " ".join(f"w{n}x" for n in range(_SIZE // 8)),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_parsed(name: str) -> None:
    assert_valid(parse(HOSTILE[name]))


@pytest.mark.timeout(60)
def test_a_megabyte_of_requirements_is_parsed() -> None:
    paragraph = (
        "A marketplace where buyers and sellers chat in real time, pay with Stripe, "
        "leave reviews and get email notifications. No login needed for browsing. "
    )
    text = paragraph * (1_000_000 // len(paragraph) + 1)
    intent = parse(text)
    assert_valid(intent)
    assert {"messaging", "payments", "ratings_reviews", "email"} <= set(intent.features)
    assert intent.integrations == ("stripe",)
