"""What every provider takes and returns; the rest of grump sees only these."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from grump.jobs.models import CompleteInput, Message


@dataclass(frozen=True)
class ChatRequest:
    """A chat completion to ask a provider for: the job's whole input, on one model.

    The input is in OpenAI's chat shape (``grump.jobs.models.CompleteInput``):
    NIM takes it as it is, Anthropic's provider translates it.
    """

    model: str
    input: CompleteInput

    @property
    def messages(self) -> list[Message]:
        """The chat's messages."""
        return self.input.messages

    @property
    def max_tokens(self) -> int:
        """The most tokens the answer may use."""
        return self.input.max_tokens

    @property
    def temperature(self) -> float:
        """The sampling temperature, on OpenAI's 0..2 scale."""
        return self.input.temperature


@dataclass(frozen=True)
class ToolCallResult:
    """One tool call in a provider's answer; ``arguments`` is JSON text, as OpenAI gives it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatResult:
    """A provider's reply to a chat request, with the tokens it used and why it stopped.

    ``tokens_in`` counts every input token; ``tokens_cache_read`` and
    ``tokens_cache_write`` are the part of them the provider's prompt cache
    served or stored (Anthropic reports both; NIM neither).
    """

    content: str
    model: str
    tokens_in: int
    tokens_out: int
    finish_reason: str
    provider: str
    tool_calls: tuple[ToolCallResult, ...] = ()
    tokens_cache_read: int = 0
    tokens_cache_write: int = 0
    tokens_cache_write_1h: int = 0  # of the writes, those with the 1-hour TTL (priced 2x input)


@dataclass(frozen=True)
class ChatDelta:
    """One piece of a streamed answer: text, or a fragment of one tool call.

        A tool call's first fragment carries its ``tool_id`` and ``tool_name``; later
        ones only ``tool_index`` and more ``tool_arguments``. A provider that reports
        its input usage before the answer (Anthropic's ``message_start``) puts it on
        the first delta, ``input_usage`` (uncached, cache read, cache write tokens, and of
    the writes those with the 1-hour TTL):
        what a stream cut short was billed for its input. It is not part of what a
        delta says (equality leaves it out).
    """

    text: str = ""
    tool_index: int | None = None
    tool_id: str | None = None
    tool_name: str | None = None
    tool_arguments: str = ""
    input_usage: tuple[int, int, int, int] | None = field(default=None, compare=False)


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

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        """The reply as it is produced: deltas, then exactly one ChatResult (the whole answer).

        Failures before the first delta raise as ``complete`` does; closing the
        iterator early closes the upstream connection.
        """


class EmbeddingProvider(Protocol):
    """A model service grump can send texts to for embedding (NIM or the offline stand-in)."""

    name: str

    def embed(self, request: EmbedRequest) -> EmbedResult:
        """One vector per text of ``request``, in order; ProviderTransient or ProviderError when it fails."""


def estimate_tokens(text: str) -> int:
    """A provider-independent token estimate (about four characters a token)."""
    return max(1, (len(text) + 3) // 4) if text else 0
