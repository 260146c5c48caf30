"""Every 429 a rate limit caused leaves with ``Retry-After``, whichever route's shape it took.

The routes answer ``RateLimited`` in their own error shape (grump's, OpenAI's, ...),
and not every shape's mapping copies the error's ``retry_after`` into a header. The
limit records it for the request being served (``grump.jobs.ratelimits.RETRY_AFTER``),
and this middleware adds the header to a 429 that has none.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grump.jobs.ratelimits import RETRY_AFTER


class RetryAfterOn429:
    """ASGI middleware: a 429 without ``Retry-After`` gets the one its rate limit recorded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, adding ``Retry-After`` to a rate limit's 429 when it lacks one."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot: list[int] = []
        token = RETRY_AFTER.set(slot)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429 and slot:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _ in headers):
                    headers.append((b"retry-after", str(slot[-1]).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            RETRY_AFTER.reset(token)
