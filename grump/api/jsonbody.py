"""Read a JSON body as JSON whatever its declared type; refuse other bodies with 415.

``curl -d '{...}'`` sends ``Content-Type: application/x-www-form-urlencoded``.
Every grump route that takes a body takes JSON, so a body sent with another
type (or none) is read as JSON when it parses as JSON, and answered 415 saying
which header to send when it does not. Empty bodies pass as they are.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from grump.api.bodylimit import replay_body
from grump.api.clienterrors import Problem, send_problem

_WITH_BODY = ("POST", "PUT", "PATCH")


def is_json_type(content_type: bytes) -> bool:
    """Whether a Content-Type names JSON (``application/json`` or ``application/*+json``)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def _parses(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        return False
    return True


class JsonBody:
    """ASGI middleware: a non-JSON Content-Type on a JSON body becomes ``application/json``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass JSON-typed and bodiless requests on; retype a JSON body; refuse any other body."""
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if is_json_type(headers.get(b"content-type", b"")):
            await self.app(scope, receive, send)
            return
        body = await _read(receive)
        if body.strip() and not _parses(body):
            message = "the body is not JSON: send JSON with 'Content-Type: application/json'"
            await send_problem(scope, send, Problem(415, message, "unsupported_media_type"))
            return
        if body.strip():
            kept = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope = {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
        await self.app(scope, replay_body(body, receive), send)


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
