"""The bodies of Anthropic's Messages API as its clients send them (POST /v1/messages, count_tokens).

Unknown fields are ignored (Anthropic adds them often); unknown content block
types are refused by the discriminator, naming the block.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from grump.routing.policy import AUTO_MODEL


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TextBlock(_Loose):
    """A text block, with an optional prompt-cache breakpoint."""

    type: Literal["text"]
    text: str
    cache_control: dict[str, Any] | None = None


class Base64Source(_Loose):
    """An image sent inline."""

    type: Literal["base64"]
    media_type: str
    data: str


class UrlSource(_Loose):
    """An image sent by URL."""

    type: Literal["url"]
    url: str


class ImageBlock(_Loose):
    """An image block."""

    type: Literal["image"]
    source: Annotated[Base64Source | UrlSource, Field(discriminator="type")]
    cache_control: dict[str, Any] | None = None


class ToolUseBlock(_Loose):
    """A tool call the assistant made, its input as JSON."""

    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    cache_control: dict[str, Any] | None = None


class ToolResultBlock(_Loose):
    """A tool's answer to the call named by ``tool_use_id`` (``is_error`` is not carried)."""

    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[Annotated[TextBlock | ImageBlock, Field(discriminator="type")]] = ""
    is_error: bool = False
    cache_control: dict[str, Any] | None = None


class ThinkingBlock(_Loose):
    """Extended thinking from an earlier turn: dropped, as no provider grump reaches takes it back."""

    type: Literal["thinking", "redacted_thinking"]


Block = Annotated[
    TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock,
    Field(discriminator="type"),
]


class MessageIn(_Loose):
    """One turn of the conversation."""

    role: Literal["user", "assistant"]
    content: str | list[Block]


class ToolIn(_Loose):
    """A client tool: name, description, JSON schema of its input."""

    name: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    type: str | None = None
    cache_control: dict[str, Any] | None = None


class ToolChoiceIn(_Loose):
    """How the model may use the tools."""

    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class CountTokensBody(_Loose):
    """The body of POST /v1/messages/count_tokens."""

    model: str = AUTO_MODEL
    messages: list[MessageIn] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[ToolIn] | None = None
    tool_choice: ToolChoiceIn | None = None


class MessagesBody(CountTokensBody):
    """The body of POST /v1/messages; ``model: "auto"`` lets grump route.

    ``metadata.user_id`` becomes the job's ``user``; ``top_k``, ``service_tier`` and
    ``thinking`` are accepted and dropped.
    """

    max_tokens: int
    metadata: dict[str, Any] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    stream: bool = False
