"""Real providers through the real queue: NIM and Anthropic fakes on loopback, Redis, Postgres."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from grump.providers.registry import RateLimitedChat
from grump.runtime import Runtime
from grump.settings import Settings
from tests.chat import chat_request
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.nim import FakeNim, count_tokens
from tests.fakes.server import malformed, rate_limited, server_error
from tests.integration.completions_support import Stack, complete, fakes, with_fakes

pytestmark = pytest.mark.integration
ECONOMY, PREMIUM = "moonshotai/kimi-k2.5", "claude-sonnet-4-5"
HARD = (
    "Design the architecture of a distributed system, refactor the concurrency model, "
    "prove the trade-off and debug it"
)


@pytest.fixture
def providers() -> Iterator[tuple[FakeNim, FakeAnthropic]]:
    with fakes() as pair:
        yield pair


def _stack(settings: Settings, providers: tuple[FakeNim, FakeAnthropic], **extra: object) -> Stack:
    nim, anthropic = providers
    return Stack(with_fakes(settings, nim, anthropic, **extra))


def test_usage_and_cost_come_from_the_providers_answer(
    real_settings: Settings, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    nim, anthropic = providers
    stack = _stack(real_settings, providers)
    try:
        with stack.worker():
            easy = stack.run(complete("say hello to the team"))
            hard = stack.run(complete(HARD, max_tokens=50))
    finally:
        stack.close()
    assert (easy["status"], easy["model"], easy["tier"]) == ("succeeded", ECONOMY, "economy")
    assert (hard["status"], hard["model"], hard["tier"]) == ("succeeded", PREMIUM, "premium")
    assert nim.call_count == 1 and anthropic.call_count == 1
    # The fakes count words, unlike grump's estimate: these are the providers' figures.
    assert easy["tokens_in"] == count_tokens("say hello to the team")
    assert easy["tokens_out"] == count_tokens("echo: say hello to the team")
    assert easy["result"]["content"] == "echo: say hello to the team"
    assert hard["tokens_in"] == count_tokens(HARD)
    event = stack.cost_events(easy["id"])[0]
    price = stack.runtime.catalogue.price(ECONOMY)
    assert event.provider == "nim" and event.cost == price.cost(5, 6) > Decimal(0)
    assert stack.cost_events(hard["id"])[0].provider == "anthropic"


def test_a_429_is_retried_and_then_succeeds(
    real_settings: Settings, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    nim, anthropic = providers
    nim.script(rate_limited("nim", retry_after="0"))
    stack = _stack(real_settings, providers)
    try:
        with stack.worker():
            job = stack.run(complete("hello after a throttle"))
    finally:
        stack.close()
    assert job["status"] == "succeeded" and job["model"] == ECONOMY
    assert nim.call_count == 2 and anthropic.call_count == 0
    assert len(stack.cost_events(job["id"])) == 1


def test_a_tier_down_past_its_retries_falls_back_to_the_other_tier(
    real_settings: Settings, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    nim, anthropic = providers
    nim.script(server_error("nim"), server_error("nim"))
    stack = _stack(real_settings, providers)
    try:
        with stack.worker():
            job = stack.run(complete("hello while nim is down"))
    finally:
        stack.close()
    assert job["status"] == "succeeded"
    assert nim.call_count == 2 and anthropic.call_count == 1
    assert (job["model"], job["tier"]) == (PREMIUM, "premium")
    assert job["routing"]["reason"] == f"fallback:{ECONOMY}"
    event = stack.cost_events(job["id"])[0]
    assert (event.provider, event.tier, event.model) == ("anthropic", "premium", PREMIUM)


def test_without_fallback_a_tier_down_fails_the_job_with_the_providers_message(
    real_settings: Settings, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    nim, anthropic = providers
    nim.script(server_error("nim"), server_error("nim"))
    stack = _stack(real_settings, providers, fallback_to_other_tier=False)
    try:
        with stack.worker():
            job = stack.run(complete("hello while nim is down"))
    finally:
        stack.close()
    assert job["status"] == "failed" and anthropic.call_count == 0
    assert "Something went wrong upstream" in job["error"]["message"]
    assert stack.cost_events(job["id"]) == []


def test_a_malformed_answer_fails_the_job_with_a_clear_message(
    real_settings: Settings, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    nim, anthropic = providers
    nim.script(malformed())
    stack = _stack(real_settings, providers)
    try:
        with stack.worker():
            job = stack.run(complete("hello garbage"))
    finally:
        stack.close()
    assert job["status"] == "failed"
    assert job["error"]["code"] == "provider_error"
    assert "malformed response" in job["error"]["message"]
    assert nim.call_count == 1 and anthropic.call_count == 0  # permanent: not retried, no fallback
    assert stack.cost_events(job["id"]) == []


def _call_until(runtime: Runtime, stop_at: float) -> None:
    chat = runtime.chat(ECONOMY)
    request = chat_request(ECONOMY, ("user", "hi"), max_tokens=5)
    while time.monotonic() < stop_at:
        chat.complete(request)


def test_the_tier_rate_limit_is_shared_by_every_worker_process(
    real_settings: Settings, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    nim, anthropic = providers
    rate, burst, seconds = 20.0, 2, 1.2
    settings = with_fakes(
        real_settings, nim, anthropic, rate_limit_economy_rps=rate, rate_limit_economy_burst=burst
    )
    # Two runtimes are two worker processes: each has its own Redis client and provider.
    runtimes = [Runtime(settings), Runtime(settings)]
    assert all(isinstance(r.chat(ECONOMY), RateLimitedChat) for r in runtimes)
    start = time.monotonic()
    threads = [
        threading.Thread(target=_call_until, args=(runtimes[i % 2], start + seconds))
        for i in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    for runtime in runtimes:
        runtime.dispose()
    calls = nim.call_count
    # Six threads unthrottled would make hundreds of calls; together they keep to the bucket.
    assert calls <= burst + rate * elapsed + 1
    assert calls >= 0.7 * rate * seconds
