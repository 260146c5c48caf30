"""Server-sent events: the line format both paid providers stream their answers in.

Pure parsing, no I/O: :func:`parse_sse` turns the lines of an
``text/event-stream`` body (as ``httpx.Response.iter_lines`` yields them,
without their line endings) into :class:`SseEvent` items, following the
WHATWG rules: ``field: value`` lines (one optional space after the colon),
several ``data`` lines joined by newlines, a blank line ending the event,
``:`` comment lines ignored. An event the body ends in the middle of (no blank
line after it) is dropped, as the standard says: a stream cut short shows as
its missing final event, never as a half-read one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event: its ``event`` name (None when unnamed) and its data text."""

    event: str | None
    data: str


def parse_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """The events of an event-stream body, given line by line, as they complete."""
    event: str | None = None
    data: list[str] = []
    for line in lines:
        if not line:
            if data or event is not None:
                yield SseEvent(event, "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        # "id" and "retry" steer browser reconnects: nothing for a one-shot call.
