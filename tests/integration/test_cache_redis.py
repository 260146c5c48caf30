"""The cache over real Redis: shared by processes, cleared per tenant, never an outage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grump.cache.completions import CachedAnswer
from grump.jobs.models import CompleteInput
from grump.runtime import Runtime
from grump.settings import Settings
from tests.integration.completions_support import Stack, complete, fakes, with_fakes
from tests.services import free_port

pytestmark = pytest.mark.integration
PAYLOAD = CompleteInput.model_validate({"messages": [{"role": "user", "content": "hi"}]})
ANSWER = CachedAnswer({"content": "hello"}, "m", "nim", 3, 2)


def _runtime(settings: Settings, **changes: object) -> Runtime:
    return Runtime(Settings.model_validate({**settings.model_dump(), **changes}))


def test_an_answer_stored_by_one_process_is_read_by_another_via_redis(
    real_settings: Settings,
) -> None:
    writer = _runtime(real_settings, cache_disk_enabled=False)
    reader = _runtime(real_settings, cache_disk_enabled=False)
    try:
        assert writer.completion_cache is not None and reader.completion_cache is not None
        writer.completion_cache.store("acme", "m", PAYLOAD, ANSWER)
        found = reader.completion_cache.lookup("acme", "m", PAYLOAD)
        assert found is not None and (found.answer, found.tier) == (ANSWER, "redis")
        again = reader.completion_cache.lookup("acme", "m", PAYLOAD)
        assert again is not None and again.tier == "memory"  # promoted
        assert reader.completion_cache.lookup("other", "m", PAYLOAD) is None
    finally:
        writer.dispose()
        reader.dispose()


def test_clearing_one_tenant_leaves_the_others(real_settings: Settings) -> None:
    runtime = _runtime(real_settings)
    try:
        cache = runtime.completion_cache
        assert cache is not None
        cache.store("acme", "m", PAYLOAD, ANSWER)
        cache.store("globex", "m", PAYLOAD, ANSWER)
        from grump.cache.keys import tenant_namespace

        dropped = cache.tiered.clear(tenant_namespace("acme"))
        assert dropped == {"memory": 1, "redis": 1, "disk": 1}
        assert cache.lookup("acme", "m", PAYLOAD) is None
        assert cache.lookup("globex", "m", PAYLOAD) is not None
    finally:
        runtime.dispose()


def test_an_unreachable_redis_is_a_miss_not_a_failure(real_settings: Settings) -> None:
    runtime = _runtime(
        real_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0", cache_memory_enabled=False
    )
    try:
        cache = runtime.completion_cache
        assert cache is not None and cache.tiered.tier_names == ("redis", "disk")
        cache.store("acme", "m", PAYLOAD, ANSWER)  # the disk tier still takes it
        found = cache.lookup("acme", "m", PAYLOAD)
        assert found is not None and found.tier == "disk"
    finally:
        runtime.dispose()


def test_a_repeated_request_through_the_queue_calls_the_provider_once(
    real_settings: Settings,
) -> None:
    with fakes() as (nim, anthropic):
        stack = Stack(with_fakes(real_settings, nim, anthropic))
        try:
            with stack.worker():
                first = stack.run(complete("what is a queue"))
                second = stack.run(complete("what is a queue"))
                other_tenant = stack.run(complete("what is a queue"), stack.new_key("globex"))
        finally:
            stack.close()
    assert nim.call_count == 2  # once for acme, once for globex
    assert second["result"]["content"] == first["result"]["content"]
    assert Decimal(second["cost"]) == 0 < Decimal(first["cost"])
    assert Decimal(other_tenant["cost"]) > 0
    hit = stack.cost_events(second["id"])[0]
    assert hit.cached and hit.cache_savings == Decimal(first["cost"])
