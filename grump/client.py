"""Python client for services that submit work to grump (httpx).

5xx answers and connection errors are retried with ``grump.backoff``
(3 attempts, waiting about 1 s then 2 s, jittered); 4xx answers raise at once
with the server's message. Every submit carries an Idempotency-Key, so a retried
submit never makes a second job.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from grump import errors
from grump.backoff import backoff

_BY_STATUS: dict[int, type[errors.RequestError]] = {
    401: errors.Unauthorized,
    402: errors.BudgetExceeded,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    422: errors.ValidationFailed,
}
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "rejected"})


class _Retryable(Exception):
    def __init__(self, response: httpx.Response | None, cause: Exception | None = None) -> None:
        super().__init__(
            str(cause) if cause else f"HTTP {response.status_code if response else '?'}"
        )
        self.response = response
        self.cause = cause


def _request_error(response: httpx.Response) -> errors.RequestError:
    try:
        body = response.json().get("error", {})
    except ValueError:
        body = {}
    message = str(body.get("message") or response.text or response.reason_phrase)
    cls = _BY_STATUS.get(response.status_code, errors.RequestError)
    details = {k: v for k, v in body.items() if k not in ("message",)}
    exc = errors.RequestError.__new__(cls)
    errors.GrumpError.__init__(exc, message, **details)
    exc.status_code = response.status_code
    return exc


class GrumpClient:
    """A grump API client for one key: submit, read, list and cancel jobs, retrying outages."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff_initial: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )
        self.attempts = attempts
        self.backoff_initial = backoff_initial

    def close(self) -> None:
        """Close the HTTP connections; the client is not used after this."""
        self._http.close()

    def __enter__(self) -> GrumpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _Retryable(None, exc) from exc
        if response.status_code >= 500:
            raise _Retryable(response)
        if response.status_code >= 400:
            raise _request_error(response)
        return response

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=backoff(self.backoff_initial, 30),
            retry=retry_if_exception_type(_Retryable),
            retry_error_callback=_give_up,
            reraise=False,
        )
        response: httpx.Response = retrying(self._send, method, path, **kwargs)
        return response.json()

    def submit(
        self,
        kind: str,
        input: dict[str, Any],
        *,
        user: str | None = None,
        session: str | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Submit one job and return it as the API shows it; a fresh Idempotency-Key is made unless one is given."""
        body: dict[str, Any] = {"kind": kind, "input": input}
        for name, value in (("user", user), ("session", session), ("priority", priority)):
            if value is not None:
                body[name] = value
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        result: dict[str, Any] = self._call("POST", "/v1/jobs", json=body, headers=headers)
        return result

    def submit_batch(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Submit several jobs in one request; each item holds its job or its error, by index."""
        answer = self._call("POST", "/v1/jobs:batch", json={"jobs": jobs})
        items: list[dict[str, Any]] = answer["items"]
        return items

    def get(self, job_id: str) -> dict[str, Any]:
        """One of the tenant's jobs, with its result once it has one."""
        result: dict[str, Any] = self._call("GET", f"/v1/jobs/{job_id}")
        return result

    def list(self, **filters: Any) -> dict[str, Any]:
        """One page of the tenant's jobs, newest first, filtered by the API's query parameters."""
        params = {k: v for k, v in filters.items() if v is not None}
        result: dict[str, Any] = self._call("GET", "/v1/jobs", params=params)
        return result

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued job and return it; Conflict once it has started or finished."""
        result: dict[str, Any] = self._call("DELETE", f"/v1/jobs/{job_id}")
        return result

    def wait(
        self,
        job_id: str,
        timeout: float = 60.0,
        poll: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> dict[str, Any]:
        """Poll until the job is final; raises TimeoutError past ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job["status"] in FINAL_STATUSES:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job['status']} after {timeout}s")
            sleep(poll)
            poll = min(poll * 1.5, 1.0)


def _give_up(state: RetryCallState) -> Any:
    outcome = state.outcome
    exc = outcome.exception() if outcome else None
    if isinstance(exc, _Retryable) and exc.response is not None:
        response = exc.response
        try:
            message = response.json().get("error", {}).get("message", response.text)
        except ValueError:
            message = response.text
        raise errors.ServiceUnavailable(
            f"grump answered {response.status_code} after {state.attempt_number} attempts: {message}",
            retry_after=int(response.headers.get("retry-after", "5") or 5),
        )
    raise errors.ServiceUnavailable(
        f"grump unreachable after {state.attempt_number} attempts: {exc}"
    ) from exc
