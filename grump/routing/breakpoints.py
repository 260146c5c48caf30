"""Anthropic prompt-cache breakpoints grump places itself, as coding assistants do.

A request that carries no ``cache_control`` anywhere gets up to four
breakpoints (Anthropic's limit) on its prefix, in Anthropic's render order
(tools, then system, then messages): on the last tool definition, on the last
system block, and, when it continues a session, on the last message before the
newest user turn (the earlier turns) and on that newest turn itself, which the
session's next request reads. A session's first request leaves its user turn
uncached: a one-off request would pay the write's surcharge for nothing. Each
is placed only when the prefix it closes reaches the model's minimum
cacheable length; below it Anthropic caches nothing. A request with any
breakpoint of its own is left exactly as the client sent it.

``prefixes`` names every place a request can be cut (after its tools, after
each message) with the prefix's estimated tokens and a hash of its content, so
``grump.routing.warm_prefixes`` can tell which of them grump sent recently.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from grump.jobs.models import CompleteInput, ContentPart, Message
from grump.providers.base import estimate_tokens
from grump.routing.pricing import MESSAGE_OVERHEAD_TOKENS, ModelPrice

Ttl = Literal["5m", "1h"]
MAX_BREAKPOINTS = 4  # Anthropic refuses a request with more
TTL_SECONDS: dict[Ttl, int] = {"5m": 300, "1h": 3600}
DEFAULT_MINIMUM_TOKENS = 1024
# Anthropic's minimum cacheable prompt length per model (platform.claude.com prompt-caching
# docs, "Cache limitations"): 1,024 tokens for Sonnet 4.6/4.5/4/3.7 and Opus 4.1/4; 2,048 for
# Haiku 3.5 and 3; 4,096 for Opus 4.6/4.5 and Haiku 4.5. Matched on the model name's start.
MINIMUM_TOKENS: tuple[tuple[str, int], ...] = (
    ("claude-opus-4-5", 4096),
    ("claude-opus-4-6", 4096),
    ("claude-haiku-4-5", 4096),
    ("claude-3-5-haiku", 2048),
    ("claude-3-haiku", 2048),
)


@dataclass(frozen=True)
class Prefix:
    """A place a request's prompt can be cut: after its tools (``index`` -1) or a message.

    ``tokens`` is the estimated length of everything up to and including it;
    ``digest`` hashes the model and that content, breakpoints left out, so the
    same prefix hashes the same whether or not a breakpoint sits on it.
    """

    index: int
    tokens: int
    digest: str


def minimum_cacheable_tokens(model: str) -> int:
    """The shortest prefix ``model``'s prompt cache stores, in tokens."""
    name = model.lower().removeprefix("anthropic/")
    for start, tokens in MINIMUM_TOKENS:
        if name.startswith(start):
            return tokens
    return DEFAULT_MINIMUM_TOKENS


def is_prompt_cached(price: ModelPrice) -> bool:
    """Whether ``price``'s model is a Claude route with a prompt cache to place breakpoints for."""
    return price.provider == "anthropic" and price.cached_input_per_million is not None


def cache_control(ttl: Ttl) -> dict[str, Any]:
    """The ``cache_control`` of a breakpoint with ``ttl`` (5 minutes is Anthropic's default)."""
    return {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": "1h"}


def has_cache_control(payload: CompleteInput) -> bool:
    """Whether the request carries a breakpoint anywhere: a tool, a message, or a content part."""
    if any(tool.get("cache_control") for tool in payload.tools or ()):
        return True
    return any(_message_control(message) is not None for message in payload.messages)


def client_breakpoints(payload: CompleteInput) -> list[tuple[int, Ttl]]:
    """The prefixes a client's own breakpoints close, as (``Prefix.index``, TTL), in order.

    Only breakpoints at the end of the tools or of a message close a prefix
    ``prefixes`` names; one on an earlier tool or part is sent, not recorded.
    """
    found: list[tuple[int, Ttl]] = []
    last_tool = (payload.tools or [{}])[-1].get("cache_control")
    if last_tool:
        found.append((-1, _ttl_of(last_tool)))
    for index in _render_order(payload):
        message = payload.messages[index]
        control = message.cache_control
        if control is None and isinstance(message.content, list) and message.content:
            control = message.content[-1].cache_control
        if control is not None:
            found.append((index, _ttl_of(control)))
    return found


def prefixes(model: str, payload: CompleteInput) -> list[Prefix]:
    """Every place ``payload`` can be cut, in Anthropic's render order, with its length and hash."""
    running = hashlib.sha256(model.encode())
    tokens = 0
    cuts: list[Prefix] = []
    if payload.tools:
        tools = [{k: v for k, v in t.items() if k != "cache_control"} for t in payload.tools]
        text = json.dumps(tools, separators=(",", ":"), sort_keys=True)
        running.update(b"T" + text.encode())
        tokens += estimate_tokens(json.dumps(tools, separators=(",", ":")))
        cuts.append(Prefix(-1, tokens, running.hexdigest()))
    for index in _render_order(payload):
        message = payload.messages[index]
        running.update(b"M" + _canonical(message).encode())
        tokens += estimate_tokens(message.text()) + MESSAGE_OVERHEAD_TOKENS
        cuts.append(Prefix(index, tokens, running.copy().hexdigest()))
    return cuts


def breakpoint_indexes(payload: CompleteInput, minimum: int) -> list[int]:
    """Where grump would place breakpoints (``Prefix.index`` values), in order, at most 4."""
    tokens = {cut.index: cut.tokens for cut in prefixes("", payload)}
    systems = [i for i, m in enumerate(payload.messages) if m.role == "system"]
    candidates: list[int] = [-1] if payload.tools else []
    if systems:
        candidates.append(systems[-1])
    earlier = _before_newest_user_turn(payload.messages)
    if earlier is not None:
        # A session goes on: cache its earlier turns, and this one for the next turn to read.
        newest = max(i for i, m in enumerate(payload.messages) if m.role in ("user", "tool"))
        candidates += [earlier, newest]
    placed = [
        i for i in candidates if tokens[i] >= minimum and (i < 0 or _can_carry(payload.messages[i]))
    ]
    return placed[-MAX_BREAKPOINTS:]


def continues_session(payload: CompleteInput) -> bool:
    """Whether the request has turns before its newest user one (it is not a session's first)."""
    return _before_newest_user_turn(payload.messages) is not None


def place_breakpoints(payload: CompleteInput, price: ModelPrice, ttl: Ttl = "5m") -> CompleteInput:
    """``payload`` with grump's breakpoints on its stable prefix, or unchanged.

    Unchanged when the model is not a prompt-cached Claude route, when the
    client sent any ``cache_control`` of its own, or when no prefix reaches
    the model's minimum cacheable length. Placing twice changes nothing more.
    """
    if not is_prompt_cached(price) or has_cache_control(payload):
        return payload
    indexes = breakpoint_indexes(payload, minimum_cacheable_tokens(price.model))
    if not indexes:
        return payload
    return mark(payload, indexes, cache_control(ttl))


def mark(payload: CompleteInput, indexes: Sequence[int], control: dict[str, Any]) -> CompleteInput:
    """``payload`` with ``control`` on the prefixes ``indexes`` close (-1: the last tool)."""
    update: dict[str, Any] = {}
    if -1 in indexes and payload.tools:
        tools = [dict(tool) for tool in payload.tools]
        tools[-1]["cache_control"] = dict(control)
        update["tools"] = tools
    messages = list(payload.messages)
    for index in indexes:
        if index >= 0:
            messages[index] = _marked(messages[index], control)
    update["messages"] = messages
    return payload.model_copy(update=update)


def _marked(message: Message, control: dict[str, Any]) -> Message:
    """``message`` with a breakpoint on its last block, where the translation to Messages puts it.

    Text goes on a content part; a tool result, or an assistant turn ending in
    tool calls, carries it on the message (its last block is the tool's).
    """
    content = message.content
    if message.role == "tool" or message.tool_calls or not content:
        return message.model_copy(update={"cache_control": dict(control)})
    if isinstance(content, str):
        parts = [ContentPart(type="text", text=content, cache_control=dict(control))]
    else:
        last = content[-1].model_copy(update={"cache_control": dict(control)})
        parts = [*content[:-1], last]
    return message.model_copy(update={"content": parts})


def _can_carry(message: Message) -> bool:
    """Whether the message's last block can hold a breakpoint (Anthropic refuses an empty one)."""
    if message.tool_calls:
        return True
    if isinstance(message.content, list):
        last = message.content[-1] if message.content else None
        return last is not None and bool(last.text or last.image_url)
    return bool(message.content)


def _render_order(payload: CompleteInput) -> list[int]:
    """Message indexes in the order Anthropic sees them: every system message first."""
    messages = payload.messages
    systems = [i for i, m in enumerate(messages) if m.role == "system"]
    return systems + [i for i, m in enumerate(messages) if m.role != "system"]


def _before_newest_user_turn(messages: Sequence[Message]) -> int | None:
    """The index of the last message before the newest user turn, if it is not a system one.

    The newest user turn is the last run of user and tool messages (tool
    results reach Anthropic as a user message); an assistant prefill after it
    is not part of the stable prefix either.
    """
    turn = [i for i, m in enumerate(messages) if m.role in ("user", "tool")]
    if not turn:
        return None
    start = turn[-1]
    while start > 0 and messages[start - 1].role in ("user", "tool"):
        start -= 1
    before = start - 1
    if before < 0 or messages[before].role == "system":
        return None
    return before


def _message_control(message: Message) -> dict[str, Any] | None:
    if message.cache_control is not None:
        return message.cache_control
    if isinstance(message.content, list):
        controls = [p.cache_control for p in message.content if p.cache_control is not None]
        return controls[-1] if controls else None
    return None


def _ttl_of(control: dict[str, Any]) -> Ttl:
    return "1h" if control.get("ttl") == "1h" else "5m"


def _canonical(message: Message) -> str:
    """A message's content as Anthropic reads it, breakpoints left out, as stable JSON."""
    content: list[dict[str, Any]] | None
    if isinstance(message.content, str):
        content = [{"type": "text", "text": message.content}]
    elif message.content is None:
        content = None
    else:
        content = [
            p.model_dump(exclude={"cache_control"}, exclude_none=True) for p in message.content
        ]
    body = {
        "role": message.role,
        "content": content,
        "tool_calls": [c.model_dump() for c in message.tool_calls or ()],
        "tool_call_id": message.tool_call_id,
        "name": message.name,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)
