"""warm_cache refills the shared tiers from the ledger; `grump cache` shows and clears them."""

from __future__ import annotations

from decimal import Decimal

import pytest
import redis
from sqlalchemy import update

from grump.cache.keys import tenant_namespace
from grump.cache.warm import WARM_USER, warm_cache
from grump.cli import main
from grump.jobs.models import CompleteInput, JobStatus
from grump.ledger.db import session_scope
from grump.ledger.models import Job
from grump.runtime import Runtime
from grump.settings import Settings
from tests.integration.completions_support import Stack, complete, fakes, with_fakes

pytestmark = pytest.mark.integration
FREQUENT, RARE = "what is the capital of france", "a question asked once"


def _forget_shared_tiers(stack: Stack, redis_url: str) -> None:
    """As if the Redis and disk entries had expired."""
    redis.Redis.from_url(redis_url).flushdb()
    cache = stack.runtime.completion_cache
    assert cache is not None
    for tier in cache.tiered.tiers:
        if tier.name == "disk":
            tier.clear()


def _shared_lookup(settings: Settings, content: str, model: str) -> str | None:
    runtime = Runtime(
        Settings.model_validate({**settings.model_dump(), "cache_memory_enabled": False})
    )
    try:
        cache = runtime.completion_cache
        assert cache is not None
        payload = CompleteInput.model_validate(complete(content)["input"])
        found = cache.lookup("acme", model, payload)
        return None if found is None else found.tier
    finally:
        runtime.dispose()


def test_frequent_requests_are_refilled_from_the_ledger_for_free(
    real_settings: Settings, redis_url: str
) -> None:
    with fakes() as (nim, anthropic):
        stack = Stack(with_fakes(real_settings, nim, anthropic))
        try:
            with stack.worker():
                stack.run(complete(FREQUENT))
                stack.run(complete(FREQUENT))
                stack.run(complete(RARE))
            calls = nim.call_count
            _forget_shared_tiers(stack, redis_url)
            model = stack.settings.economy_model
            assert _shared_lookup(stack.settings, FREQUENT, model) is None
            report = warm_cache(stack.runtime, stack.celery)
            assert (report.candidates, report.filled_from_ledger, report.submitted) == (1, 1, 0)
            assert _shared_lookup(stack.settings, FREQUENT, model) == "redis"
            assert _shared_lookup(stack.settings, RARE, model) is None  # asked once: not warmed
            again = warm_cache(stack.runtime, stack.celery)
            assert again.already_cached == 1 and again.filled_from_ledger == 0
        finally:
            stack.close()
    assert nim.call_count == calls == 2


@pytest.mark.parametrize(("cap", "submitted"), [("0", 0), ("1.00", 1)])
def test_requests_without_a_usable_answer_are_resubmitted_within_the_cost_cap(
    real_settings: Settings, cap: str, submitted: int
) -> None:
    with fakes() as (nim, anthropic):
        stack = Stack(with_fakes(real_settings, nim, anthropic, cache_warm_max_usd=Decimal(cap)))
        try:
            with stack.worker():
                stack.run(complete(FREQUENT))
                stack.run(complete(FREQUENT, max_tokens=30))
            with session_scope(stack.runtime.sessions) as session:  # both failed, say
                session.execute(update(Job).values(status=JobStatus.FAILED.value, result=None))
            stack.runtime.dispose()
            _forget_shared_tiers(stack, str(stack.settings.redis_url))
            report = warm_cache(stack.runtime, stack.celery)
        finally:
            stack.close()
    assert report.submitted == submitted and report.filled_from_ledger == 0
    warm_jobs = [j for j in stack.jobs() if j.user_id == WARM_USER]
    assert len(warm_jobs) == submitted
    assert report.estimated_usd <= Decimal(cap)


def test_the_cache_command_shows_and_clears_by_tenant(
    real_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("broker_url", "redis_url", "database_url", "data_dir"):
        monkeypatch.setenv(f"GRUMP_{name.upper()}", str(getattr(real_settings, name)))
    runtime = Runtime(real_settings)
    cache = runtime.completion_cache
    assert cache is not None
    from grump.cache.completions import CachedAnswer

    payload = CompleteInput.model_validate(complete("hi")["input"])
    for tenant in ("acme", "globex"):
        cache.store(tenant, "m", payload, CachedAnswer({"content": "x"}, "m", "nim", 1, 1))
    runtime.dispose()
    assert main(["cache", "stats"]) == 0
    shown = capsys.readouterr().out
    assert "redis" in shown and "disk" in shown and " 2 " in shown
    assert main(["cache", "clear", "--tenant", "acme"]) == 0
    assert "redis: 1" in capsys.readouterr().out
    client = redis.Redis.from_url(str(real_settings.redis_url))
    keys = [k.decode() for k in client.scan_iter("grump:cache:*")]
    assert len(keys) == 1 and tenant_namespace("globex") in keys[0]
    assert main(["cache", "clear"]) == 0
    assert list(client.scan_iter("grump:cache:*")) == []
