"""The error answers every route may give, declared so they are part of the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from grump.api.schemas import ErrorBody


class OpenAIErrorBody(BaseModel):
    """OpenAI's error shape: ``{"error": {"message", "type", "code", "param"}}``."""

    error: dict[str, Any]


_MEANINGS = {
    400: "the body is not JSON, or not the JSON this route takes",
    401: "missing or invalid API key",
    402: "over budget: nothing was enqueued",
    403: "this needs an admin key",
    404: "no such resource for this tenant",
    409: "conflict with the resource's state",
    413: "request body over the limit",
    422: "a field failed validation; the answer names it",
    429: "over a key's or tenant's rate limit: nothing was enqueued; retry after Retry-After",
    503: "a service grump needs is down; retry after Retry-After seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}


def _declare(model: type[BaseModel], codes: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    declared: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": model, "description": _MEANINGS[code]}
        if code in (429, 503):
            entry["headers"] = _RETRY_AFTER
        declared[code] = entry
    return declared


ERROR_RESPONSES = _declare(ErrorBody, (400, 401, 402, 403, 404, 409, 413, 422, 429, 503))
OPENAI_ERROR_RESPONSES = _declare(OpenAIErrorBody, (400, 401, 402, 403, 404, 413, 422, 429, 503))
OPENAI_ERROR_RESPONSES[502] = {"model": OpenAIErrorBody, "description": "the job failed"}
OPENAI_ERROR_RESPONSES[504] = {
    "model": OpenAIErrorBody,
    "description": "the job is still running; GET /v1/jobs/{id} later",
}
