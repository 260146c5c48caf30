"""The shared provider plumbing: Retry-After, backoff, and reading every error shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from grump.backoff import backoff_seconds
from grump.providers.answers import (
    error_message,
    is_transient_status,
    parse_retry_after,
    retry_after_from_headers,
)
from grump.providers.http import RetryPolicy
from tests.fakes.server import ErrorShape, error_body

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), (" 0.25 ", 0.25), ("0", 0.0), ("-5", 0.0)],
)
def test_retry_after_in_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_retry_after_as_http_date_is_the_time_until_then() -> None:
    later = format_datetime(NOW + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(later, NOW) == 42.0


def test_retry_after_date_in_the_past_means_now() -> None:
    earlier = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert parse_retry_after(earlier, NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "inf"])
def test_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_retry_after_ms_is_preferred_when_both_are_sent() -> None:
    headers = {"retry-after": "3", "retry-after-ms": "1500"}
    assert retry_after_from_headers(headers) == 1.5
    assert retry_after_from_headers({"retry-after": "3"}) == 3.0
    assert retry_after_from_headers({}) is None


def test_backoff_doubles_within_jitter_and_stops_at_the_cap() -> None:
    for n in range(1, 8):
        waits = [backoff_seconds(n, 0.5, 4.0) for _ in range(200)]
        floor = min(4.0, 0.5 * 2 ** (n - 1))
        assert all(floor <= wait <= min(4.0, floor + 0.25) for wait in waits)
    assert len({backoff_seconds(1, 0.5, 4.0) for _ in range(50)}) > 1  # jittered


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (400, False),
        (401, False),
        (404, False),
        (408, True),
        (422, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (529, True),
    ],
)
def test_which_statuses_are_worth_retrying(status: int, transient: bool) -> None:
    assert is_transient_status(status) is transient


@pytest.mark.parametrize("shape", ["nim", "nim-local", "openai", "anthropic", "plain"])
def test_the_providers_message_is_found_in_every_error_shape(shape: ErrorShape) -> None:
    body = error_body(shape, 429, "Rate limit reached for this key").decode()
    assert "Rate limit reached for this key" in error_message(429, body)


def test_nim_problem_details_keep_title_and_detail() -> None:
    body = '{"status": 404, "title": "Not Found", "detail": "Function not found for account"}'
    assert error_message(404, body) == "Not Found: Function not found for account"


def test_nim_problem_details_without_detail_give_the_title() -> None:
    assert error_message(429, '{"status":429,"title":"Too Many Requests"}') == "Too Many Requests"


def test_a_json_string_body_is_the_message() -> None:
    assert error_message(429, '"Too many requests, slow down"') == "Too many requests, slow down"


def test_validation_error_lists_are_joined() -> None:
    body = '{"detail": [{"loc": ["body", "input"], "msg": "field required"}, {"msg": "bad"}]}'
    assert error_message(422, body) == "field required; bad"


def test_an_empty_error_body_still_says_what_happened() -> None:
    assert error_message(502, "") == "HTTP 502"


def test_a_huge_error_body_is_cut_short() -> None:
    assert len(error_message(500, "x" * 100_000)) <= 1000
