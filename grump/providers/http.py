"""HTTP plumbing shared by the paid providers: client and retries.

Every provider call goes through :meth:`JsonHttpClient.post_json` (or
``post_stream`` of ``grump.providers.http_stream.StreamingHttpClient`` for a
streamed answer, which retries only before its first piece), which

* sends JSON with connect and read timeouts from settings,
* maps the answer onto grump's error tree (see ``grump.providers.answers``):
  429, 408 and 5xx, connection errors and timeouts become
  :class:`~grump.errors.ProviderTransient` (carrying the server's ``Retry-After``
  when it sent one); any other 4xx, or a body that is not a JSON object, becomes
  :class:`~grump.errors.ProviderError` with the provider's own message,
* retries transient failures with exponential backoff and jitter, waiting at
  least what ``Retry-After`` asks for,
* counts every failed attempt in ``grump_provider_errors_total`` by provider and
  status: the HTTP status code, or ``timeout``, ``connection`` or ``malformed``
  (a 2xx whose body the provider's decoder refuses) when there is none.

A ``Retry-After`` longer than the policy's cap is not slept through: the error
is raised at once so the task layer can reschedule the job instead of holding
a worker thread idle.
"""

from __future__ import annotations

import functools
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
)
from tenacity.stop import stop_base

from grump import metrics
from grump.backoff import backoff
from grump.errors import GrumpError, ProviderError, ProviderTransient
from grump.providers.answers import decode_json_object, raise_for_status
from grump.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
POOL_SHARD = 16  # connections per pool of a provider client (see JsonHttpClient)


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and for each read/write of a response."""

    read: float = 60.0
    connect: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        """The provider timeouts the settings ask for."""
        return cls(
            read=settings.provider_timeout_seconds,
            connect=settings.provider_connect_timeout_seconds,
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient provider failure is retried.

    ``attempts`` counts every try, the first included. The waits are
    ``grump.backoff``'s from ``base_delay`` up to ``max_delay``; a
    ``Retry-After`` replaces them (plus a little jitter so that workers
    throttled together do not return together).
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


def _wait_seconds(policy: RetryPolicy, state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome is not None else None
    if isinstance(error, ProviderTransient) and error.retry_after is not None:
        return error.retry_after + policy.base_delay * random.random()
    return float(backoff(policy.base_delay, policy.max_delay)(state))


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
        connections: int = 100,
    ) -> None:
        self.provider = provider
        self.retry = retry
        # As many pooled connections, all kept alive, as the calls the process makes
        # at once (``connections``). httpx's default (100, of which 20 kept alive)
        # under an llm worker's 128 threads made callers queue for the pool and
        # closed and reopened a connection for most calls: at 1,000 waiting callers
        # some calls failed with EBADF or hung until the read timeout, and the
        # pool's churn doubled the client's CPU per call (measured with 128 threads
        # against bench/upstream.py: 2.9 against 1.4 ms, one read timeout in 30 s).
        # They are split into pools of POOL_SHARD connections, each thread keeping
        # to one: httpcore scans every connection of its pool on each request. With
        # 128 threads against bench/upstream.py, one pool of 128 cost 1.9-2.0 ms of
        # CPU a call and eight pools of 16 cost 1.1.
        shards = 1 if client is not None else max(1, -(-connections // POOL_SHARD))
        size = -(-connections // shards)
        self._new_pool: Callable[[], httpx.Client] = functools.partial(
            httpx.Client,
            base_url=base_url,
            headers=dict(headers),
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
        )
        self._pools: list[httpx.Client | None] = [client] if client is not None else [None] * shards
        self._turns = itertools.count()
        self._thread = threading.local()
        self._pools_lock = threading.Lock()

    @property
    def _client(self) -> httpx.Client:
        """This thread's pool: each thread takes one in turn, the first time it calls.

        A pool is built when a thread first takes it (building one costs tens of
        milliseconds: its TLS context), so a process that calls from few threads
        builds few.
        """
        pool: httpx.Client | None = getattr(self._thread, "pool", None)
        if pool is None:
            shard = next(self._turns) % len(self._pools)
            with self._pools_lock:
                pool = self._pools[shard]
                if pool is None:
                    pool = self._pools[shard] = self._new_pool()
            self._thread.pool = pool
        return pool

    def post_json(
        self,
        path: str,
        payload: Mapping[str, Any],
        decode: Callable[[dict[str, Any]], T],
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """POST ``payload`` to ``path`` (relative to the base URL), with retries; ``decode`` reads the answer.

        ``decode`` raises :class:`~grump.errors.ProviderError` for an answer that is
        JSON but not the API's: that is counted as ``malformed`` and not retried.
        """
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
        data = retrying(self._post_once, path, payload, headers)
        try:
            return decode(data)
        except ProviderError:
            self._count_failure("malformed")
            raise

    def _post_once(
        self, path: str, payload: Mapping[str, Any], headers: Mapping[str, str] | None
    ) -> dict[str, Any]:
        try:
            response = self._client.post(path, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        if not response.is_success:
            self._count_failure(str(response.status_code))
            raise_for_status(response, self.provider)
        try:
            return decode_json_object(response, self.provider)
        except ProviderError:
            self._count_failure("malformed")
            raise

    def _transport_error(self, exc: httpx.HTTPError, during: str = "call") -> GrumpError:
        """grump's error for a failure with no HTTP answer (``during`` a call or a stream), counted."""
        if isinstance(exc, httpx.TimeoutException):
            self._count_failure("timeout")
            return ProviderTransient(
                f"{self.provider}: timed out ({type(exc).__name__})", provider=self.provider
            )
        self._count_failure("connection")
        if isinstance(exc, httpx.UnsupportedProtocol):
            return ProviderError(f"{self.provider}: bad URL: {exc}", provider=self.provider)
        what = "stream broke" if during == "stream" else "connection failed"
        return ProviderTransient(f"{self.provider}: {what}: {exc}", provider=self.provider)

    def _count_failure(self, status: str) -> None:
        metrics.PROVIDER_ERRORS.labels(self.provider, status).inc()

    def close(self) -> None:
        """Close the connection pool; the client is not used after this."""
        with self._pools_lock:
            for pool in self._pools:
                if pool is not None:
                    pool.close()
