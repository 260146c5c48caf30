"""When a transiently failed job runs again: a 429 is waited out, an outage spends retries."""

from __future__ import annotations

import pytest

from grump.errors import DatabaseUnavailable, ProviderTransient, TransientError
from grump.jobs.retry import History, Retry, next_retry, retry_cap
from grump.providers.registry import RATE_LIMITED
from grump.settings import Settings

SETTINGS = Settings()  # the defaults an operator runs: 5 retries, a 600 s deadline, 3,600 s VT


def _throttled(retry_after: float | None) -> ProviderTransient:
    return ProviderTransient("slow down", retry_after=retry_after, provider="nim", status=429)


def _outage() -> ProviderTransient:
    return ProviderTransient("down", provider="nim", status=503)


def _run(error: TransientError, runs: int, now: float = 0.0, step: float = 0.0) -> list[Retry]:
    """The retries of ``runs`` consecutive failures with ``error``, ``step`` seconds apart."""
    history, retries = History(), []
    for attempt in range(runs):
        retry = next_retry(error, attempt, history, now + attempt * step, SETTINGS)
        if retry is None:
            break
        retries.append(retry)
        history = retry.history
    return retries


def test_a_minute_of_short_retry_afters_never_fails_the_job() -> None:
    # A provider that says "retry after 1 s" for a whole minute: 60 runs, none is the last.
    retries = _run(_throttled(1.0), runs=60, step=1.0)
    assert len(retries) == 60
    assert all(1.0 <= r.countdown <= 2.0 for r in retries)
    assert all(r.history.failures == 0 for r in retries)


def test_a_retry_waits_what_retry_after_asks() -> None:
    retry = next_retry(_throttled(45.0), 0, History(), 0.0, SETTINGS)
    assert retry is not None and 45.0 <= retry.countdown <= 46.0


def test_a_retry_after_longer_than_the_visibility_timeout_allows_is_capped() -> None:
    retry = next_retry(_throttled(3600.0), 0, History(), 0.0, SETTINGS)
    assert retry is not None and retry.countdown == retry_cap(SETTINGS.visibility_timeout_seconds)
    short = Settings(visibility_timeout_seconds=30)
    retry = next_retry(_throttled(3600.0), 0, History(), 0.0, short)
    assert retry is not None and retry.countdown == 15.0


def test_the_tiers_own_rate_limit_is_a_throttle_too() -> None:
    error = ProviderTransient("no slot", retry_after=0.5, provider="nim", reason=RATE_LIMITED)
    assert len(_run(error, runs=30, step=1.0)) == 30


def test_a_job_throttled_past_its_deadline_fails() -> None:
    deadline = SETTINGS.job_deadline_seconds
    since = History(throttled_since=0.0)
    assert next_retry(_throttled(30.0), 40, since, deadline - 60.0, SETTINGS) is not None
    assert next_retry(_throttled(30.0), 41, since, deadline - 10.0, SETTINGS) is None


@pytest.mark.parametrize("error", [_outage(), DatabaseUnavailable("db down", retry_after=5)])
def test_an_outage_spends_the_configured_retries_then_fails(error: TransientError) -> None:
    retries = _run(error, runs=20)
    assert len(retries) == SETTINGS.task_max_retries  # all of them, not Celery's default of 3
    waits = [r.countdown for r in retries]
    assert waits == sorted(waits) and waits[0] < 2.0  # backoff, not the callers' Retry-After


def test_an_outage_waits_at_least_the_providers_retry_after() -> None:
    error = ProviderTransient("down", retry_after=20.0, provider="nim", status=503)
    retry = next_retry(error, 0, History(), 0.0, SETTINGS)
    assert retry is not None and retry.countdown == 20.0 and retry.history.failures == 1


def test_throttles_between_outages_leave_the_retry_budget_alone() -> None:
    history = History()
    for attempt, error in enumerate([_outage(), _throttled(1.0), _throttled(1.0), _outage()]):
        retry = next_retry(error, attempt, history, float(attempt), SETTINGS)
        assert retry is not None
        history = retry.history
    assert history.failures == 2
