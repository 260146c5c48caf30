"""HTTP plumbing shared by the paid providers: client, retries, error mapping.

Every provider call goes through :class:`JsonHttpClient.post_json`, which

* sends JSON with connect and read timeouts from settings,
* maps the answer onto grump's error tree: 429, 408 and 5xx, connection errors
  and timeouts become :class:`~grump.errors.ProviderTransient` (carrying the
  server's ``Retry-After`` when it sent one); any other 4xx, or a body that is
  not a JSON object, becomes :class:`~grump.errors.ProviderError` with the
  provider's own message,
* retries transient failures with exponential backoff and jitter, waiting at
  least what ``Retry-After`` asks for.

A ``Retry-After`` longer than the policy's cap is not slept through: the error
is raised at once so the task layer can reschedule the job instead of holding
a worker thread idle.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import orjson
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
)
from tenacity.stop import stop_base

from grump.errors import ProviderError, ProviderTransient
from grump.settings import Settings

logger = logging.getLogger(__name__)

# 408 is the server giving up on a slow request: as transient as our own timeout.
_TRANSIENT_STATUSES = frozenset({408, 429})
_MAX_MESSAGE_CHARS = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and for each read/write of a response."""

    read: float = 60.0
    connect: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        return cls(
            read=settings.provider_timeout_seconds,
            connect=settings.provider_connect_timeout_seconds,
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient provider failure is retried.

    ``attempts`` counts every try, the first included. The n-th wait is drawn
    from ``[d/2, d]`` with ``d = min(max_delay, base_delay * 2**(n-1))``; a
    ``Retry-After`` replaces it (plus a little jitter so that workers throttled
    together do not return together).
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")


def backoff_delay(attempt: int, base_delay: float, max_delay: float, unit_random: float) -> float:
    """Wait before retry number ``attempt`` (1-based); ``unit_random`` is in [0, 1)."""
    ceiling = min(max_delay, base_delay * 2.0 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * unit_random


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


def _wait_seconds(policy: RetryPolicy, state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome is not None else None
    jitter = random.random()
    if isinstance(error, ProviderTransient) and error.retry_after is not None:
        return error.retry_after + policy.base_delay * jitter
    return backoff_delay(state.attempt_number, policy.base_delay, policy.max_delay, jitter)


class _RetryAfterBeyondCap(stop_base):
    """Stop when the server asks for a longer wait than the policy will sleep."""

    def __init__(self, max_delay: float) -> None:
        self.max_delay = max_delay

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        return (
            isinstance(error, ProviderTransient)
            and error.retry_after is not None
            and error.retry_after > self.max_delay
        )


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    logger.warning(
        "provider call failed (attempt %d): %s; retrying in %.2fs",
        state.attempt_number,
        error,
        wait,
    )


class JsonHttpClient:
    """A provider's HTTP endpoint: JSON in, JSON object out, errors mapped, retries done.

    Thread-safe: one instance (and its connection pool) serves every thread of
    a worker process.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        timeouts: Timeouts,
        retry: RetryPolicy,
        client: httpx.Client | None = None,
    ) -> None:
        self.provider = provider
        self.retry = retry
        self._client = client or httpx.Client(
            base_url=base_url,
            headers=dict(headers),
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
        )

    def post_json(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``payload`` to ``path`` (relative to the base URL), with retries."""
        policy = self.retry
        retrying = Retrying(
            stop=stop_any(
                stop_after_attempt(policy.attempts),
                _RetryAfterBeyondCap(policy.max_delay),
            ),
            wait=lambda state: _wait_seconds(policy, state),
            retry=retry_if_exception_type(ProviderTransient),
            sleep=policy.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        return retrying(self._post_once, path, payload)

    def _post_once(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(path, json=payload)
        except httpx.TimeoutException as exc:
            raise ProviderTransient(
                f"{self.provider}: timed out ({type(exc).__name__})", provider=self.provider
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            raise ProviderError(f"{self.provider}: bad URL: {exc}", provider=self.provider) from exc
        except httpx.TransportError as exc:
            raise ProviderTransient(
                f"{self.provider}: connection failed: {exc}", provider=self.provider
            ) from exc
        raise_for_status(response, self.provider)
        return decode_json_object(response, self.provider)

    def close(self) -> None:
        self._client.close()
