"""The fake Anthropic's prompt cache: billing cache writes and reads as Anthropic does.

A request is a sequence of blocks in Anthropic's cache order (tools, then
system, then each message's content blocks). A block with ``cache_control``
is a breakpoint: the prefix up to and including it is written to the cache
when it is at least the model's minimum cacheable length (1024 tokens,
2048 for Haiku models, by the fake's word count) and lives 5 minutes (or an
hour for ``ttl: "1h"``), each hit renewing it. A later request reads the
longest cached prefix that ends at one of its breakpoints or up to 20 blocks
before one (Anthropic's lookback). Usage then splits the input three ways:
``cache_read_input_tokens`` (the prefix read), ``cache_creation_input_tokens``
(from there to the last breakpoint written) and ``input_tokens`` (the rest).
Entries are keyed by model and content, ``cache_control`` itself left out.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.chat import count_tokens

DEFAULT_MIN_CACHEABLE = 1024
HAIKU_MIN_CACHEABLE = 2048
LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
IMAGE_TOKENS = 100


@dataclass(frozen=True)
class Block:
    """One cacheable unit of a request: what it says, its tokens, its breakpoint if any."""

    key: str
    tokens: int
    cache_control: dict[str, Any] | None


@dataclass(frozen=True)
class Billed:
    """A request's input tokens as the cache took them."""

    uncached: int
    written: int
    read: int
    written_1h: int = 0  # of ``written``, the tokens up to breakpoints asking the 1-hour TTL


def block_text(block: Any) -> str:
    """The words a content block counts for: its text, a tool call's input, a result's content."""
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_use":
        return f"{block.get('name', '')} {json.dumps(block.get('input', {}))}"
    if kind == "tool_result":
        content = block.get("content", "")
        return content if isinstance(content, str) else " ".join(map(block_text, content))
    return ""


def _block(raw: Any) -> Block:
    cache_control = raw.get("cache_control") if isinstance(raw, dict) else None
    bare = {k: v for k, v in raw.items() if k != "cache_control"} if isinstance(raw, dict) else raw
    key = json.dumps(bare, sort_keys=True)
    if isinstance(raw, dict) and raw.get("type") == "image":
        tokens = IMAGE_TOKENS
    elif isinstance(raw, dict) and "input_schema" in raw:  # a tool definition
        tokens = count_tokens(json.dumps(bare))
    else:
        tokens = count_tokens(block_text(raw))
    return Block(key, tokens, cache_control)


def request_blocks(body: dict[str, Any]) -> list[Block]:
    """A Messages request's blocks in cache order: tools, system, then messages."""
    raw: list[Any] = list(body.get("tools") or [])
    raw += _as_blocks(body.get("system"))
    for message in body.get("messages") or ():
        raw += _as_blocks(message.get("content") if isinstance(message, dict) else None)
    return [_block(item) for item in raw]


def _as_blocks(content: Any) -> list[Any]:
    """Content as blocks: a string is one text block to Anthropic's cache, as it is to its model."""
    if isinstance(content, list):
        return content
    return [{"type": "text", "text": content}] if content else []


def min_cacheable(model: str) -> int:
    """The shortest prefix Anthropic caches for ``model``."""
    return HAIKU_MIN_CACHEABLE if "haiku" in model else DEFAULT_MIN_CACHEABLE


class PromptCache:
    """Cached prefixes by hash, with their expiry on ``clock``; thread-safe."""

    def __init__(self, clock: Callable[[], float], min_tokens: int | None = None) -> None:
        self._clock = clock
        self.min_tokens = min_tokens
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every cached prefix."""
        with self._lock:
            self._expiry.clear()

    def bill(self, model: str, blocks: list[Block]) -> Billed:
        """Split a request's input into read, written and uncached tokens, and cache its prefixes."""
        hashes, totals = _prefixes(model, blocks)
        marks = [i for i, block in enumerate(blocks) if block.cache_control is not None]
        minimum = self.min_tokens if self.min_tokens is not None else min_cacheable(model)
        with self._lock:
            now = self._clock()
            hit = max((self._hit(hashes, mark, now) for mark in marks), default=-1)
            read = totals[hit] if hit >= 0 else 0
            segments: list[tuple[int, float]] = []  # (tokens up to a written breakpoint, its TTL)
            for mark in marks:
                if totals[mark] >= minimum:
                    ttl = _ttl(blocks[mark].cache_control)
                    self._expiry[hashes[mark]] = max(self._expiry.get(hashes[mark], 0.0), now + ttl)
                    if mark > hit:
                        segments.append((totals[mark], ttl))
            if hit >= 0:
                self._expiry[hashes[hit]] = max(self._expiry[hashes[hit]], now + 300.0)
        written_1h, start = 0, read
        for end, ttl in segments:
            if ttl == TTL_SECONDS["1h"]:
                written_1h += end - start
            start = end
        written = start - read
        total = totals[-1] if totals else 0
        return Billed(total - read - written, written, read, written_1h)

    def _hit(self, hashes: list[str], mark: int, now: float) -> int:
        for position in range(mark, max(-1, mark - LOOKBACK_BLOCKS), -1):
            if self._expiry.get(hashes[position], 0.0) > now:
                return position
        return -1


def _ttl(cache_control: dict[str, Any] | None) -> float:
    return TTL_SECONDS.get(str((cache_control or {}).get("ttl", "5m")), TTL_SECONDS["5m"])


def _prefixes(model: str, blocks: list[Block]) -> tuple[list[str], list[int]]:
    """Each block's prefix hash and the tokens up to and including it."""
    digest = hashlib.sha256(model.encode())
    hashes: list[str] = []
    totals: list[int] = []
    running = 0
    for block in blocks:
        digest.update(b"\0" + block.key.encode())
        hashes.append(digest.copy().hexdigest())
        running += block.tokens
        totals.append(running)
    return hashes, totals
