"""Anthropic's Message Batches API: create a batch, read it, list recent ones, read its results.

Each call is made once, never retried here: creating a batch twice would send
its requests twice, and the reads are repeated by beat's next pass anyway
(``grump.jobs.batches``). Failures map onto grump's error tree as every
provider call's do (``grump.providers.answers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import httpx
import orjson

from grump.errors import ProviderError, ProviderTransient
from grump.providers.answers import decode_json_object, raise_for_status
from grump.providers.anthropic import anthropic_base_url, beta_headers
from grump.providers.anthropic_answers import PROVIDER
from grump.settings import Settings

BATCHES_PATH = "v1/messages/batches"


class AnthropicBatches:
    """A client of ``/v1/messages/batches``: one HTTP call per method, errors mapped."""

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        headers = {"anthropic-version": settings.anthropic_version, "Accept": "application/json"}
        if settings.anthropic_api_key:
            headers["x-api-key"] = settings.anthropic_api_key
        self._client = client or httpx.Client(
            base_url=anthropic_base_url(settings.anthropic_url),
            headers=headers,
            timeout=httpx.Timeout(
                settings.provider_timeout_seconds, connect=settings.provider_connect_timeout_seconds
            ),
        )

    def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = self._client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderTransient(f"{PROVIDER}: batches: {exc}", provider=PROVIDER) from exc
        raise_for_status(response, PROVIDER)
        return response

    def create(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        """Create a batch of ``{"custom_id", "params"}`` requests; the batch object."""
        body = {"requests": requests}  # the 1-hour cache TTL's beta, when a request asks it
        return decode_json_object(
            self._send("POST", BATCHES_PATH, body, beta_headers(body)), PROVIDER
        )

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        """The batch object: ``processing_status``, ``request_counts``, ``results_url``."""
        return decode_json_object(self._send("GET", f"{BATCHES_PATH}/{batch_id}"), PROVIDER)

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent batches of the workspace, newest first."""
        page = decode_json_object(self._send("GET", f"{BATCHES_PATH}?limit={limit}"), PROVIDER)
        data = page.get("data")
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    def results(self, results_url: str) -> list[dict[str, Any]]:
        """An ended batch's results: one JSON object per line, each with its ``custom_id``."""
        lines = self._send("GET", results_url).content.splitlines()
        try:
            rows = [orjson.loads(line) for line in lines if line.strip()]
        except ValueError as exc:
            raise ProviderError(f"{PROVIDER}: batch results are not JSONL: {exc}") from exc
        return [row for row in rows if isinstance(row, dict)]

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
