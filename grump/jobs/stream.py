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

The deltas come from the job's log (``grump.jobs.deltalog``), read from its
start: a caller that joined an identical job in flight gets the whole stream.
After that each ``delta`` event carries its entry, applied at once when it is
the next of the run; the log is read again when one was missed, and every
``GRUMP_STREAM_RECHECK_SECONDS`` (a lost event costs that much, no more); the
ledger only when the job ends (``grump.jobs.ended``, batched), never per delta.
What of the entries and events to give, and of the recorded answer at the end,
is decided by ``grump.jobs.stream_seen`` (pure).
An answer that was not streamed (a cache hit, an identical job that was not
asked to stream) is replayed whole from the recorded result at its end, as is
whatever part of a streamed answer the log missed.

The stream breaks (``worker_lost``) when deltas were given and the run that
made them is gone: its lease is no longer its claimer's, or a new run of the
job marked itself in the log. The job is run again and charged once; the
caller, who cannot take back what it was given, is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from grump.jobs.deltalog import TextDelta, ToolCallDelta
from grump.jobs.events import JobEvent
from grump.jobs.leases import lease_key
from grump.jobs.models import JobStatus
from grump.jobs.stream_seen import Seen, deltas_of_result
from grump.jobs.waiters import await_final, load_ended
from grump.ledger.models import Job

if TYPE_CHECKING:
    from grump.runtime import Runtime

__all__ = [
    "StreamBroken",
    "StreamEnded",
    "StreamItem",
    "TextDelta",
    "ToolCallDelta",
    "caller_left",
    "deltas_of_result",
    "follow",
]


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


async def follow(
    runtime: Runtime, job_id: uuid.UUID, timeout_seconds: float
) -> AsyncIterator[StreamItem]:
    """The job's deltas as they come, then its end (or why there is none)."""
    loop = asyncio.get_running_loop()
    woken, events = asyncio.Event(), deque[JobEvent | None]()

    def wake(event: JobEvent | None) -> None:
        events.append(event)  # from the listener's thread: the loop is only woken
        loop.call_soon_threadsafe(woken.set)

    token = runtime.job_waiters.watch(job_id, wake)
    ended = asyncio.ensure_future(await_final(runtime, job_id, timeout_seconds))
    ended.add_done_callback(lambda _: woken.set())
    seen, recheck, read = Seen(), runtime.settings.stream_recheck_seconds, True
    try:
        while True:
            if read:
                for piece in seen.take(await runtime.delta_log.read(job_id, seen.last_id)):
                    yield piece
                if seen.restarted:
                    yield _lost(job_id, "its run was replaced by a new one")
                    return
            if ended.done():
                async for item in _finish(runtime, job_id, seen, ended.result()):
                    yield item
                return
            woken.clear()
            if not events:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), recheck)
            if events or woken.is_set():
                pieces, read = seen.apply_events(events)
                for piece in pieces:
                    yield piece
                continue
            read = True  # a quiet while: read the log, and see whether the run still lives
            if seen.given and await _run_gone(runtime, job_id, seen):
                # The lease also goes when the run ends: the ledger says which (a rare read).
                job = (await asyncio.to_thread(load_ended(runtime), [job_id])).get(job_id)
                if job is None:
                    yield _lost(job_id, "the worker running it is gone")
                    return
                async for item in _finish(runtime, job_id, seen, job):
                    yield item
                return
    finally:
        runtime.job_waiters.unwatch(job_id, token)
        ended.cancel()


async def _finish(
    runtime: Runtime, job_id: uuid.UUID, seen: Seen, job: Job | None
) -> AsyncIterator[StreamItem]:
    """The log's last entries, what of the answer they missed, then the end."""
    if job is None:
        yield StreamBroken(job_id, "timeout", f"job {job_id} is still running")
        return
    for piece in seen.take(await runtime.delta_log.read(job_id, seen.last_id)):
        yield piece
    if seen.restarted:
        yield _lost(job_id, "its run was replaced by a new one")
        return
    if job.status == JobStatus.SUCCEEDED.value and job.result is not None:
        rest = seen.rest_of(job.result)
        if rest is None:
            yield _lost(job_id, "the answer recorded is not the one streamed")
            return
        for piece in rest:
            yield piece
    yield StreamEnded(job)


async def _run_gone(runtime: Runtime, job_id: uuid.UUID, seen: Seen) -> bool:
    """Whether the lease of the job is no longer held by the claimer whose run we followed."""
    client = runtime.aio_lease_redis()
    if client is None or not seen.claimer:
        return False
    try:
        holder = await client.get(lease_key(job_id))
    except (RedisError, OSError):
        return False  # Redis cannot tell: wait on, as for a lost event
    if isinstance(holder, bytes):
        holder = holder.decode()
    return holder != seen.claimer


def _lost(job_id: uuid.UUID, why: str) -> StreamBroken:
    return StreamBroken(
        job_id,
        "worker_lost",
        f"job {job_id} stopped mid-stream: {why}; it runs again and is charged once, "
        "send the request again for its whole answer",
    )


async def caller_left(runtime: Runtime, job_id: uuid.UUID) -> None:
    """The streaming caller of ``job_id`` went away before its end.

    With ``GRUMP_STREAM_ON_DISCONNECT=finish`` (the default) the job runs to its
    end, its answer cached, recorded and charged once. With ``cancel`` its
    worker is asked to stop: it closes the provider's stream and records the job
    cancelled, charged what the provider billed, unless other callers joined it.
    """
    if runtime.settings.stream_on_disconnect != "cancel":
        return
    with contextlib.suppress(RedisError, OSError):
        await runtime.delta_log.request_cancel(job_id)
