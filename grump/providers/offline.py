"""The offline providers: deterministic answers with no network and no key.

They are a product feature, not a test double: the embedded default and local
development run on them. Token counts follow the same estimate the real
providers' prices are applied to, so costs and savings stay meaningful. Every
answer says it came from the offline provider.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from grump.providers.base import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    EmbedRequest,
    EmbedResult,
    ToolCallResult,
    estimate_tokens,
)

_WORDS = [
    "the",
    "plan",
    "is",
    "to",
    "split",
    "the",
    "work",
    "into",
    "small",
    "steps",
    "and",
    "check",
    "each",
    "one",
    "before",
    "moving",
    "on",
    "first",
    "define",
    "the",
    "data",
    "model",
    "then",
    "the",
    "interfaces",
    "then",
    "write",
    "tests",
    "for",
    "the",
    "edge",
    "cases",
    "keep",
    "state",
    "in",
    "one",
    "place",
    "handle",
    "errors",
    "at",
    "the",
    "boundary",
    "and",
    "log",
    "what",
    "matters",
]
_MESSAGE_OVERHEAD_TOKENS = 4


def _digest(*parts: str) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


class OfflineChat:
    """Answers chat requests from a hash of the prompt, whole or word by word.

    A request that offers tools (and does not say ``tool_choice: "none"``) and
    whose last message is the user's is answered with a call of its first tool,
    its arguments made up from the tool's JSON schema: enough for an agent's
    loop to run with no key.
    """

    name = "offline"

    def __init__(self, latency_seconds: float = 0.0) -> None:
        self.latency_seconds = latency_seconds

    def complete(self, request: ChatRequest) -> ChatResult:
        """A made-up reply of plausible length, the same for the same model and messages, after the set latency."""
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        return answer(request)

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        """The reply of ``complete`` word by word, the set latency spread over its pieces."""
        result = answer(request)
        pieces = stream_pieces(result)
        pause = self.latency_seconds / max(1, len(pieces))
        for piece in pieces:
            if pause:
                time.sleep(pause)
            yield piece
        yield result


def answer(request: ChatRequest) -> ChatResult:
    """The offline reply to ``request``, at once."""
    tokens_in = sum(estimate_tokens(m.text()) + _MESSAGE_OVERHEAD_TOKENS for m in request.messages)
    seed = int.from_bytes(_digest(request.model, *(m.text() for m in request.messages))[:8])
    tool = _tool_to_call(request)
    if tool is not None:
        name = str(tool.get("name", "tool"))
        arguments = json.dumps(_arguments(tool.get("parameters") or {}), separators=(",", ":"))
        call = ToolCallResult(id=f"call_{seed:016x}"[:29], name=name, arguments=arguments)
        return ChatResult(
            content="",
            model=request.model,
            tokens_in=tokens_in,
            tokens_out=min(request.max_tokens, estimate_tokens(name + arguments)),
            finish_reason="tool_calls",
            provider=OfflineChat.name,
            tool_calls=(call,),
        )
    # Answers run from about a third to the whole of the prompt's length, within max_tokens.
    wanted = max(8, tokens_in // 3 + seed % max(1, tokens_in))
    tokens_out = min(request.max_tokens, wanted)
    words = [_WORDS[(seed + i * 7919) % len(_WORDS)] for i in range(tokens_out)]
    content = f"[offline {request.model}] " + " ".join(words)
    finish = "length" if tokens_out == request.max_tokens and wanted > tokens_out else "stop"
    return ChatResult(
        content=content,
        model=request.model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        finish_reason=finish,
        provider=OfflineChat.name,
    )


def stream_pieces(result: ChatResult) -> list[ChatDelta]:
    """``result`` as a stream's deltas: its text a word at a time, each tool call in fragments."""
    words = result.content.split(" ")
    pieces = [
        ChatDelta(text=w if i == 0 else f" {w}") for i, w in enumerate(words) if result.content
    ]
    for index, call in enumerate(result.tool_calls):
        half = len(call.arguments) // 2
        pieces.append(
            ChatDelta(
                tool_index=index,
                tool_id=call.id,
                tool_name=call.name,
                tool_arguments=call.arguments[:half],
            )
        )
        pieces.append(ChatDelta(tool_index=index, tool_arguments=call.arguments[half:]))
    return pieces


def _tool_to_call(request: ChatRequest) -> dict[str, Any] | None:
    """The function of the tool to call: the first offered, when the user spoke last."""
    payload = request.input
    if not payload.tools or payload.tool_choice == "none" or request.messages[-1].role != "user":
        return None
    chosen = payload.tool_choice
    wanted = chosen.get("function", {}).get("name") if isinstance(chosen, dict) else None
    functions = [t.get("function") or {} for t in payload.tools]
    for function in functions:
        if wanted is None or function.get("name") == wanted:
            return dict(function)
    return dict(functions[0])


def _arguments(schema: dict[str, Any]) -> Any:
    """A value that fits a JSON schema, always the same for the same schema."""
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: _arguments(sub) for name, sub in properties.items()}
    if kind == "array":
        items = schema.get("items")
        return [_arguments(items)] if isinstance(items, dict) else []
    return _SCALARS.get(str(kind), "offline")


_SCALARS: dict[str, Any] = {"integer": 1, "number": 1.0, "boolean": True, "null": None}


class OfflineEmbeddings:
    """Unit vectors drawn from a generator seeded by the text: same text, same vector."""

    name = "offline"

    def __init__(self, default_dimensions: int = 1024, latency_seconds: float = 0.0) -> None:
        self.default_dimensions = default_dimensions
        self.latency_seconds = latency_seconds

    def embed(self, request: EmbedRequest) -> EmbedResult:
        """A unit vector per text, the same for the same model, input type and text, after the set latency."""
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        dims = request.dimensions or self.default_dimensions
        vectors = np.empty((len(request.texts), dims), dtype=np.float32)
        for row, text in enumerate(request.texts):
            seed = int.from_bytes(_digest(request.model, request.input_type, text)[:8])
            vectors[row] = np.random.default_rng(seed).standard_normal(dims, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors /= np.maximum(norms, np.float32(1e-12))
        return EmbedResult(
            vectors=vectors.tolist(),
            model=request.model,
            tokens_in=sum(estimate_tokens(t) for t in request.texts),
            provider=self.name,
        )
