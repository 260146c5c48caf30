"""What a fake answers one request with: a :class:`Step`, and the usual ones ready-made.

Errors in each service's own shape (:func:`error_body`), fixed JSON answers,
slow ones, malformed ones, and streamed ones (:func:`streamed`: one SSE event a
chunk; :func:`cut`: the normal stream, dropped mid-way). ``tests.fakes.server``
re-exports them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

ErrorShape = Literal["nim", "nim-local", "openai", "anthropic", "plain"]

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Overloaded",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_body(shape: ErrorShape, status: int, message: str) -> bytes:
    """An error body as the named service writes it."""
    reason = _REASONS.get(status, "Error")
    payload: object
    if shape == "plain":
        return message.encode()
    if shape == "nim":  # NVIDIA's hosted API: RFC 7807 problem details
        payload = {"status": status, "title": reason, "detail": message}
    elif shape == "nim-local":  # a self-hosted NIM container
        payload = {"object": "error", "message": message, "detail": {}, "type": reason}
    elif shape == "openai":
        payload = {"error": {"message": message, "type": reason, "code": status}}
    else:
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        payload = {"type": "error", "error": {"type": kind, "message": message}}
    return json.dumps(payload).encode()


@dataclass(frozen=True)
class Step:
    """What one request gets instead of the normal answer.

    ``body=None`` means "the normal answer", so a bare delay is a slow success.
    """

    status: int = 200
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    delay_ms: float = 0.0
    chunks: tuple[bytes, ...] | None = None  # a streamed body, one write per chunk
    gap_ms: float = 0.0  # between chunks
    cut_after: int | None = None  # drop the connection after this many chunks
    # Called when a stream ends: (chunks sent, whether to its end); the fake's invoice.
    billing: Callable[[int, bool], None] | None = field(default=None, compare=False)

    @property
    def scripted(self) -> bool:
        """Whether the step is a whole answer of its own (not "the normal answer, but...")."""
        return self.body is not None or self.chunks is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "body": None if self.body is None else self.body.decode(),
            "headers": dict(self.headers),
            "delay_ms": self.delay_ms,
            "chunks": None if self.chunks is None else [c.decode() for c in self.chunks],
            "gap_ms": self.gap_ms,
            "cut_after": self.cut_after,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        body, chunks, cut = data.get("body"), data.get("chunks"), data.get("cut_after")
        return cls(
            status=int(data.get("status", 200)),
            body=None if body is None else str(body).encode(),
            headers=tuple(dict(data.get("headers") or {}).items()),
            delay_ms=float(data.get("delay_ms", 0.0)),
            chunks=None if chunks is None else tuple(str(c).encode() for c in chunks),
            gap_ms=float(data.get("gap_ms", 0.0)),
            cut_after=None if cut is None else int(cut),
        )


def slow(delay_ms: float) -> Step:
    return Step(delay_ms=delay_ms)


def reply(payload: object, status: int = 200) -> Step:
    """A fixed JSON answer, e.g. a hand-written response with unusual fields."""
    # orjson: the fake shares the cores with what a benchmark measures; json is several times slower.
    return Step(status=status, body=orjson.dumps(payload))


def sse_event(data: object, event: str | None = None) -> bytes:
    """One server-sent event: ``event:`` (when named) and ``data:`` lines, then a blank line."""
    text = data if isinstance(data, str) else orjson.dumps(data).decode()
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


def streamed(*events: bytes, gap_ms: float = 0.0, cut_after: int | None = None) -> Step:
    """A hand-written event stream: each event one chunk, ``gap_ms`` apart."""
    return Step(
        headers=(("Content-Type", "text/event-stream"),),
        chunks=events,
        gap_ms=gap_ms,
        cut_after=cut_after,
    )


def cut(after: int) -> Step:
    """The normal streamed answer, its connection dropped after ``after`` chunks."""
    return Step(cut_after=after)


def failure(status: int, message: str, shape: ErrorShape, retry_after: str | None = None) -> Step:
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    return Step(status=status, body=error_body(shape, status, message), headers=headers)


def rate_limited(shape: ErrorShape, retry_after: str | None = None) -> Step:
    return failure(429, "Rate limit exceeded, please retry later", shape, retry_after)


def server_error(shape: ErrorShape, status: int = 500) -> Step:
    return failure(status, "Something went wrong upstream", shape)


def malformed(body: bytes = b'{"choices": [') -> Step:
    """A 200 whose body is not what the API promises."""
    return Step(status=200, body=body)
