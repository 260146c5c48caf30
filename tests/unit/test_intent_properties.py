"""Properties of parse() over any input: a valid Intent, never an exception, monotone complexity."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grump.intent import (
    CONSTRAINTS,
    FEATURES,
    INTEGRATIONS,
    PROJECT_TYPES,
    STACK,
    UNKNOWN,
    Intent,
    parse,
    parse_many,
)
from grump.intent.lexicon_features import FEATURE_PHRASES
from grump.intent.lexicon_product import CONSTRAINT_PHRASES, PROJECT_TYPE_PHRASES
from grump.intent.lexicon_tech import INTEGRATION_PHRASES
from grump.intent.tokens import CACHE_LIMIT, TokenTable

_LABEL_PHRASES = sorted(
    {
        phrase
        for table in (
            FEATURE_PHRASES,
            CONSTRAINT_PHRASES,
            PROJECT_TYPE_PHRASES,
            INTEGRATION_PHRASES,
        )
        for phrases in table.values()
        for phrase in phrases
    }
)
_GLUE = [
    "no",
    "not",
    "without",
    "doesn't",
    "isn't",
    "and",
    "or",
    "but",
    "with",
    "a",
    "the",
    "users",
    "admins",
    "can",
    "as",
    "an",
    "clone",
    "of",
    "free",
    "-free",
    "needed",
    "required",
    "create",
    "track",
    "notes",
    "app",
    "for",
    "teachers",
    ".",
    ",",
    ";",
    ":",
    "\n",
    "\n- ",
    "\n\n",
    "# ",
    "## Example projects\n",
    "(",
    ")",
    "!",
    "?",
    "😀",
    "\u05e9\u05dc\u05d5\u05dd",
    "\u0645\u0631\u062d\u0628\u0627",
    "\u202e",
    "\x00",
    "\x07",
    "c#",
    ".NET",
    "Next.js",
    "99.9%",
    "https://example.com/x",
    "[a](b)",
]
_ODD_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8")),
    st.binary().map(lambda raw: raw.decode("latin-1")),
    st.text(
        alphabet=st.sampled_from(
            "😀🚀👩‍💻\u200d\u202e\u202d\u05e9\u05dc\u05d5\u05dd\u0645\u0631\u062d\u0628\u0627\t\r\n\x00\x1b#-_.,'"
        )
    ),
)
# Text made of the words the parser reacts to, in any order: exercises every branch.
_WORDY_TEXT = st.lists(st.sampled_from(_LABEL_PHRASES + _GLUE), max_size=60).map(" ".join)
ANY_TEXT = st.one_of(_ODD_TEXT, _WORDY_TEXT)

_REQUIREMENTS = [
    "It must support " + phrase + "." for phrase in _LABEL_PHRASES if not phrase.startswith("no")
] + [
    "Customers can book tables.",
    "As a teacher I can grade homework.",
    "Admins manage invoices, refunds and payouts.",
    "Deploy it with Docker on Kubernetes in AWS.",
    "Store files in S3 and send email through SendGrid.",
]

_LABEL_SETS: dict[str, frozenset[str]] = {
    "features": frozenset(FEATURES),
    "integrations": frozenset(INTEGRATIONS),
    "constraints": frozenset(CONSTRAINTS),
}


def assert_valid(intent: Intent) -> None:
    assert intent.project_type in PROJECT_TYPES or intent.project_type == UNKNOWN
    for name, allowed in _LABEL_SETS.items():
        labels = getattr(intent, name)
        assert set(labels) <= allowed, name
        assert list(labels) == sorted(set(labels)), name
    for category, labels in intent.stack.items():
        assert category in STACK
        assert labels
        assert set(labels) <= set(STACK[category])
        assert labels == sorted(set(labels))
    for words in (intent.actors, intent.entities):
        assert list(words) == sorted(set(words))
        assert all(word and word == word.lower() and word.strip() == word for word in words)
    assert isinstance(intent.complexity, int)
    assert 0 <= intent.complexity <= 100
    assert isinstance(intent.confidence, float)
    assert 0.0 <= intent.confidence <= 1.0
    shape = intent.to_dict()
    assert json.loads(json.dumps(shape)) == shape
    assert Intent.from_dict(shape) == intent


@given(ANY_TEXT)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_gives_a_valid_intent(text: str) -> None:
    assert_valid(parse(text))


@given(ANY_TEXT, st.sampled_from(_REQUIREMENTS))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_appending_a_requirement_never_lowers_complexity(text: str, requirement: str) -> None:
    before = parse(text)
    after = parse(text + "\n\n" + requirement)
    assert after.complexity >= before.complexity


@given(ANY_TEXT, st.sampled_from(_REQUIREMENTS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_appending_a_requirement_never_loses_a_label(text: str, requirement: str) -> None:
    before = parse(text)
    after = parse(text + "\n\n" + requirement)
    for name in ("features", "integrations", "constraints", "actors", "entities"):
        assert set(getattr(before, name)) <= set(getattr(after, name)), name
    for category, labels in before.stack.items():
        assert set(labels) <= set(after.stack.get(category, [])), category


def test_empty_and_meaningless_text_is_unknown_with_no_labels_and_zero_confidence() -> None:
    for text in [
        "",
        "   ",
        "\n\n\t",
        "!!! ??? ...",
        "😀😀😀",
        "asdf qwer zxcv",
        "1234 5678",
        "\x00\x01",
    ]:
        intent = parse(text)
        assert intent == Intent(), text
        assert intent.project_type == UNKNOWN
        assert intent.confidence == 0.0


def test_a_clear_request_is_understood_with_high_confidence() -> None:
    clear = parse("A todo web app with login, reminders and Google Calendar sync")
    vague = parse("Something with stuff for the thing we talked about, you know, like a todo app")
    assert clear.confidence >= 0.8
    assert 0.0 < vague.confidence < clear.confidence


def test_parse_many_parses_each_text_in_order() -> None:
    texts = ["iOS app", "", "CLI tool in Rust", "Slack bot"]
    assert parse_many(texts) == [parse(text) for text in texts]
    assert parse_many(iter(texts)) == parse_many(texts)
    assert parse_many([]) == []


def test_parse_is_the_same_from_many_threads() -> None:
    texts = [requirement * 3 for requirement in _REQUIREMENTS[:200]]
    expected = [parse(text) for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(parse, texts)) == expected


def test_results_do_not_depend_on_what_was_parsed_before() -> None:
    text = "Buyers pay with Stripe; no login needed. As a seller I can list products."
    first = parse(text)
    parse(" ".join(f"word{n}" for n in range(5_000)))
    assert parse(text) == first


def test_token_memory_stays_bounded_under_a_flood_of_distinct_words() -> None:
    table = TokenTable()
    words = [f"w{n}" for n in range(CACHE_LIMIT + 1_000)]
    infos = table.infos(words)
    assert table.remembered() == CACHE_LIMIT
    assert [info.surface for info in infos] == words  # words past the limit still analysed
