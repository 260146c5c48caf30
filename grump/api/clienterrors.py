"""Errors in the shape of the client that called: OpenAI's, Anthropic's, or grump's own.

A front door's failure is first a :class:`Problem` (status, message, code, the
parameter at fault, headers), then rendered in its client's shape so that each
official SDK raises its own exception class for the status: OpenAI's
``{"error": {"message", "type", "code", "param"}}`` and Anthropic's
``{"type": "error", "error": {"type", "message"}}``. The middlewares that answer
before any route runs (413, 415) pick the shape from the path (:func:`body_for_path`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import Scope, Send

from grump.api.errors import describe, log_unavailable
from grump.errors import GrumpError, UnknownModel
from grump.ledger.db import is_outage

_OPENAI_TYPES = {
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
_ANTHROPIC_TYPES = {
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
OPENAI_PATHS = ("/v1/chat/completions", "/v1/embeddings")
ANTHROPIC_PATHS = ("/v1/messages",)


@dataclass(frozen=True)
class Problem:
    """A failure to answer, before it is put in a client's shape."""

    status: int
    message: str
    code: str
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class ProblemError(Exception):
    """Raised by a front door to answer ``problem`` in its client's shape."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def problem_of(exc: GrumpError) -> Problem:
    """A grump error as a problem: 422 becomes 400 (what both SDKs call a bad request).

    An unknown model is a 404 on ``model``; any error carrying ``retry_after``
    (503s, 429s such as per-key rate limits) answers ``Retry-After``.
    """
    if isinstance(exc, UnknownModel):
        return Problem(404, exc.message, "model_not_found", "model")
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None) or exc.details.get("retry_after")
    if retry_after is not None and exc.status_code in (429, 503):
        headers["Retry-After"] = str(max(1, round(float(retry_after))))
    status = 400 if exc.status_code == 422 else exc.status_code
    field_name = exc.details.get("field")
    return Problem(status, exc.message, exc.code, field_name, headers)


def problem_of_validation(exc: RequestValidationError) -> Problem:
    """A body that failed validation, naming its first faulty field."""
    first = describe(exc.errors()[0]) if exc.errors() else {"field": "body"}
    message = f"{first['field']}: {first.get('reason', 'invalid')}"
    return Problem(400, message, "invalid_request", first["field"])


def openai_body(problem: Problem) -> dict[str, Any]:
    """The problem in OpenAI's error shape, its ``type`` taken from the status."""
    status = problem.status
    kind = _OPENAI_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    return {
        "error": {
            "message": problem.message,
            "type": kind,
            "code": problem.code,
            "param": problem.param,
        }
    }


def anthropic_body(problem: Problem) -> dict[str, Any]:
    """The problem in Anthropic's error shape, its ``type`` taken from the status."""
    status = problem.status
    kind = _ANTHROPIC_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    return {"type": "error", "error": {"type": kind, "message": problem.message}}


def grump_body(problem: Problem) -> dict[str, Any]:
    """The problem in grump's own error shape."""
    return {"error": {"code": problem.code, "message": problem.message}}


def body_for_path(path: str, problem: Problem) -> dict[str, Any]:
    """The problem in the shape the client of ``path`` reads."""
    if path.startswith(ANTHROPIC_PATHS):
        return anthropic_body(problem)
    if path.startswith(OPENAI_PATHS):
        return openai_body(problem)
    return grump_body(problem)


def _problem_of(exc: Exception, retry_after: int) -> Problem | None:
    if isinstance(exc, ProblemError):
        return exc.problem
    if isinstance(exc, RequestValidationError):
        return problem_of_validation(exc)
    if isinstance(exc, GrumpError):
        return problem_of(exc)
    if isinstance(exc, HTTPException):
        return Problem(exc.status_code, str(exc.detail), "invalid_request")
    if isinstance(exc, PoolTimeout) or (isinstance(exc, DBAPIError) and is_outage(exc)):
        headers = {"Retry-After": str(retry_after)}
        return Problem(503, "database unavailable", "service_unavailable", None, headers)
    return None


def shaped_route(render: Callable[[Problem], dict[str, Any]]) -> type[APIRoute]:
    """A route class answering every failure of its routes, dependencies included, via ``render``."""

    class ShapedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def answer(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:
                    retry_after = request.app.state.runtime.settings.retry_after_seconds
                    problem = _problem_of(exc, retry_after)
                    if problem is None:
                        raise
                    if problem.status == 503:
                        log_unavailable(request.url.path, problem.code, exc)
                    return JSONResponse(
                        render(problem), status_code=problem.status, headers=problem.headers
                    )

            return answer

    return ShapedRoute


async def send_problem(scope: Scope, send: Send, problem: Problem) -> None:
    """Answer ``problem`` from an ASGI middleware, in the shape the client of the path reads."""
    body = json.dumps(body_for_path(scope.get("path", ""), problem)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in problem.headers.items()),
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
