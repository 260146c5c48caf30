"""One backoff for every retry grump makes: provider calls, job retries, the Python client.

The n-th wait is ``base * 2**(n-1)`` plus up to ``base / 2`` of jitter, at most
``cap`` (tenacity's ``wait_exponential_jitter``): it doubles, never starts
below ``base``, and workers that failed together do not come back together.
"""

from __future__ import annotations

from tenacity import RetryCallState, Retrying, wait_exponential_jitter


def backoff(base: float, cap: float) -> wait_exponential_jitter:
    """The wait strategy for a tenacity retry loop."""
    return wait_exponential_jitter(multiplier=base, max=cap, jitter=base / 2)


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """The wait before retry number ``attempt`` (1-based), for retries tenacity does not run.

    A job retried by Celery waits as a countdown on its message, not in a loop.
    """
    state = RetryCallState(Retrying(), None, (), {})
    state.attempt_number = max(1, attempt)
    return float(backoff(base, cap)(state))
