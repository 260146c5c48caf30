"""When a job whose run failed transiently runs again, or fails instead. Pure: no I/O.

Two kinds of transient failure are told apart:

* **Throttled**: the provider answered 429, or this tier's own rate limit had
  no call slot. Nothing is wrong with the job or the provider; grump is asked
  to slow down. The retry waits what ``Retry-After`` asks (backoff when it
  asked nothing), and it does not spend the job's retries: a minute of 429 is
  waited out, however short each ``Retry-After``. A job throttled for longer
  than ``GRUMP_JOB_DEADLINE_SECONDS`` fails.
* **Anything else** (an outage, a timeout, a database away): each retry spends
  one of ``GRUMP_TASK_MAX_RETRIES``, with backoff, at least ``Retry-After``.

Every wait is capped below the broker's visibility timeout, since a message
held for longer than that is delivered a second time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from grump.backoff import backoff_seconds
from grump.errors import ProviderTransient, TransientError
from grump.providers.registry import is_rate_limited
from grump.settings import Settings

# First wait before a job runs again after a transient error; it doubles per retry.
RETRY_BASE_SECONDS = 1.0


def retry_cap(visibility_timeout_seconds: int) -> float:
    """The longest wait before a retry: a countdown past the visibility timeout runs twice."""
    return min(60.0, visibility_timeout_seconds / 2)


def is_throttle(error: TransientError) -> bool:
    """Whether ``error`` asks grump to slow down (a 429 or the tier's rate limit)."""
    return isinstance(error, ProviderTransient) and (
        error.details.get("status") == 429 or is_rate_limited(error)
    )


@dataclass(frozen=True)
class History:
    """What the earlier runs of one message spent: failed retries, and since when throttled."""

    failures: int = 0
    throttled_since: float | None = None


@dataclass(frozen=True)
class Retry:
    """Run the job again after ``countdown`` seconds, carrying ``history`` to that run."""

    countdown: float
    history: History


def next_retry(
    error: TransientError, attempt: int, history: History, now: float, settings: Settings
) -> Retry | None:
    """The retry after run number ``attempt`` (0-based) failed with ``error``; None: fail it.

    ``now`` is wall-clock seconds (the retry may run on another host).
    """
    cap = retry_cap(settings.visibility_timeout_seconds)
    # Only a provider's Retry-After is an instruction; ours (ServiceUnavailable's) is for callers.
    asked = error.retry_after if isinstance(error, ProviderTransient) else None
    if is_throttle(error):
        since = history.throttled_since if history.throttled_since is not None else now
        if asked is not None:
            # What the provider asked, plus a little jitter so throttled jobs do not return at once.
            wait = min(cap, float(asked) + RETRY_BASE_SECONDS * random.random())
        else:
            wait = backoff_seconds(attempt + 1, RETRY_BASE_SECONDS, cap)
        if now + wait - since > settings.job_deadline_seconds:
            return None
        return Retry(wait, History(history.failures, since))
    if history.failures >= settings.task_max_retries:
        return None
    wait = backoff_seconds(history.failures + 1, RETRY_BASE_SECONDS, cap)
    if asked is not None:
        wait = min(cap, max(wait, asked))
    return Retry(wait, History(history.failures + 1, None))
