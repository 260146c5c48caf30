"""The prefixes grump sent, over real Redis: what is warm, for whom, for how long, and the TTL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from grump.jobs.models import CompleteInput
from grump.routing.breakpoints import prefixes
from grump.routing.prompt_cache import prepare_for_provider, warm_tokens_for
from grump.routing.warm_prefixes import (
    KEY_PREFIX,
    IdleStats,
    PrefixRecords,
    SeenPrefix,
    warm_tokens,
)
from grump.runtime import Runtime
from grump.settings import Settings
from tests.services import free_port

pytestmark = pytest.mark.integration
MODEL = "claude-sonnet-4-5"
T0 = 1_780_000_000.0  # seconds since the epoch; records expire on Redis's clock, an hour on
SYSTEM = {"role": "system", "content": "s" * 8000}  # 2,004 tokens with its overhead


def turns(count: int, tag: str = "") -> CompleteInput:
    """A session after ``count`` questions: each answered but the newest."""
    messages: list[dict[str, Any]] = [SYSTEM]
    for i in range(count):
        messages.append({"role": "user", "content": f"{tag}question {i}"})
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


def test_a_tenant_whose_sessions_come_back_after_breaks_writes_for_the_hour(
    runtime: Runtime,
) -> None:
    five, hour = {"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}
    tags = ["s0 ", "s1 ", "s2 "]  # three sessions, each back after ten minutes
    for tag in tags:
        assert controls(prepare_for_provider(runtime, MODEL, turns(1, tag), "acme", now=T0)) == [
            five
        ]
    for tag in tags:
        quick = prepare_for_provider(runtime, MODEL, turns(2, tag), "acme", now=T0 + 30)
        assert controls(quick) == [five] * 3  # system, the turn before the newest, the newest
    for tag in tags:
        # Ten minutes on, the 5-minute entries are gone: the next turn writes them again
        # (all but the system prompt the sessions share, once the first of them sent it).
        warm = warm_tokens_for(runtime, MODEL, turns(3, tag), "acme", now=T0 + 630)
        assert warm == (0 if tag == "s0 " else 2004)
        prepare_for_provider(runtime, MODEL, turns(3, tag), "acme", now=T0 + 630)
    # 1 expected idle return a session > 0.652: a new session's first, largest write takes 1h,
    first = prepare_for_provider(runtime, MODEL, turns(1, "s3 "), "acme", now=T0 + 700)
    assert controls(first) == [hour]
    later = prepare_for_provider(runtime, MODEL, turns(2, "s3 "), "acme", now=T0 + 760)
    assert controls(later) == [hour] * 3
    # and half an hour later its next turn still reads all of it.
    cuts = prefixes(MODEL, turns(2, "s3 "))
    assert (
        warm_tokens_for(runtime, MODEL, turns(3, "s3 "), "acme", now=T0 + 2560) == cuts[-1].tokens
    )
    # Another tenant's sessions say nothing about this one's habits.
    other = prepare_for_provider(runtime, MODEL, turns(1, "s3 "), "globex", now=T0 + 700)
    assert controls(other) == [five]


def test_a_tenant_that_never_idles_keeps_the_five_minute_ttl(runtime: Runtime) -> None:
    for n in range(5):
        for turn in range(1, 4):
            at = T0 + n * 100 + turn * 20
            placed = prepare_for_provider(runtime, MODEL, turns(turn, f"s{n} "), "acme", now=at)
            assert {c.get("ttl", "5m") for c in controls(placed)} == {"5m"}


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
        assert len(keys) == 3  # the system prompt, the turn before the newest, the newest
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
        assert controls(placed) == [{"type": "ephemeral"}] * 3
        assert warm_tokens_for(unreachable, MODEL, turns(3), "acme", now=T0) == 0
    finally:
        unreachable.dispose()


def test_only_a_sessions_own_turns_count_its_idle_returns(runtime: Runtime) -> None:
    assert runtime.redis is not None
    records = PrefixRecords(runtime.redis)
    prepare_for_provider(runtime, MODEL, turns(1, "a "), "acme", now=T0)
    # Another session, ten minutes on, shares only the system prompt: no idle return of its own.
    prepare_for_provider(runtime, MODEL, turns(2, "b "), "acme", now=T0 + 600)
    assert records.idle_stats("acme", T0 + 600) == IdleStats(sessions=1, long_gaps=0)
    prepare_for_provider(runtime, MODEL, turns(3, "b "), "acme", now=T0 + 1200)
    assert records.idle_stats("acme", T0 + 1200) == IdleStats(sessions=1, long_gaps=1)
