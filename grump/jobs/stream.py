"""Following a complete job as it runs: its answer's deltas, then its end.

The front doors that stream (OpenAI's ``stream: true``, Anthropic's streamed
Messages) read a job through :func:`follow`: an async iterator of
:class:`TextDelta` and :class:`ToolCallDelta` pieces in the order the provider
produced them, closed by exactly one :class:`StreamEnded` (the final job row,
whatever its status) or :class:`StreamBroken` (no end could be waited for).

A complete job's result, as the worker records it and every front door reads it::

    {"content": str, "tool_calls": [OpenAI tool call objects] (absent when none),
     "finish_reason": "stop" | "length" | "tool_calls" | "content_filter",
     "model": str,
     "usage": {"prompt_tokens": all input tokens, cache reads and writes included,
               "completion_tokens": int,
               "cache_read_input_tokens": int, "cache_creation_input_tokens": int}}

This first version waits for the job's end and replays its recorded answer as
deltas (what a caller joining a finished or cached answer gets).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grump.jobs.waiters import await_final
from grump.ledger.models import Job

if TYPE_CHECKING:
    from grump.runtime import Runtime


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of one tool call: its id and name come with its first piece, then argument fragments."""

    index: int
    arguments: str = ""
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class StreamEnded:
    """The job is final: its row, succeeded or not."""

    job: Job


@dataclass(frozen=True)
class StreamBroken:
    """The stream cannot go on (the wait ran out, or the worker running it was lost)."""

    job_id: uuid.UUID
    code: str
    message: str


StreamItem = TextDelta | ToolCallDelta | StreamEnded | StreamBroken


def deltas_of_result(result: dict[str, Any]) -> list[TextDelta | ToolCallDelta]:
    """A recorded answer as the deltas that would have produced it, whole."""
    pieces: list[TextDelta | ToolCallDelta] = []
    if result.get("content"):
        pieces.append(TextDelta(str(result["content"])))
    for index, call in enumerate(result.get("tool_calls") or ()):
        function = call.get("function") or {}
        pieces.append(
            ToolCallDelta(
                index=index,
                arguments=str(function.get("arguments", "")),
                id=call.get("id"),
                name=function.get("name"),
            )
        )
    return pieces


async def follow(
    runtime: Runtime, job_id: uuid.UUID, timeout_seconds: float
) -> AsyncIterator[StreamItem]:
    """The job's deltas as they come, then its end (or why there is none)."""
    job = await await_final(runtime, job_id, timeout_seconds)
    if job is None:
        yield StreamBroken(job_id, "timeout", f"job {job_id} is still running")
        return
    if job.result is not None:
        for piece in deltas_of_result(job.result):
            yield piece
    yield StreamEnded(job)


async def caller_left(runtime: Runtime, job_id: uuid.UUID) -> None:
    """The streaming caller of ``job_id`` went away before its end."""
    del runtime, job_id  # the job runs to its end, and is recorded and charged once
