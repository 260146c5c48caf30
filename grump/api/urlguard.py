"""Refuse URLs carrying a NUL byte with 400: no id, name or filter of grump contains one.

Postgres cannot store or compare text holding NUL, so such a value would
otherwise reach the database and fail there as a 500.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

_BODY = json.dumps(
    {"error": {"code": "bad_request", "message": "the URL contains a NUL character"}}
).encode()


def has_nul(scope: Scope) -> bool:
    """Whether the request's path or query string holds a NUL, raw or percent-encoded."""
    query: bytes = scope.get("query_string", b"")
    path: str = scope.get("path", "")
    return "\x00" in path or b"%00" in query or b"\x00" in query


class RefuseNulInUrl:
    """ASGI middleware answering 400 to a URL with a NUL before it reaches a route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 400 when its URL holds a NUL."""
        if scope["type"] != "http" or not has_nul(scope):
            await self.app(scope, receive, send)
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_BODY)).encode()),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": _BODY})
