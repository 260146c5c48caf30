"""Errors as answers: 4xx naming the field and reason, 503 with Retry-After, never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from grump.errors import GrumpError, RateLimited, ServiceUnavailable
from grump.jobs.models import JobKind
from grump.ledger.db import is_outage

log = logging.getLogger(__name__)
_KIND_TAGS = {k.value for k in JobKind}
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'jobs', 0, 'embed', 'input', 'texts') -> 'jobs[0].input.texts'."""
    parts: list[str] = []
    for index, item in enumerate(loc):
        if index == 0 and item in ("body", "query", "path", "header"):
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in _KIND_TAGS:
            continue  # pydantic's discriminator tag, not a field the caller wrote
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def describe(error: dict[str, Any]) -> dict[str, str]:
    """One pydantic error as {field, reason}, in the caller's terms."""
    field = field_path(tuple(error.get("loc", ())))
    reason = str(error.get("msg", "invalid"))
    if error.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        field = f"{field}.kind" if field else "kind"
        reason = "must be one of " + ", ".join(k.value for k in JobKind)
    return {"field": field or "body", "reason": reason}


def _error(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def log_unavailable(path: str, code: str, exc: BaseException) -> None:
    """One warning line for a 503: the path, the error code and the exception's type (and cause's).

    Only type names, never the exception's text: a driver's message can carry a URL.
    """
    cause = exc.__cause__ or exc.__context__
    because = f" from {type(cause).__module__}.{type(cause).__name__}" if cause else ""
    kind = f"{type(exc).__module__}.{type(exc).__name__}"
    log.warning("503 %s on %s: %s%s", code, path, kind, because)


def _unavailable(retry_after: int, message: str) -> JSONResponse:
    body = {"code": "service_unavailable", "message": message}
    return _error(503, body, {"Retry-After": str(retry_after)})


def install_error_handlers(app: FastAPI, retry_after: int) -> None:
    """Answer every error in grump's JSON shape: validation, HTTP, grump's own and the database's."""

    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [describe(e) for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "reason": "invalid"}
        message = f"{first['field']}: {first['reason']}"
        return _error(
            422, {"code": "validation_failed", "message": message, **first, "errors": errors}
        )

    @app.exception_handler(HTTPException)
    async def on_http_error(_: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's own refusals (unparsable body, unknown path, wrong method) in grump's shape.
        fallback = "bad_request" if exc.status_code < 500 else "internal"
        body = {"code": _HTTP_CODES.get(exc.status_code, fallback), "message": str(exc.detail)}
        return _error(exc.status_code, body, dict(exc.headers) if exc.headers else None)

    @app.exception_handler(GrumpError)
    async def on_grump_error(request: Request, exc: GrumpError) -> JSONResponse:
        if exc.status_code == 503:
            log_unavailable(request.url.path, exc.code, exc)
        if isinstance(exc, ServiceUnavailable):
            return _unavailable(exc.retry_after, exc.message)
        if isinstance(exc, RateLimited):
            return _error(429, exc.to_dict(), {"Retry-After": str(exc.retry_after)})
        if exc.status_code >= 500:
            log.error("request failed: %s", exc.message)
        return _error(exc.status_code, exc.to_dict())

    @app.exception_handler(DBAPIError)
    async def on_db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if is_outage(exc):
            log_unavailable(request.url.path, "database_unavailable", exc)
            return _unavailable(retry_after, "database unavailable")
        log.exception("database error")
        return _error(500, {"code": "internal", "message": "internal error"})

    @app.exception_handler(PoolTimeout)
    async def on_pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        log_unavailable(request.url.path, "database_unavailable", exc)
        return _unavailable(retry_after, "database unavailable")
