"""Text to tokens: one pass of cleaning, one regex to split.

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

_URL_RE: Final = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# A target stops at any bracket or space, so "](](](..." is not rescanned from each "](".
_LINK_TARGET_RE: Final = re.compile(r"\]\([^()\[\]\s]{0,400}\)")
# "ad-free", "login-free": the thing named before "-free" is not wanted.
_FREE_SUFFIX_RE: Final = re.compile(r"-free\b")
_HEADING_RE: Final = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+([^\n]*)$", re.MULTILINE)

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
    if "#" in text:
        text = _drop_reference_sections(text)
    if "://" in text or "www." in text:
        text = _URL_RE.sub(" ", text)
    if "](" in text:
        text = _LINK_TARGET_RE.sub("] ", text)
    text = text.lower()
    if "-free" in text:
        text = _FREE_SUFFIX_RE.sub(" unneeded", text)
    if not text.isascii():
        return text.translate(_TRANSLATION)
    for old, new in _ASCII_REPLACEMENTS:  # str.replace beats translate on ASCII text
        if old in text:
            text = text.replace(old, new)
    return text


def tokenise(cleaned: str) -> list[str]:
    if cleaned.isascii():
        return _ASCII_TOKEN_RE.findall(cleaned)
    return TOKEN_RE.findall(cleaned)


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
