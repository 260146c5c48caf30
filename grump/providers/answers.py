"""Reading a provider's answer: its errors in grump's error tree, its JSON checked.

A 429, 408 or 5xx becomes :class:`~grump.errors.ProviderTransient`, carrying the
server's ``Retry-After`` when it sent one; any other 4xx, or a body that is not
a JSON object, becomes :class:`~grump.errors.ProviderError` with the provider's
own message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import orjson

from grump.errors import ProviderError, ProviderTransient

# 408 is the server giving up on a slow request: as transient as our own timeout.
_TRANSIENT_STATUSES = frozenset({408, 429})
_MAX_MESSAGE_CHARS = 1000

T = TypeVar("T")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after_from_headers(
    headers: Mapping[str, str], now: datetime | None = None
) -> float | None:
    """The server's requested wait: ``retry-after-ms`` (finer) first, then ``Retry-After``."""
    millis = parse_retry_after(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    return parse_retry_after(headers.get("retry-after"), now)


def error_message(status: int, body: str) -> str:
    """The provider's own words from an error body, whatever its shape.

    Understood shapes: OpenAI's ``{"error": {"message", "type", "code"}}``,
    Anthropic's ``{"type": "error", "error": {"type", "message"}}``, NVIDIA's
    problem details ``{"status", "title", "detail"}``, NIM's self-hosted
    ``{"object": "error", "message"}``, FastAPI's ``{"detail": [...]}``, a JSON
    string, and plain text.
    """
    try:
        data: object = json.loads(body)
    except ValueError:
        data = None
    message = _message_from_json(data) if data is not None else None
    if not message:
        message = body.strip() or f"HTTP {status}"
    return message[:_MAX_MESSAGE_CHARS]


def _message_from_json(data: object) -> str | None:
    if isinstance(data, str):
        return data
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    if isinstance(data.get("message"), str):
        return str(data["message"])
    title, detail = data.get("title"), data.get("detail")
    if isinstance(detail, list):
        detail = "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    if isinstance(detail, str) and detail:
        return f"{title}: {detail}" if isinstance(title, str) and title else detail
    return title if isinstance(title, str) and title else None


def is_transient_status(status: int) -> bool:
    """Whether an HTTP status is worth retrying: timeouts, rate limits and server errors."""
    return status in _TRANSIENT_STATUSES or status >= 500


def raise_for_status(response: httpx.Response, provider: str) -> None:
    """Raise grump's error for a non-2xx answer; do nothing for a 2xx."""
    if response.is_success:
        return
    status = response.status_code
    message = error_message(status, response.text)
    if is_transient_status(status):
        raise ProviderTransient(
            message,
            retry_after=retry_after_from_headers(response.headers),
            provider=provider,
            status=status,
        )
    raise ProviderError(message, provider=provider, status=status)


def decode_json_object(response: httpx.Response, provider: str) -> dict[str, Any]:
    """The answer's body as a JSON object; ProviderError when it is not one."""
    try:
        # orjson: an embeddings answer carries tens of thousands of floats.
        data = orjson.loads(response.content)
    except ValueError as exc:
        raise ProviderError(
            f"malformed response: body is not JSON: {response.text[:200]!r}", provider=provider
        ) from exc
    if not isinstance(data, dict):
        raise ProviderError("malformed response: body is not a JSON object", provider=provider)
    return data


def expect(data: Mapping[str, Any], key: str, kind: type[T], provider: str) -> T:
    """``data[key]`` if it is a ``kind``; a :class:`ProviderError` otherwise."""
    value = data.get(key)
    # bool is an int to Python, never a count or a text to a provider.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ProviderError(
            f"malformed response: {key!r} is {type(value).__name__}, expected {kind.__name__}",
            provider=provider,
        )
    return value


def token_count(value: object) -> int | None:
    """A usage count from a response, or None when it is missing or nonsense."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
