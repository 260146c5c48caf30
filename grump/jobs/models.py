"""Job kinds, states, tiers, and the request and result schemas of each kind."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class JobKind(StrEnum):
    PARSE = "parse"
    COMPLETE = "complete"
    EMBED = "embed"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
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


class Message(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class ParseInput(_Strict):
    """One ``text``, or many ``texts`` parsed in one job (the result is the list)."""

    text: str | None = None
    texts: list[str] | None = Field(None, min_length=1)

    def all_texts(self) -> list[str]:
        if self.texts is not None:
            return list(self.texts)
        return [self.text or ""]


class CompleteInput(_Strict):
    messages: list[Message] = Field(min_length=1)
    max_tokens: int = Field(512, ge=1, le=32_768)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    model: str | None = Field(None, description="pins a model and skips routing; 'auto' routes")


class EmbedInput(_Strict):
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
    kind: Literal[JobKind.PARSE]
    input: ParseInput


class CompleteJobRequest(_SubmitBase):
    kind: Literal[JobKind.COMPLETE]
    input: CompleteInput


class EmbedJobRequest(_SubmitBase):
    kind: Literal[JobKind.EMBED]
    input: EmbedInput


JobRequest = Annotated[
    ParseJobRequest | CompleteJobRequest | EmbedJobRequest, Field(discriminator="kind")
]
AnyJobRequest = ParseJobRequest | CompleteJobRequest | EmbedJobRequest


class RoutingDecision(_Strict):
    score: int
    tier: Tier
    model: str
    reason: str


def input_texts(request: AnyJobRequest) -> list[str]:
    """Every user-supplied text of a request, for size limits and token estimates."""
    if isinstance(request, ParseJobRequest):
        return request.input.all_texts()
    if isinstance(request, CompleteJobRequest):
        return [m.content for m in request.input.messages]
    return list(request.input.texts)


def result_summary(kind: JobKind, result: dict[str, Any] | None) -> str:
    """A one-line description of a result, for the CLI."""
    if result is None:
        return "-"
    if kind is JobKind.PARSE:
        return f"{len(result.get('intents', []))} intent(s)"
    if kind is JobKind.COMPLETE:
        return str(result.get("content", ""))[:60]
    return f"{len(result.get('embeddings', []))} vector(s)"
