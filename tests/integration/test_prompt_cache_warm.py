"""The prefixes grump sent, over real Redis: what is warm, for whom, for how long, and the TTL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from grump.jobs.models import CompleteInput
from grump.routing.breakpoints import prefixes
from grump.routing.prompt_cache import prepare_for_provider, warm_tokens_for
from grump.routing.warm_prefixes import KEY_PREFIX, PrefixRecords, SeenPrefix, warm_tokens
from grump.runtime import Runtime
from grump.settings import Settings
from tests.services import free_port

pytestmark = pytest.mark.integration
MODEL = "claude-sonnet-4-5"
T0 = 1_780_000_000.0  # seconds since the epoch; records expire on Redis's clock, an hour on
SYSTEM = {"role": "system", "content": "s" * 8000}  # 2,004 tokens with its overhead


def turns(count: int) -> CompleteInput:
    """A session after ``count`` questions: each answered but the newest."""
    messages: list[dict[str, Any]] = [SYSTEM]
    for i in range(count):
        messages.append({"role": "user", "content": f"question {i}"})
        if i < count - 1:
            messages.append({"role": "assistant", "content": f"answer {i} " + "a" * 400})
    return CompleteInput.model_validate({"messages": messages})


def controls(payload: CompleteInput) -> list[dict[str, Any]]:
    return [
        part.cache_control
        for m in payload.messages
        if isinstance(m.content, list)
        for part in m.content
        if part.cache_control is not None
    ]


@pytest.fixture
def runtime(redis_url: str, tmp_path: Path) -> Iterator[Runtime]:
    instance = Runtime(Settings.model_validate({"redis_url": redis_url, "data_dir": tmp_path}))
    try:
        yield instance
    finally:
        instance.dispose()


def test_a_sent_prefix_is_warm_for_its_ttl_and_for_its_tenant_only(runtime: Runtime) -> None:
    first = prepare_for_provider(runtime, MODEL, turns(1), "acme", now=T0)
    assert controls(first) == [{"type": "ephemeral"}]
    system_tokens = prefixes(MODEL, turns(1))[0].tokens
    assert system_tokens == 2004
    second = turns(2)
    assert warm_tokens_for(runtime, MODEL, second, "acme", now=T0 + 60) == system_tokens
    assert warm_tokens_for(runtime, MODEL, second, "acme", now=T0 + 301) == 0  # 5 minutes on
    assert warm_tokens_for(runtime, MODEL, second, "globex", now=T0 + 60) == 0
    assert warm_tokens_for(runtime, "moonshotai/kimi-k2.5", second, "acme", now=T0) == 0


def test_a_session_that_idles_past_five_minutes_moves_to_the_one_hour_ttl(runtime: Runtime) -> None:
    prepare_for_provider(runtime, MODEL, turns(1), "acme", now=T0)
    quick = prepare_for_provider(runtime, MODEL, turns(2), "acme", now=T0 + 30)
    assert controls(quick) == [{"type": "ephemeral"}] * 2
    # Ten minutes later the 5-minute entries are gone: the next turn re-writes them, for an hour.
    assert warm_tokens_for(runtime, MODEL, turns(3), "acme", now=T0 + 630) == 0
    idle = prepare_for_provider(runtime, MODEL, turns(3), "acme", now=T0 + 630)
    assert controls(idle) == [{"type": "ephemeral", "ttl": "1h"}] * 2
    # Half an hour on the fourth turn still finds the third turn's prefix.
    third = prefixes(MODEL, turns(3))
    earlier_turns = next(c for c in third if c.index == len(turns(3).messages) - 2)
    assert warm_tokens_for(runtime, MODEL, turns(4), "acme", now=T0 + 2430) == earlier_turns.tokens
    later = prepare_for_provider(runtime, MODEL, turns(4), "acme", now=T0 + 2440)
    assert controls(later) == [{"type": "ephemeral", "ttl": "1h"}] * 2  # the session keeps it


def test_a_clients_own_breakpoints_are_sent_as_they_are_and_recorded(runtime: Runtime) -> None:
    part = {"type": "text", "text": "c" * 6000, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    sent = CompleteInput.model_validate(
        {"messages": [{"role": "system", "content": [part]}, {"role": "user", "content": "q"}]}
    )
    assert prepare_for_provider(runtime, MODEL, sent, "acme", now=T0) is sent
    follow_up = sent.model_copy(update={"messages": [*sent.messages[:1], *turns(2).messages[1:]]})
    assert warm_tokens_for(runtime, MODEL, follow_up, "acme", now=T0 + 3000) == 1504


def test_records_live_an_hour_in_redis_under_the_tenant(runtime: Runtime, redis_url: str) -> None:
    prepare_for_provider(runtime, MODEL, turns(2), "acme", now=T0)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = client.keys(f"{KEY_PREFIX}:acme:*")
        assert len(keys) == 2  # the system prompt, and the turn before the newest question
        assert all(0 < client.ttl(key) <= 3600 for key in keys)
    finally:
        client.close()


def test_the_pure_lookup_agrees_with_what_redis_holds(runtime: Runtime) -> None:
    assert runtime.redis is not None
    records = PrefixRecords(runtime.redis)
    cuts = prefixes(MODEL, turns(2))
    records.record("acme", {cuts[0]: SeenPrefix(T0, 300, cuts[0].tokens)})
    seen = records.lookup("acme", cuts)
    assert seen == {cuts[0].digest: SeenPrefix(T0, 300, cuts[0].tokens)}
    assert warm_tokens(cuts, seen, T0 + 300) == cuts[0].tokens
    assert warm_tokens(cuts, seen, T0 + 300.5) == 0


def test_breakpoints_off_sends_the_request_unchanged_and_records_nothing(
    redis_url: str, tmp_path: Path
) -> None:
    settings = Settings.model_validate(
        {"redis_url": redis_url, "data_dir": tmp_path, "prompt_cache_breakpoints": False}
    )
    off = Runtime(settings)
    try:
        payload = turns(2)
        assert prepare_for_provider(off, MODEL, payload, "acme", now=T0) is payload
        assert warm_tokens_for(off, MODEL, turns(3), "acme", now=T0) == 0
    finally:
        off.dispose()


def test_a_fixed_ttl_setting_wins_over_the_sessions_record(redis_url: str, tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"redis_url": redis_url, "data_dir": tmp_path, "prompt_cache_ttl": "1h"}
    )
    fixed = Runtime(settings)
    try:
        placed = prepare_for_provider(fixed, MODEL, turns(1), "acme", now=T0)
        assert controls(placed) == [{"type": "ephemeral", "ttl": "1h"}]
    finally:
        fixed.dispose()


def test_without_a_reachable_redis_requests_still_get_five_minute_breakpoints(
    tmp_path: Path,
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    settings = Settings.model_validate({"redis_url": down, "data_dir": tmp_path})
    unreachable = Runtime(settings)
    try:
        placed = prepare_for_provider(unreachable, MODEL, turns(2), "acme", now=T0)
        assert controls(placed) == [{"type": "ephemeral"}] * 2
        assert warm_tokens_for(unreachable, MODEL, turns(3), "acme", now=T0) == 0
    finally:
        unreachable.dispose()
