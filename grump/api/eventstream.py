"""Server-sent events from a job's stream, sent as produced, with the caller's leaving noticed.

:func:`event_stream` turns a job's stream items into a ``text/event-stream``
answer through an :class:`Encoder` (OpenAI's chunks or Anthropic's events). The
answer listens for the client's disconnect whatever the server's ASGI version:
when the client goes before the end, the stream stops at once and
``grump.jobs.stream.caller_left`` is told.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Protocol

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from grump.api.frontdoor import close_items
from grump.jobs.stream import StreamBroken, StreamEnded, StreamItem, caller_left
from grump.runtime import Runtime

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class Encoder(Protocol):
    """Turns stream items into the bytes of server-sent events, in one client's format."""

    def opening(self) -> list[bytes]:
        """What is sent before the first item."""
        ...

    def encode(self, item: StreamItem) -> list[bytes]:
        """What is sent for one item (the last one, StreamEnded or StreamBroken, closes)."""
        ...


class EventStream(StreamingResponse):
    """A streamed answer that stops its body when the client disconnects, on every ASGI version."""

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the body while listening for the client's disconnect; stop at whichever is first."""
        async with anyio.create_task_group() as group:

            async def body() -> None:
                try:
                    await self.stream_response(send)
                except OSError:
                    pass  # the client went away while an event was sent
                finally:
                    with anyio.CancelScope(shield=True):
                        aclose = getattr(self.body_iterator, "aclose", None)
                        if aclose is not None:
                            await aclose()  # runs the body's cleanup now, not at collection
                group.cancel_scope.cancel()

            group.start_soon(body)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


async def relay(
    runtime: Runtime,
    job_id: uuid.UUID,
    first: StreamItem,
    rest: AsyncIterator[StreamItem],
    encoder: Encoder,
) -> AsyncIterator[bytes]:
    """The events of a job's stream; ``caller_left`` when the client stops reading before its end."""
    ended = False
    try:
        for chunk in encoder.opening():
            yield chunk
        item = first
        while True:
            for chunk in encoder.encode(item):
                yield chunk
            if isinstance(item, StreamEnded | StreamBroken):
                ended = True
                return
            item = await anext(rest)
    finally:
        with anyio.CancelScope(shield=True):
            if not ended:
                await caller_left(runtime, job_id)
            await close_items(rest)


def event_stream(
    runtime: Runtime,
    job_id: uuid.UUID,
    first: StreamItem,
    rest: AsyncIterator[StreamItem],
    encoder: Encoder,
) -> EventStream:
    """The ``text/event-stream`` answer relaying a job's stream, naming the job in a header."""
    headers = {**SSE_HEADERS, "x-grump-job-id": str(job_id)}
    events = relay(runtime, job_id, first, rest, encoder)
    return EventStream(events, headers=headers, media_type="text/event-stream")


__all__ = ["Encoder", "EventStream", "event_stream", "relay"]
