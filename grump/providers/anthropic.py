"""Anthropic's Messages API (``POST /v1/messages``) as a grump chat provider, plain and streamed.

grump's requests follow OpenAI's conventions (system messages inline,
temperature 0..2, tools as functions, ``finish_reason``); the translation both
ways is pure and lives apart: the request in ``grump.providers.anthropic_shapes``,
the answer and the event stream in ``grump.providers.anthropic_answers``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Self

import httpx

from grump.providers.answers import expect
from grump.providers.anthropic_answers import (
    FINISH_REASONS,
    PROVIDER,
    parse_messages_response,
    read_messages_stream,
)
from grump.providers.anthropic_shapes import messages_payload
from grump.providers.base import ChatDelta, ChatRequest, ChatResult
from grump.providers.http import RetryPolicy, Timeouts
from grump.providers.http_stream import StreamingHttpClient
from grump.providers.sse import parse_sse
from grump.settings import Settings

__all__ = [
    "FINISH_REASONS",
    "AnthropicChat",
    "anthropic_base_url",
    "messages_payload",
    "parse_messages_response",
]


# The 1-hour prompt-cache TTL was introduced behind this beta; sent only when a
# breakpoint asks for it, so an ordinary request carries no beta at all.
EXTENDED_CACHE_TTL_BETA = "extended-cache-ttl-2025-04-11"


def beta_headers(payload: Mapping[str, Any]) -> dict[str, str] | None:
    """The ``anthropic-beta`` header a Messages body needs: the 1-hour cache TTL's, or none."""
    if _asks_long_ttl(payload):
        return {"anthropic-beta": EXTENDED_CACHE_TTL_BETA}
    return None


def _asks_long_ttl(value: object) -> bool:
    if isinstance(value, dict):
        control = value.get("cache_control")
        if isinstance(control, dict) and control.get("ttl") == "1h":
            return True
        return any(_asks_long_ttl(item) for item in value.values())
    if isinstance(value, list):
        return any(_asks_long_ttl(item) for item in value)
    return False


def anthropic_base_url(url: str) -> str:
    """The API root without a trailing ``/v1``: the request path carries it."""
    base = url.rstrip("/")
    return base.removesuffix("/v1")


class AnthropicChat:
    """Chat completions from Anthropic's Messages API."""

    name: str = PROVIDER

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        headers = {"anthropic-version": settings.anthropic_version, "Accept": "application/json"}
        if settings.anthropic_api_key:
            headers["x-api-key"] = settings.anthropic_api_key
        self.base_url = anthropic_base_url(settings.anthropic_url)
        self._http = StreamingHttpClient(
            PROVIDER,
            self.base_url,
            headers,
            Timeouts.from_settings(settings),
            retry or RetryPolicy(),
            client,
            connections=settings.llm_concurrency,  # the calls a worker makes at once
        )
        self._framing: int | None = None

    def complete(self, request: ChatRequest) -> ChatResult:
        """The model's reply to ``request`` from ``POST /v1/messages``, with retries on transient failures."""
        payload = messages_payload(request)
        return self._http.post_json(
            "v1/messages",
            payload,
            lambda data: parse_messages_response(data, request),
            beta_headers(payload),
        )

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        """The reply as Anthropic streams it: deltas as they arrive, then the whole answer.

        Retried only until the first delta; closing the iterator closes the response.
        """
        payload = messages_payload(request, stream=True)
        return self._http.post_stream(
            "v1/messages",
            payload,
            lambda lines: read_messages_stream(parse_sse(lines), request),
            beta_headers(payload),
        )

    def count_tokens(self, model: str, text: str) -> int:
        """Anthropic's own count of ``text``'s tokens (``POST /v1/messages/count_tokens``, free).

        The endpoint counts a request, so ``text`` goes as a user message and
        the message's framing (what a one-token message counts beyond its token)
        is taken off.
        """
        if self._framing is None:
            self._framing = max(0, self._count(model, "x") - 1)
        return max(0, self._count(model, text) - self._framing)

    def _count(self, model: str, text: str) -> int:
        payload = {"model": model, "messages": [{"role": "user", "content": text}]}
        return self._http.post_json(
            "v1/messages/count_tokens",
            payload,
            lambda data: expect(data, "input_tokens", int, PROVIDER),
        )

    def close(self) -> None:
        """Close the HTTP client and its connections, a client passed in included."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
