"""Text to tokens: one pass of cleaning, then a split (or one regex).

Every pattern here is linear in the input: no nested quantifiers, and the one
bounded repeat (a Markdown link target) stops after a few hundred characters,
so a megabyte of hostile text costs what a megabyte of prose costs.
"""

from __future__ import annotations

import re
from typing import Final

from grump.intent.phrases import split_words

# A word (letters/digits, any script) optionally followed by "#"/"+" ("c#", "c++");
# or a word led by a dot (".net", ".js"); or punctuation that ends a clause; or a
# line break that starts a list item or follows a blank line.
_TOKEN_PATTERN: Final = (
    r"\w+[#+]*"
    r"|\.\w+"
    r"|[.!?;:()|•\u3002\uff01\uff1f,]"
    r"|\n[ \t]*(?:[-*+>#|\n]|\d{1,3}[.)])"
)
TOKEN_RE: Final = re.compile(_TOKEN_PATTERN)
# The same tokens for ASCII text, found faster (no Unicode class lookups).
_ASCII_TOKEN_RE: Final = re.compile(_TOKEN_PATTERN, re.ASCII)

# A line break that starts a list item or follows a blank line (as TOKEN_RE finds it).
_LINE_TOKEN_RE: Final = re.compile(r"\n[ \t]*(?:[-*+>#|\n]|\d{1,3}[.)])")
_LINE_TOKEN_BYTES_RE: Final = re.compile(rb"\n[ \t]*(?:[-*+>#|\n]|\d{1,3}[.)])")
# For _split: clause marks but "." and "," become "|"; bytes never part of a
# token become spaces (all but letters, digits, whitespace and ".,#+_").
_KEPT_BYTES: Final = frozenset(b".,#+_ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")
_ASCII_TABLE: Final = bytes(
    code
    if chr(code).isalnum() or code in _KEPT_BYTES
    else ord("|")
    if chr(code) in "!?;:()|"
    else ord(" ")
    for code in range(256)
)

_URL_RE: Final = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# A target stops at any bracket or space, so "](](](..." is not rescanned from each "](".
_LINK_TARGET_RE: Final = re.compile(r"\]\([^()\[\]\s]{0,400}\)")
# "ad-free", "login-free": the thing named before "-free" is not wanted.
_FREE_SUFFIX_RE: Final = re.compile(r"-free\b")
_HEADING_RE: Final = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+([^\n]*)$", re.MULTILINE)
# The same three for ASCII bytes. str patterns count \x1c-\x1f as spaces, bytes
# patterns do not: the classes are spelled out so both stop at the same bytes.
_SPACE_BYTES: Final = rb" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_URL_BYTES_RE: Final = re.compile(rb"(?:https?://|www\.)[^" + _SPACE_BYTES + rb"]+")
_LINK_TARGET_BYTES_RE: Final = re.compile(rb"\]\([^()\[\]" + _SPACE_BYTES + rb"]{0,400}\)")
_FREE_SUFFIX_BYTES_RE: Final = re.compile(rb"-free\b")
_LOWER_TABLE: Final = bytes(code + 32 if 65 <= code <= 90 else code for code in range(256))
# What clean() does to ASCII text, as a table: lower case, "_" to a space (apostrophes
# are deleted by translate's second argument).
_CLEAN_TABLE: Final = bytes(
    ord(" ") if code == ord("_") else lowered for code, lowered in enumerate(_LOWER_TABLE)
)

# Apostrophes vanish so "doesn't" is one word ("doesnt") and "user's" folds to "user";
# underscores split words like hyphens do ("react_native").
_TRANSLATION: Final[dict[int, str | None]] = {ord(c): None for c in "'\u2019\u2018`\u00b4"}
_TRANSLATION[ord("_")] = " "
_ASCII_REPLACEMENTS: Final = (("'", ""), ("`", ""), ("_", " "))

# Headings of sections that point at other work rather than describe this one.
_REFERENCE_HEADINGS: Final = split_words(
    "example examples links link resources resource references reference inspiration "
    "credits reading acknowledgements acknowledgments"
)


def clean(text: str) -> str:
    """Lower-cased text without URLs, link targets, apostrophes or reference sections."""
    # Lower case first, so that "WWW." is found as "www." is.
    text = text.lower()
    if "#" in text:
        text = _drop_reference_sections(text)
    if "://" in text or "www." in text:
        text = _URL_RE.sub(" ", text)
    if "](" in text:
        text = _LINK_TARGET_RE.sub("] ", text)
    if "-free" in text:
        text = _FREE_SUFFIX_RE.sub(" unneeded", text)
    if not text.isascii():
        return text.translate(_TRANSLATION)
    for old, new in _ASCII_REPLACEMENTS:  # str.replace beats translate on ASCII text
        if old in text:
            text = text.replace(old, new)
    return text


def words(text: str) -> list[str]:
    """``tokenise(clean(text))``, faster for plain ASCII text (most requests).

    Such text is cleaned with one ``bytes.translate`` (lower case, "_" to a space,
    apostrophes dropped) and split (see ``_split``). URLs, link targets and "-free"
    are cleaned on the bytes too (``_clean_marked``); only "#" and "+" (a heading,
    "c#", "c++") need the general way, for the tokeniser's regex.
    """
    if not text.isascii():
        return tokenise(clean(text))
    data = text.encode("ascii").translate(_CLEAN_TABLE, b"'`")
    # Tested on the cleaned text, which shows all of these the original shows (cleaning
    # only lowers and drops apostrophes), as a str: b"x" in some_bytes is slow, as it
    # first tries b"x" as a byte value and clears the TypeError.
    cleaned = data.decode("ascii")
    if "#" in cleaned or "+" in cleaned:
        return tokenise(clean(text))
    if "://" in cleaned or "www." in cleaned or "](" in cleaned or "-free" in cleaned:
        data = _clean_marked(text.encode("ascii"))
    if "\n" in text:
        data = _LINE_TOKEN_BYTES_RE.sub(b" | ", data)
    return _split(data)


def _clean_marked(data: bytes) -> bytes:
    """``clean`` of ASCII text without "#", as bytes, steps in the same order."""
    data = data.translate(_LOWER_TABLE)
    data = _URL_BYTES_RE.sub(b" ", data)
    data = _LINK_TARGET_BYTES_RE.sub(b"] ", data)
    data = _FREE_SUFFIX_BYTES_RE.sub(b" unneeded", data)
    return data.translate(_CLEAN_TABLE, b"'`")


def tokenise(cleaned: str) -> list[str]:
    """The tokens of cleaned text, in order: the matches of ``TOKEN_RE``.

    A clause break other than "." and "," (a line break token, "!", "?", ";",
    ":", "(", ")") may come out as "|": it means the same to the parser.
    A regex match costs a few hundred ns in CPython, a large part of a parse's
    budget per word, while ``str.split`` finds plain words at C speed: so
    ASCII text without "#", "+" or "_" (which make words like "c#" and "c++")
    is split instead.
    """
    if "\n" in cleaned:
        cleaned = _LINE_TOKEN_RE.sub(" | ", cleaned)
    if not cleaned.isascii():
        return TOKEN_RE.findall(cleaned)
    if "#" in cleaned or "+" in cleaned or "_" in cleaned:
        return _ASCII_TOKEN_RE.findall(cleaned)
    return _split(cleaned.encode("ascii"))


def _split(data: bytes) -> list[str]:
    """``TOKEN_RE.findall`` of ASCII text without "#", "+", "_" or line break tokens.

    No token spans a space, a clause mark or any other non-word character, so
    junk becomes spaces and marks are spaced apart without changing any token;
    "." only gets a space before it, as it may start a token (".js", ".net").
    Bytes, because ``bytes.translate`` is a plain table lookup, several times
    faster than ``str.translate``; and one "|" for the clause marks saves a
    ``replace`` per mark.
    """
    data = data.translate(_ASCII_TABLE)
    data = data.replace(b"|", b" | ").replace(b",", b" , ").replace(b".", b" .")
    return data.decode("ascii").split()


def _drop_reference_sections(text: str) -> str:
    """Drop Markdown sections like "## Useful links" or "## Example projects".

    A dropped section runs to the next heading of the same or a higher level.
    """
    kept: list[str] = []
    position = 0
    skip_level = 0
    for heading in _HEADING_RE.finditer(text):
        level = len(heading.group(1))
        if skip_level and level > skip_level:
            continue
        if skip_level:
            position = heading.start()
            skip_level = 0
        if _is_reference_heading(heading.group(2)):
            kept.append(text[position : heading.start()])
            skip_level = level
    if not skip_level:
        kept.append(text[position:])
    return "".join(kept)


def _is_reference_heading(title: str) -> bool:
    words = re.findall(r"[a-z]+", title.lower()[:80])
    return any(word in _REFERENCE_HEADINGS for word in words)
