"""Job kinds, states, tiers, and the request and result schemas of each kind."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grump.jobs.durations import parse_duration


class JobKind(StrEnum):
    """What a job does: parse intents, complete a chat, or embed texts."""

    PARSE = "parse"
    COMPLETE = "complete"
    EMBED = "embed"


class JobStatus(StrEnum):
    """Where a job is in its life; only queued and running ones can still change."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        """Whether the job is final: no worker or cancel changes it any more."""
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class Tier(StrEnum):
    """Cost tiers: each maps to one queue and one kind of worker."""

    CPU = "cpu"
    ECONOMY = "economy"
    PREMIUM = "premium"
    GPU = "gpu"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContentPart(_Strict):
    """One part of a message's content, in OpenAI's shape: text, or an image by URL.

    ``cache_control`` (Anthropic's prompt-cache breakpoint) rides on a part as
    the client sent it and reaches Anthropic untouched.
    """

    type: Literal["text", "image_url"]
    text: str | None = None
    image_url: dict[str, Any] | None = None
    cache_control: dict[str, Any] | None = None


class ToolCallFunction(_Strict):
    """The function a tool call names, and its arguments as JSON text (as OpenAI sends them)."""

    name: str
    arguments: str = ""


class ToolCall(_Strict):
    """One tool call an assistant message made, in OpenAI's shape."""

    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class Message(_Strict):
    """One chat message of a complete job, in OpenAI's chat shape.

    ``content`` is text, or a list of parts; it may be None only on an assistant
    message that carries ``tool_calls``. A ``tool`` message answers the call
    named by ``tool_call_id``.
    """

    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    cache_control: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Message:
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError("content may be null only on an assistant message with tool_calls")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id it answers")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry tool_calls")
        return self

    def text(self) -> str:
        """Every text the message carries (content parts, tool calls' arguments), for limits and estimates."""
        if isinstance(self.content, str):
            pieces = [self.content]
        else:
            pieces = [p.text or "" for p in self.content or ()]
        pieces += [c.function.name + c.function.arguments for c in self.tool_calls or ()]
        return "".join(pieces)


class ParseInput(_Strict):
    """One ``text``, or many ``texts`` parsed in one job (the result is the list)."""

    text: str | None = None
    texts: list[str] | None = Field(None, min_length=1)

    def all_texts(self) -> list[str]:
        """The texts to parse, as a list whether one or many were given."""
        if self.texts is not None:
            return list(self.texts)
        return [self.text or ""]


class CompleteInput(_Strict):
    """A chat completion in OpenAI's chat shape; ``model`` pins one instead of routing.

    Beyond messages and sampling limits it carries what agents send (tools,
    ``tool_choice``, stop sequences, response formats), passed to NIM as they
    are and translated for Anthropic. ``stream`` makes the worker publish the
    answer's deltas while it runs (``grump.jobs.stream``).
    """

    messages: list[Message] = Field(min_length=1)
    max_tokens: int = Field(512, ge=1, le=32_768)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    model: str | None = Field(None, description="pins a model and skips routing; 'auto' routes")
    tools: list[dict[str, Any]] | None = Field(None, description="OpenAI function tools")
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    stop: list[str] | None = Field(None, max_length=16)
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    stream: bool = False


class EmbedInput(_Strict):
    """The texts to embed and how: model, input type, dimensions, encoding and truncation."""

    texts: list[str] = Field(min_length=1)
    model: str | None = None
    input_type: Literal["query", "passage"] = "passage"
    dimensions: int | None = Field(None, ge=1, le=8192)
    encoding: Literal["float", "int8", "binary"] = "float"
    truncate: Literal["NONE", "START", "END"] = "END"


class _SubmitBase(_Strict):
    user: str | None = Field(None, max_length=200)
    session: str | None = Field(None, max_length=200)
    priority: int = Field(5, ge=0, le=9, description="0 lowest, 9 most urgent")


class ParseJobRequest(_SubmitBase):
    """The body that submits a parse job."""

    kind: Literal[JobKind.PARSE]
    input: ParseInput


# How long a deferred job may wait: at least an hour (a Message Batch is worth waiting
# for; most end within one), at most a week. Anthropic ends every batch within 24 hours,
# so a deadline under that may be run as an ordinary job before it (grump.jobs.batches).
MIN_DEADLINE = timedelta(hours=1)
MAX_DEADLINE = timedelta(days=7)


class CompleteJobRequest(_SubmitBase):
    """The body that submits a complete job.

    ``deadline`` (an ISO 8601 duration, ``PT6H``) says the job can wait that long:
    on a model with a batch API it goes into a batch at the batch price.
    """

    kind: Literal[JobKind.COMPLETE]
    input: CompleteInput
    deadline: str | None = Field(None, description="ISO 8601 duration the job may wait, PT1H..P7D")

    @field_validator("deadline")
    @classmethod
    def _deadline_bounds(cls, value: str | None) -> str | None:
        if value is None:
            return None
        wait = parse_duration(value)
        if not MIN_DEADLINE <= wait <= MAX_DEADLINE:
            raise ValueError(f"{value!r} must be between PT1H and P7D")
        return value

    @model_validator(mode="after")
    def _deadline_not_streamed(self) -> CompleteJobRequest:
        if self.deadline is not None and self.input.stream:
            raise ValueError("deadline: a streamed job cannot wait for a batch")
        return self

    def wait(self) -> timedelta | None:
        """How long the job may wait, when it said so."""
        return None if self.deadline is None else parse_duration(self.deadline)


class EmbedJobRequest(_SubmitBase):
    """The body that submits an embed job."""

    kind: Literal[JobKind.EMBED]
    input: EmbedInput


JobRequest = Annotated[
    ParseJobRequest | CompleteJobRequest | EmbedJobRequest, Field(discriminator="kind")
]
AnyJobRequest = ParseJobRequest | CompleteJobRequest | EmbedJobRequest


class RoutingDecision(_Strict):
    """The tier and model routing chose for a complete job, its score and why; kept on the row."""

    score: int
    tier: Tier
    model: str
    reason: str
    # Added by cache-aware routing; rows written before them read back with these defaults.
    scorer: str | None = None  # "learned" or "keywords": which score ``score`` is
    warm_tokens: int = 0  # input tokens likely read from the premium model's prompt cache
    expected_costs: dict[str, Decimal] | None = None  # each route's expected cost, by model


@dataclass(frozen=True)
class Outcome:
    """What running a job produced, ready to be written to the ledger."""

    result: dict[str, Any]
    model: str
    provider: str
    tokens_in: int
    tokens_out: int
    cost: Decimal
    baseline_cost: Decimal
    cache_savings: Decimal = Decimal(0)
    cached: bool = False
    # Anthropic's prompt cache: input tokens read from it and written to it (both are
    # also counted in tokens_in), and what reading them saved against the full input price.
    tokens_cache_read: int = 0
    tokens_cache_write: int = 0
    provider_cache_savings: Decimal = Decimal(0)
    # What a provider's batch discount saved (a deferred job answered in a Message Batch).
    batch_savings: Decimal = Decimal(0)
    # What the request would cost sent direct to the premium model with the client's own
    # cache_control breakpoints (grump.money.baselines); None: it carried none, and the
    # direct baseline is ``baseline_cost``.
    direct_cost: Decimal | None = None
    # Set when the job ran on another tier than it was routed to (a provider fallback).
    tier: str | None = None
    routing: dict[str, Any] | None = None

    @property
    def routing_savings(self) -> Decimal:
        """What routing saved against the baseline, beyond the cache's saving; never negative."""
        saved = self.cache_savings + self.provider_cache_savings + self.batch_savings
        return max(Decimal(0), self.baseline_cost - self.cost - saved)


@dataclass(frozen=True)
class Claimed:
    """The parts of a job row that running it needs, detached from the session."""

    id: uuid.UUID
    kind: JobKind
    tier: str
    model: str | None
    input: dict[str, Any]
    tenant: str = ""
    routing: dict[str, Any] | None = None


def input_texts(request: AnyJobRequest) -> list[str]:
    """Every user-supplied text of a request, for size limits and token estimates."""
    if isinstance(request, ParseJobRequest):
        return request.input.all_texts()
    if isinstance(request, CompleteJobRequest):
        return [m.text() for m in request.input.messages]
    return list(request.input.texts)
