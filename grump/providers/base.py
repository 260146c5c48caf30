"""What every provider takes and returns; the rest of grump sees only these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float = 0.0


@dataclass(frozen=True)
class ChatResult:
    content: str
    model: str
    tokens_in: int
    tokens_out: int
    finish_reason: str
    provider: str


@dataclass(frozen=True)
class EmbedRequest:
    model: str
    texts: tuple[str, ...]
    input_type: Literal["query", "passage"] = "passage"
    dimensions: int | None = None
    truncate: Literal["NONE", "START", "END"] = "END"


@dataclass(frozen=True)
class EmbedResult:
    vectors: list[list[float]]  # one per input text, in input order
    model: str
    tokens_in: int
    provider: str


class ChatProvider(Protocol):
    name: str

    def complete(self, request: ChatRequest) -> ChatResult: ...


class EmbeddingProvider(Protocol):
    name: str

    def embed(self, request: EmbedRequest) -> EmbedResult: ...


def estimate_tokens(text: str) -> int:
    """A provider-independent token estimate (about four characters a token)."""
    return max(1, (len(text) + 3) // 4) if text else 0
