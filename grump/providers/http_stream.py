"""Streamed provider calls: the answer's lines read as they arrive, retried only before the first.

:class:`StreamingHttpClient` is ``grump.providers.http``'s client with
``post_stream`` besides ``post_json``. Before the answer's first byte a failure
maps onto grump's errors, is counted and is retried as a plain call's is (the
error body read first, ``Retry-After`` honoured up to the policy's cap). Once
the reader has yielded a piece nothing is retried, since the caller already
has half an answer: a broken connection, a read timeout or a malformed line
raises :class:`~grump.errors.ProviderTransient`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from grump.backoff import backoff_seconds
from grump.errors import GrumpError, ProviderTransient
from grump.providers.answers import raise_for_status
from grump.providers.http import JsonHttpClient, RetryPolicy

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _stream_wait_seconds(policy: RetryPolicy, error: ProviderTransient, attempt: int) -> float:
    if error.retry_after is not None:
        return error.retry_after + policy.base_delay * random.random()
    return backoff_seconds(attempt, policy.base_delay, policy.max_delay)


class StreamingHttpClient(JsonHttpClient):
    """A provider's HTTP endpoint that also streams: ``post_json``, and ``post_stream``."""

    def post_stream(
        self,
        path: str,
        payload: Mapping[str, Any],
        read: Callable[[Iterator[str]], Iterator[T]],
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[T]:
        """POST ``payload`` and yield what ``read`` makes of the answer's lines, as they arrive.

        Errors before the answer's first byte map (and are retried) as in
        :meth:`post_json`, the error body read first. A failure once ``read``
        has yielded is never retried (the caller has half an answer): a broken
        connection, a read timeout or a malformed line raises
        :class:`~grump.errors.ProviderTransient`. Closing the iterator closes
        the upstream response.
        """
        attempt = 0
        while True:
            attempt += 1
            yielded = False
            try:
                with self._open_stream(path, payload, headers) as response:
                    for item in self._read(response, read):
                        yielded = True
                        yield item
                return
            except ProviderTransient as error:
                if yielded or not self._retries_stream(error, attempt):
                    raise
                wait = _stream_wait_seconds(self.retry, error, attempt)
                logger.warning(
                    "provider stream failed before its first piece (attempt %d): %s; "
                    "retrying in %.2fs",
                    attempt,
                    error,
                    wait,
                )
                self.retry.sleep(wait)

    def _retries_stream(self, error: ProviderTransient, attempt: int) -> bool:
        beyond_cap = error.retry_after is not None and error.retry_after > self.retry.max_delay
        return attempt < self.retry.attempts and not beyond_cap

    @contextmanager
    def _open_stream(
        self, path: str, payload: Mapping[str, Any], headers: Mapping[str, str] | None
    ) -> Iterator[httpx.Response]:
        try:
            request = self._client.build_request("POST", path, json=payload, headers=headers)
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        try:
            if not response.is_success:
                self._count_failure(str(response.status_code))
                try:
                    response.read()
                except httpx.HTTPError as exc:
                    raise self._transport_error(exc) from exc
                raise_for_status(response, self.provider)
            yield response
        finally:
            response.close()

    def _read(
        self, response: httpx.Response, read: Callable[[Iterator[str]], Iterator[T]]
    ) -> Iterator[T]:
        broken = False

        def lines() -> Iterator[str]:
            nonlocal broken
            try:
                yield from response.iter_lines()
            except httpx.HTTPError as exc:
                broken = True
                raise self._transport_error(exc, during="stream") from exc

        try:
            yield from read(lines())
        except GrumpError:
            if not broken:  # the reader refused what came: a bad chunk, an error event
                self._count_failure("malformed")
            raise
