"""NVIDIA NIM: chat completions (plain and streamed) and embeddings over its OpenAI-compatible API.

The same code talks to the hosted catalogue (``https://integrate.api.nvidia.com/v1``)
and to a self-hosted NIM container (``http://nim:8000/v1``); a base URL given
without its ``/v1`` gets one. Token counts come from the response's ``usage``
and are only estimated when NIM leaves them out. The chat wire format itself
(body, answer, stream chunks) is ``grump.providers.openai_shapes``.
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
from grump.providers.http import RetryPolicy, Timeouts
from grump.providers.http_stream import StreamingHttpClient
from grump.providers.openai_shapes import (
    PROVIDER,
    chat_payload,
    parse_chat_response,
    read_chat_stream,
)
from grump.providers.sse import parse_sse
from grump.settings import Settings

__all__ = ["NimChat", "NimEmbeddings", "chat_payload", "nim_base_url", "parse_chat_response"]


def nim_base_url(url: str) -> str:
    """``url`` ending in exactly one ``/v1``: NIM serves its API under that prefix."""
    base = url.rstrip("/")
    return base if base.endswith("/v1") else f"{base}/v1"


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
        self._http = StreamingHttpClient(
            PROVIDER,
            self.base_url,
            headers,
            Timeouts.from_settings(settings),
            retry or RetryPolicy(),
            client,
            connections=settings.llm_concurrency,  # the calls a worker makes at once
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
        """The reply as NIM streams it: deltas as they arrive, then the whole answer.

        Retried only until the first delta; closing the iterator closes NIM's response.
        """
        return self._http.post_stream(
            "chat/completions",
            chat_payload(request, stream=True),
            lambda lines: read_chat_stream(parse_sse(lines), request),
        )


class NimEmbeddings(_NimEndpoint):
    """Embeddings from NIM's ``/embeddings``; one call per request, whatever its size."""

    def embed(self, request: EmbedRequest) -> EmbedResult:
        """One vector per text, in order, from one POST to NIM; no call for no texts."""
        if not request.texts:
            return EmbedResult(vectors=[], model=request.model, tokens_in=0, provider=PROVIDER)
        return self._http.post_json(
            "embeddings", embed_payload(request), lambda data: parse_embed_response(data, request)
        )
