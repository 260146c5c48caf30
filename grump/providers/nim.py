"""NVIDIA NIM: chat completions and embeddings over its OpenAI-compatible API.

The same code talks to the hosted catalogue (``https://integrate.api.nvidia.com/v1``)
and to a self-hosted NIM container (``http://nim:8000/v1``); a base URL given
without its ``/v1`` gets one. Token counts come from the response's ``usage``
and are only estimated when NIM leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Self

import httpx

from grump.errors import ProviderError
from grump.providers.answers import expect, token_count
from grump.providers.base import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    EmbedRequest,
    EmbedResult,
    estimate_tokens,
)
from grump.providers.http import JsonHttpClient, RetryPolicy, Timeouts
from grump.settings import Settings

PROVIDER = "nim"


def nim_base_url(url: str) -> str:
    """``url`` ending in exactly one ``/v1``: NIM serves its API under that prefix."""
    base = url.rstrip("/")
    return base if base.endswith("/v1") else f"{base}/v1"


def chat_payload(request: ChatRequest) -> dict[str, Any]:
    """The body NIM's ``/chat/completions`` takes for ``request``, without streaming."""
    return {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.text()} for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": False,
    }


def parse_chat_response(data: Mapping[str, Any], request: ChatRequest) -> ChatResult:
    """NIM's chat answer as a ChatResult, tokens estimated if absent; ProviderError if malformed."""
    choices = expect(data, "choices", list, PROVIDER)
    if not choices or not isinstance(choices[0], dict):
        raise ProviderError("malformed response: no choices", provider=PROVIDER)
    message = expect(choices[0], "message", dict, PROVIDER)
    # Reasoning models may spend the whole budget thinking and send content null.
    content = message.get("content") or ""
    if not isinstance(content, str):
        raise ProviderError("malformed response: message content is not text", provider=PROVIDER)
    finish_reason = choices[0].get("finish_reason")
    tokens_in, tokens_out = _usage_tokens(data.get("usage"))
    if tokens_in is None:
        tokens_in = sum(estimate_tokens(m.text()) for m in request.messages)
    if tokens_out is None:
        tokens_out = estimate_tokens(content)
    model = data.get("model")
    return ChatResult(
        content=content,
        model=model if isinstance(model, str) and model else request.model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        finish_reason=finish_reason if isinstance(finish_reason, str) else "stop",
        provider=PROVIDER,
    )


def _usage_tokens(usage: object) -> tuple[int | None, int | None]:
    if not isinstance(usage, dict):
        return None, None
    return token_count(usage.get("prompt_tokens")), token_count(usage.get("completion_tokens"))


def embed_payload(request: EmbedRequest) -> dict[str, Any]:
    """The body NIM's ``/embeddings`` takes for ``request``, asking for float vectors."""
    payload: dict[str, Any] = {
        "model": request.model,
        "input": list(request.texts),
        "input_type": request.input_type,
        "encoding_format": "float",
        "truncate": request.truncate,
    }
    if request.dimensions is not None:
        payload["dimensions"] = request.dimensions
    return payload


def parse_embed_response(data: Mapping[str, Any], request: EmbedRequest) -> EmbedResult:
    """NIM's embeddings in the order of the request's texts; ProviderError when malformed."""
    items = expect(data, "data", list, PROVIDER)
    if len(items) != len(request.texts):
        raise ProviderError(
            f"malformed response: {len(items)} embeddings for {len(request.texts)} texts",
            provider=PROVIDER,
        )
    by_index: dict[int, list[float]] = {}
    for item in items:
        if not isinstance(item, dict):
            raise ProviderError("malformed response: embedding is not an object", provider=PROVIDER)
        by_index[expect(item, "index", int, PROVIDER)] = _vector(item, request.dimensions)
    if sorted(by_index) != list(range(len(request.texts))):
        raise ProviderError("malformed response: embedding indexes do not match", provider=PROVIDER)
    usage = data.get("usage")
    tokens = None
    if isinstance(usage, dict):
        tokens = token_count(usage.get("prompt_tokens"))
        tokens = tokens if tokens is not None else token_count(usage.get("total_tokens"))
    model = data.get("model")
    return EmbedResult(
        vectors=[by_index[i] for i in range(len(request.texts))],
        model=model if isinstance(model, str) and model else request.model,
        tokens_in=tokens if tokens is not None else sum(map(estimate_tokens, request.texts)),
        provider=PROVIDER,
    )


def _vector(item: Mapping[str, Any], dimensions: int | None) -> list[float]:
    values: list[Any] = expect(item, "embedding", list, PROVIDER)
    # One type check per vector, not per number: a batch holds ~262k of them.
    kinds = set(map(type, values))
    if not values or not kinds <= {float, int}:
        raise ProviderError("malformed response: embedding is not numbers", provider=PROVIDER)
    if dimensions is not None and len(values) != dimensions:
        raise ProviderError(
            f"malformed response: {len(values)} dimensions, asked for {dimensions}",
            provider=PROVIDER,
        )
    return values if kinds == {float} else [float(v) for v in values]


class _NimEndpoint:
    """One NIM base URL and its connection pool; closes with ``with`` or :meth:`close`."""

    name: str = PROVIDER

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        headers = {"Accept": "application/json"}
        # A self-hosted NIM usually runs without a key; the hosted one needs it.
        if settings.nim_api_key:
            headers["Authorization"] = f"Bearer {settings.nim_api_key}"
        self.base_url = nim_base_url(settings.nim_url)
        self._http = JsonHttpClient(
            PROVIDER,
            self.base_url,
            headers,
            Timeouts.from_settings(settings),
            retry or RetryPolicy(),
            client,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class NimChat(_NimEndpoint):
    """Chat completions from NIM's ``/chat/completions``."""

    def complete(self, request: ChatRequest) -> ChatResult:
        """The model's reply from one POST to NIM, retried on transient errors."""
        return self._http.post_json(
            "chat/completions",
            chat_payload(request),
            lambda data: parse_chat_response(data, request),
        )

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        """The reply whole, as the stream's one item (streaming from NIM comes next)."""
        yield self.complete(request)


class NimEmbeddings(_NimEndpoint):
    """Embeddings from NIM's ``/embeddings``; one call per request, whatever its size."""

    def embed(self, request: EmbedRequest) -> EmbedResult:
        """One vector per text, in order, from one POST to NIM; no call for no texts."""
        if not request.texts:
            return EmbedResult(vectors=[], model=request.model, tokens_in=0, provider=PROVIDER)
        return self._http.post_json(
            "embeddings", embed_payload(request), lambda data: parse_embed_response(data, request)
        )
