"""What every provider takes and returns; the rest of grump sees only these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat: who speaks, and what they say."""

    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """A chat completion to ask a provider for."""

    model: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float = 0.0


@dataclass(frozen=True)
class ChatResult:
    """A provider's reply to a chat request, with the tokens it used and why it stopped."""

    content: str
    model: str
    tokens_in: int
    tokens_out: int
    finish_reason: str
    provider: str


@dataclass(frozen=True)
class EmbedRequest:
    """Texts to embed, with how the model should take them (query or passage, length, truncation)."""

    model: str
    texts: tuple[str, ...]
    input_type: Literal["query", "passage"] = "passage"
    dimensions: int | None = None
    truncate: Literal["NONE", "START", "END"] = "END"


@dataclass(frozen=True)
class EmbedResult:
    """A provider's vectors for an embed request, with the tokens it used."""

    vectors: list[list[float]]  # one per input text, in input order
    model: str
    tokens_in: int
    provider: str


class ChatProvider(Protocol):
    """A model service grump can send chat requests to (NIM, Anthropic or the offline stand-in)."""

    name: str

    def complete(self, request: ChatRequest) -> ChatResult:
        """The model's reply to ``request``; ProviderTransient or ProviderError when it fails."""


class EmbeddingProvider(Protocol):
    """A model service grump can send texts to for embedding (NIM or the offline stand-in)."""

    name: str

    def embed(self, request: EmbedRequest) -> EmbedResult:
        """One vector per text of ``request``, in order; ProviderTransient or ProviderError when it fails."""


def estimate_tokens(text: str) -> int:
    """A provider-independent token estimate (about four characters a token)."""
    return max(1, (len(text) + 3) // 4) if text else 0
