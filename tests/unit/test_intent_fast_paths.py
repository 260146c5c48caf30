"""The parser's fast paths give what the plain versions give.

Speed work replaced regex scans and per-token loops by C-level string and bytes
operations (see grump.intent.normalise and grump.intent.codes); each is checked
here against the straightforward formulation it stands for.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grump.intent import Intent, parse
from grump.intent.codes import count, lane, ones, pair_bits, pair_candidates, positions
from grump.intent.model import assemble
from grump.intent.normalise import _ASCII_TOKEN_RE, TOKEN_RE, clean, tokenise, words
from grump.intent.tokens import token_table

# Characters that exercise every branch of the tokeniser and the cleaner.
_ALPHABET = "aZ9_ .,;:!?()|#+-'`/&%*>\t\n\x0b\x1c\x1féé٣•。"
_TEXTS = st.text(alphabet=_ALPHABET, max_size=40)
_CLAUSE_MARKS = frozenset("!?;:()")


def _reference_tokens(cleaned: str) -> list[str]:
    """TOKEN_RE's matches, with the clause marks tokenise may give as "|" made "|"."""
    pattern = _ASCII_TOKEN_RE if cleaned.isascii() else TOKEN_RE
    return [_canonical(token) for token in pattern.findall(cleaned)]


def _canonical(token: str) -> str:
    return "|" if token[0] == "\n" or token in _CLAUSE_MARKS else token


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_tokenise_finds_what_the_token_regex_finds(text: str) -> None:
    assert [_canonical(token) for token in tokenise(text)] == _reference_tokens(text)


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_words_is_tokenise_of_clean(text: str) -> None:
    assert words(text) == tokenise(clean(text))


# Pieces of URLs, Markdown links and "-free", joined at random: the bytes cleaning of
# words() must stop where clean() stops, at every kind of space and bracket.
_MARKED_TEXTS = st.lists(
    st.sampled_from(
        [
            "http://",
            "HTTPS://",
            "www.",
            "WWW.",
            "](",
            ")",
            "[",
            "]",
            "(",
            "-free",
            "-FREE",
            "_",
            "'",
            "`",
            " ",
            "\n",
            "\t",
            "\x1c",
            "\x1f",
            "\x0b",
            "a",
            "Z",
            "9",
            ".",
            "-",
            "/",
        ]
    ),
    max_size=24,
).map("".join)


@settings(max_examples=600, deadline=None)
@given(_MARKED_TEXTS)
def test_words_cleans_urls_links_and_free_as_clean_does(text: str) -> None:
    assert words(text) == tokenise(clean(text))


def test_words_sends_what_cleaning_changes_the_general_way() -> None:
    for text in (
        "An ad-free app",
        "AD-FREE",
        "see www.example.com",
        "https://x.io/a",
        "[a link](https://x.io)",
        "# Links\n- a",
        "C# and C++",
        "user's list\n'- item",
        "snake_case",
        "see http://x.io/a_b_c and [docs](./a_b.md) for an ad-free\x1capp",
        "[x](" + "a" * 399 + ") [y](" + "b" * 401 + ")",
        "an ad-free_x tool, ad-fr'ee, www.Example.COM/it's",
    ):
        assert words(text) == tokenise(clean(text)), text


def test_pair_filter_lets_every_phrase_start_through() -> None:
    table = token_table()
    bits = pair_bits(table.pairs, frozenset({"the", "a", "to"}))
    for first, second in table.pairs:
        pair_codes = bytes([bits[first], bits[second]])
        assert pair_candidates(pair_codes) == [0], (first, second)


def test_pair_filter_lines_each_token_up_with_the_next() -> None:
    bits = pair_bits([("sign", "up"), ("log", "in")], frozenset({"in"}))
    keys = ["please", "sign", "up", "or", "log", "in", "sign"]
    pair_codes = bytes(bits.get(key, 0) for key in keys)
    assert pair_candidates(pair_codes) == [1, 4]


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=255))
def test_code_lanes_match_a_plain_loop(codes: bytes, bits: int) -> None:
    expected = [i for i, code in enumerate(codes) if code & bits]
    assert positions(codes, bits) == expected
    assert count(codes, bits) == len(expected)
    assert ones(lane(codes, bits)) == expected


def test_assemble_builds_the_same_intent_as_the_constructor() -> None:
    values = (
        "web_app",
        ("admin", "user"),
        ("payments",),
        ("todo",),
        ("stripe",),
        {"database": ["postgres"]},
        ("security",),
        42,
        0.75,
    )
    built = assemble(*values)
    assert built == Intent(*values)
    assert repr(built) == repr(Intent(*values))
    assert built.to_dict() == Intent(*values).to_dict()


def test_negation_and_phrases_still_need_the_careful_pass() -> None:
    # Each of these takes a path the plain single-word text does not.
    assert "authentication" not in parse("A todo app, no login needed").features
    assert parse("React Native app with Postgres").stack == {
        "mobile": ["react_native"],
        "database": ["postgres"],
    }
    assert parse("an Instagram clone").integrations == ()
    signed_in = parse("sign in with GitHub")
    assert ("authentication" in signed_in.features, signed_in.integrations) == (True, ("github",))
