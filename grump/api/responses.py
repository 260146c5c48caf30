"""The error answers every route may give, declared so they are part of the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from grump.api.schemas import ErrorBody


class OpenAIErrorBody(BaseModel):
    """OpenAI's error shape: ``{"error": {"message", "type", "code", "param"}}``."""

    error: dict[str, Any]


class AnthropicErrorBody(BaseModel):
    """Anthropic's error shape: ``{"type": "error", "error": {"type", "message"}}``."""

    type: str
    error: dict[str, Any]


_MEANINGS = {
    400: "the body is not JSON, or not the JSON this route takes",
    401: "missing or invalid API key",
    402: "over budget: nothing was enqueued",
    403: "this needs an admin key",
    404: "no such resource for this tenant",
    409: "conflict with the resource's state",
    413: "request body over the limit",
    415: "the body is not JSON: send it with Content-Type: application/json",
    422: "a field failed validation; the answer names it",
    429: "over a key's or tenant's rate limit: nothing was enqueued; retry after Retry-After",
    502: "the job failed",
    503: "a service grump needs is down; retry after Retry-After seconds",
    504: "the job is still running; GET /v1/jobs/{id} later",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}


def _declare(model: type[BaseModel], codes: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    declared: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": model, "description": _MEANINGS[code]}
        if code in (429, 503, 504):
            entry["headers"] = _RETRY_AFTER
        declared[code] = entry
    return declared


ERROR_RESPONSES = _declare(ErrorBody, (400, 401, 402, 403, 404, 409, 413, 415, 422, 429, 503))
_CLIENT_CODES = (400, 401, 402, 403, 404, 413, 415, 429, 502, 503, 504)
OPENAI_ERROR_RESPONSES = _declare(OpenAIErrorBody, _CLIENT_CODES)
ANTHROPIC_ERROR_RESPONSES = _declare(AnthropicErrorBody, _CLIENT_CODES)
_STREAMED = {"text/event-stream": {"schema": {"type": "string"}}}
# The chat routes answer JSON, or server-sent events when the body asks to stream.
STREAMED_OK: dict[int | str, dict[str, Any]] = {
    200: {"description": "the answer, or its stream of events", "content": _STREAMED}
}
