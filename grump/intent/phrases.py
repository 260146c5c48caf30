"""Helpers for writing word lists compactly, as prose-like strings."""

from __future__ import annotations


def split_phrases(text: str) -> tuple[str, ...]:
    """'login, log in, sign up' -> ('login', 'log in', 'sign up')."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def split_words(text: str) -> frozenset[str]:
    """'no not without' -> frozenset({'no', 'not', 'without'})."""
    return frozenset(text.split())
