"""Anthropic's Messages API (``POST /v1/messages``) as a grump chat provider.

grump's requests follow OpenAI's conventions (system messages inline,
temperature 0..2, ``finish_reason``); this module translates both ways so the
rest of grump never sees the difference.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Self

import httpx

from grump.errors import ProviderError
from grump.providers.answers import expect, token_count
from grump.providers.base import ChatDelta, ChatRequest, ChatResult, estimate_tokens
from grump.providers.http import JsonHttpClient, RetryPolicy, Timeouts
from grump.settings import Settings

PROVIDER = "anthropic"

# Anthropic's stop_reason in the finish_reason words the rest of grump (and the
# OpenAI-compatible API) uses; anything new passes through unchanged.
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Anthropic refuses a temperature above 1 with a 400; grump accepts OpenAI's 0..2.
_MAX_TEMPERATURE = 1.0


def anthropic_base_url(url: str) -> str:
    """The API root without a trailing ``/v1``: the request path carries it."""
    base = url.rstrip("/")
    return base.removesuffix("/v1")


def messages_payload(request: ChatRequest) -> dict[str, Any]:
    """The Messages API body for a chat request: system messages joined apart, temperature clamped to Anthropic's 0..1."""
    system = [m.text() for m in request.messages if m.role == "system"]
    payload: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "temperature": min(max(request.temperature, 0.0), _MAX_TEMPERATURE),
        "messages": [
            {"role": m.role, "content": m.text()} for m in request.messages if m.role != "system"
        ],
    }
    if system:
        payload["system"] = "\n\n".join(system)
    return payload


def parse_messages_response(data: Mapping[str, Any], request: ChatRequest) -> ChatResult:
    """A Messages API answer as a chat result, estimating the tokens it does not report."""
    content = _text_of(expect(data, "content", list, PROVIDER))
    reported = data.get("usage")
    usage: Mapping[str, Any] = reported if isinstance(reported, dict) else {}
    tokens_in = token_count(usage.get("input_tokens"))
    tokens_out = token_count(usage.get("output_tokens"))
    if tokens_in is None:
        tokens_in = sum(estimate_tokens(m.text()) for m in request.messages)
    if tokens_out is None:
        tokens_out = estimate_tokens(content)
    stop_reason = data.get("stop_reason")
    model = data.get("model")
    return ChatResult(
        content=content,
        model=model if isinstance(model, str) and model else request.model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        finish_reason=FINISH_REASONS.get(stop_reason, stop_reason)
        if isinstance(stop_reason, str)
        else "stop",
        provider=PROVIDER,
    )


def _text_of(blocks: list[Any]) -> str:
    """The answer's text blocks joined; thinking and tool blocks are not the answer."""
    texts: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            raise ProviderError(
                "malformed response: content block is not an object", provider=PROVIDER
            )
        if block.get("type") == "text":
            texts.append(expect(block, "text", str, PROVIDER))
    return "".join(texts)


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
        self._http = JsonHttpClient(
            PROVIDER,
            self.base_url,
            headers,
            Timeouts.from_settings(settings),
            retry or RetryPolicy(),
            client,
        )

    def complete(self, request: ChatRequest) -> ChatResult:
        """The model's reply to ``request`` from ``POST /v1/messages``, with retries on transient failures."""
        return self._http.post_json(
            "v1/messages",
            messages_payload(request),
            lambda data: parse_messages_response(data, request),
        )

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        """The reply whole, as the stream's one item (streaming from Anthropic comes next)."""
        yield self.complete(request)

    def close(self) -> None:
        """Close the HTTP client and its connections, a client passed in included."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
