"""The offline providers: deterministic answers with no network and no key.

They are a product feature, not a test double: the embedded default and local
development run on them. Token counts follow the same estimate the real
providers' prices are applied to, so costs and savings stay meaningful. Every
answer says it came from the offline provider.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import numpy as np

from grump.providers.base import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    EmbedRequest,
    EmbedResult,
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
    """Answers chat requests from a hash of the prompt."""

    name = "offline"

    def __init__(self, latency_seconds: float = 0.0) -> None:
        self.latency_seconds = latency_seconds

    def complete(self, request: ChatRequest) -> ChatResult:
        """A made-up reply of plausible length, the same for the same model and messages, after the set latency."""
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        tokens_in = sum(
            estimate_tokens(m.text()) + _MESSAGE_OVERHEAD_TOKENS for m in request.messages
        )
        seed = int.from_bytes(_digest(request.model, *(m.text() for m in request.messages))[:8])
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
            provider=self.name,
        )

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        """The reply whole, as the stream's one item (word-by-word streaming comes next)."""
        yield self.complete(request)


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
