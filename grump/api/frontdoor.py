"""What the client-compatible front doors (OpenAI's, Anthropic's) share: a job per call, awaited.

Each call is an ordinary grump job (routing, budgets, cache, coalescing, the
ledger all apply): it is submitted, then awaited on the event loop at no thread
per caller, for at most ``GRUMP_OPENAI_WAIT_SECONDS``, whole or as a stream
(``grump.jobs.stream.follow``). A failure is a :class:`~grump.api.clienterrors.Problem`
that each front door answers in its client's shape.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from pydantic import ValidationError

from grump.api.clienterrors import Problem, ProblemError
from grump.api.errors import describe
from grump.errors import ValidationFailed
from grump.jobs.models import CompleteJobRequest, EmbedJobRequest, JobStatus
from grump.jobs.stream import StreamBroken, StreamEnded, StreamItem, follow
from grump.jobs.waiters import await_final
from grump.ledger.models import Job
from grump.runtime import Runtime

_Request = TypeVar("_Request", CompleteJobRequest, EmbedJobRequest)


def job_request(
    model: type[_Request], kind: str, grump_input: dict[str, Any], user: str | None
) -> _Request:
    """The grump job for a client's request; its validation errors name the client's fields."""
    try:
        return model.model_validate({"kind": kind, "input": grump_input, "user": user})
    except ValidationError as exc:
        first = describe(dict(exc.errors()[0])) if exc.errors() else {"field": "body", "reason": ""}
        field = first["field"].removeprefix("input.").replace("texts", "input")
        raise ValidationFailed(field, first["reason"]) from None


def job_headers(job: Job) -> dict[str, str]:
    """The headers naming the job behind an answer, and what it cost."""
    return {"x-grump-job-id": str(job.id), "x-grump-cost-usd": str(job.cost)}


def still_running(runtime: Runtime, job_id: uuid.UUID) -> Problem:
    """The answer to a caller whose wait ran out: 504, and when to send the request again."""
    message = (
        f"job {job_id} is still running; GET /v1/jobs/{job_id} for its answer,"
        " or send the request again"
    )
    # Sent again, the request joins the job in flight: Retry-After tells SDKs when.
    headers = {
        "x-grump-job-id": str(job_id),
        "Retry-After": str(runtime.settings.retry_after_seconds),
    }
    return Problem(504, message, "timeout", None, headers)


def ended_badly(job: Job) -> Problem:
    """The answer for a job that ended without succeeding: 502 with the job's error."""
    error = job.error or {}
    message = str(error.get("message") or f"job {job.id} ended {job.status}")
    code = str(error.get("code") or job.status)
    return Problem(502, message, code, None, {"x-grump-job-id": str(job.id)})


def broken(runtime: Runtime, item: StreamBroken) -> Problem:
    """The answer for a stream that could not go on."""
    if item.code == "timeout":
        return still_running(runtime, item.job_id)
    headers = {"x-grump-job-id": str(item.job_id)}
    return Problem(502, item.message, item.code, None, headers)


def succeeded(job: Job) -> bool:
    """Whether the job ended with an answer to give."""
    return job.status == JobStatus.SUCCEEDED.value and job.result is not None


async def final_job(runtime: Runtime, job_id: uuid.UUID) -> Job:
    """The succeeded job, bounded by GRUMP_OPENAI_WAIT_SECONDS; ProblemError otherwise."""
    job = await await_final(runtime, job_id, runtime.settings.openai_wait_seconds)
    if job is None:
        raise ProblemError(still_running(runtime, job_id))
    if not succeeded(job):
        raise ProblemError(ended_badly(job))
    return job


async def open_stream(
    runtime: Runtime, job_id: uuid.UUID
) -> tuple[StreamItem, AsyncIterator[StreamItem]]:
    """The job's first stream item and the rest, once that first item is known.

    Waiting for the first item before answering lets a job that fails before
    producing anything be answered as an ordinary HTTP error (ProblemError).
    """
    items = follow(runtime, job_id, runtime.settings.openai_wait_seconds)
    first = await anext(items)
    problem = None
    if isinstance(first, StreamBroken):
        problem = broken(runtime, first)
    elif isinstance(first, StreamEnded) and not succeeded(first.job):
        problem = ended_badly(first.job)
    if problem is not None:
        await close_items(items)
        raise ProblemError(problem)
    return first, items


async def close_items(items: AsyncIterator[StreamItem]) -> None:
    """Close a stream reader left before its end (an async generator has ``aclose``)."""
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()
