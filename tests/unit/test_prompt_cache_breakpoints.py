"""grump's own prompt-cache breakpoints: where they go, when, how many, and which TTL pays."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from grump.jobs.models import CompleteInput
from grump.routing.breakpoints import (
    MAX_BREAKPOINTS,
    client_breakpoints,
    continues_session,
    has_cache_control,
    minimum_cacheable_tokens,
    place_breakpoints,
    prefixes,
)
from grump.routing.cache_ttl import (
    break_even_gaps,
    choose_ttl,
    is_long_gap,
    one_hour_pays,
    ttl_cost,
)
from grump.routing.pricing import load_catalogue
from grump.routing.warm_prefixes import LOOKUP_HEAD, LOOKUP_TAIL, IdleStats, lookup_cuts

CATALOGUE = load_catalogue()
CLAUDE = CATALOGUE.price("claude-sonnet-4-5")
KIMI = CATALOGUE.price("moonshotai/kimi-k2.5")
HAIKU = replace(CLAUDE, model="claude-haiku-4-5-20251001")
FIVE_MINUTES = {"type": "ephemeral"}
ONE_HOUR = {"type": "ephemeral", "ttl": "1h"}


def words(tokens: int) -> str:
    """Text that estimate_tokens counts as exactly ``tokens`` tokens."""
    return "w" * (4 * tokens)


def tool(name: str, tokens: int = 10) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": words(tokens), "parameters": {}},
    }


def request(*messages: dict[str, Any], tools: list[dict[str, Any]] | None = None) -> CompleteInput:
    return CompleteInput.model_validate({"messages": list(messages), "tools": tools})


def controls(payload: CompleteInput) -> list[tuple[str, dict[str, Any]]]:
    """Every breakpoint of a request: (where, cache_control)."""
    found = [
        (f"tool {i}", t["cache_control"])
        for i, t in enumerate(payload.tools or ())
        if "cache_control" in t
    ]
    for i, message in enumerate(payload.messages):
        if message.cache_control is not None:
            found.append((f"message {i}", message.cache_control))
        for j, part in enumerate(message.content if isinstance(message.content, list) else ()):
            if part.cache_control is not None:
                found.append((f"message {i} part {j}", part.cache_control))
    return found


SYSTEM = {"role": "system", "content": words(1500)}
SESSION = request(
    SYSTEM,
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "newest question"},
    tools=[tool("read"), tool("edit", 1100)],
)


def test_a_session_gets_breakpoints_on_its_last_tool_last_system_block_and_its_turns() -> None:
    placed = place_breakpoints(SESSION, CLAUDE)
    assert controls(placed) == [
        ("tool 1", FIVE_MINUTES),
        ("message 0 part 0", FIVE_MINUTES),
        ("message 2 part 0", FIVE_MINUTES),  # the answer before the newest question
        ("message 3 part 0", FIVE_MINUTES),  # the newest question, for the next turn to read
    ]
    assert placed.messages[0].text() == SYSTEM["content"]  # text kept, now as a part
    assert "cache_control" not in (SESSION.tools or [])[1]  # the caller's object is untouched


def test_the_one_hour_ttl_is_written_on_every_breakpoint() -> None:
    placed = place_breakpoints(SESSION, CLAUDE, ttl="1h")
    assert [control for _, control in controls(placed)] == [ONE_HOUR] * 4


def test_a_tool_loop_caches_the_assistant_turn_that_called_the_tools() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "read", "arguments": "{}"}}
    loop = request(
        SYSTEM,
        {"role": "user", "content": "fix the bug"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": words(50)},
        {"role": "tool", "tool_call_id": "c1", "content": "more"},
    )
    placed = place_breakpoints(loop, CLAUDE)
    # Tool results are the newest user turn; a tool_use block or a tool result carries the
    # breakpoint on the message, where the translation to Messages puts it on its last block.
    assert controls(placed) == [
        ("message 0 part 0", FIVE_MINUTES),
        ("message 2", FIVE_MINUTES),
        ("message 4", FIVE_MINUTES),
    ]


def test_a_first_turn_caches_only_its_system_prompt_not_a_one_off_question() -> None:
    first = request(SYSTEM, {"role": "user", "content": words(3000)})
    assert not continues_session(first)
    assert controls(place_breakpoints(first, CLAUDE)) == [("message 0 part 0", FIVE_MINUTES)]
    alone = request({"role": "user", "content": words(3000)})
    assert place_breakpoints(alone, CLAUDE) is alone


def test_breakpoints_a_client_sent_are_kept_exactly_and_grump_adds_none() -> None:
    on_part = request(
        {
            "role": "system",
            "content": [{"type": "text", "text": words(2000), "cache_control": ONE_HOUR}],
        },
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    )
    on_message = request(
        SYSTEM,
        {"role": "user", "content": "a", "cache_control": FIVE_MINUTES},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    )
    on_tool = request(
        SYSTEM,
        {"role": "user", "content": "a"},
        tools=[{**tool("t"), "cache_control": FIVE_MINUTES}],
    )
    for sent in (on_part, on_message, on_tool):
        assert has_cache_control(sent)
        assert place_breakpoints(sent, CLAUDE) is sent


def test_a_clients_breakpoints_are_recorded_where_they_close_a_whole_tool_list_or_message() -> None:
    marked = {"type": "text", "text": words(1500), "cache_control": ONE_HOUR}
    plain = {"type": "text", "text": "tail"}
    sent = request(
        {"role": "system", "content": [marked]},
        {"role": "user", "content": [marked, plain]},  # mid-message: no prefix of ours
        {"role": "assistant", "content": "b", "cache_control": FIVE_MINUTES},
        {"role": "user", "content": "c"},
        tools=[{**tool("a"), "cache_control": FIVE_MINUTES}, tool("b")],  # not the last tool
    )
    assert client_breakpoints(sent) == [(0, "1h"), (2, "5m")]


def test_an_empty_turn_gets_no_breakpoint() -> None:
    empty = request(
        SYSTEM,
        {"role": "user", "content": words(2000)},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "again"},
    )
    assert controls(place_breakpoints(empty, CLAUDE)) == [
        ("message 0 part 0", FIVE_MINUTES),
        ("message 3 part 0", FIVE_MINUTES),  # not the empty answer before it
    ]


def test_nothing_is_placed_below_the_models_minimum_cacheable_length() -> None:
    assert minimum_cacheable_tokens("claude-sonnet-4-5") == 1024
    assert minimum_cacheable_tokens("claude-3-5-haiku-20241022") == 2048
    assert minimum_cacheable_tokens("claude-haiku-4-5-20251001") == 4096
    # The system message counts its text and 4 tokens of overhead.
    short = request({"role": "system", "content": words(1019)}, {"role": "user", "content": "q"})
    enough = request({"role": "system", "content": words(1020)}, {"role": "user", "content": "q"})
    assert place_breakpoints(short, CLAUDE) is short
    assert controls(place_breakpoints(enough, CLAUDE)) == [("message 0 part 0", FIVE_MINUTES)]
    assert place_breakpoints(enough, HAIKU) is enough


def test_a_prefix_is_measured_from_the_start_so_short_tools_only_miss_their_own_breakpoint() -> (
    None
):
    payload = request(SYSTEM, {"role": "user", "content": "q"}, tools=[tool("small")])
    assert controls(place_breakpoints(payload, CLAUDE)) == [("message 0 part 0", FIVE_MINUTES)]


def test_models_without_a_prompt_cache_are_left_alone() -> None:
    assert place_breakpoints(SESSION, KIMI) is SESSION


def test_placing_twice_changes_nothing_more_and_keeps_every_prefix_hash() -> None:
    once = place_breakpoints(SESSION, CLAUDE)
    assert place_breakpoints(once, CLAUDE) is once
    assert prefixes("claude-sonnet-4-5", once) == prefixes("claude-sonnet-4-5", SESSION)


def test_a_prefix_hash_depends_on_the_model_and_on_every_earlier_block() -> None:
    cuts = prefixes("claude-sonnet-4-5", SESSION)
    assert [c.index for c in cuts] == [-1, 0, 1, 2, 3]
    assert [c.tokens for c in cuts] == sorted(c.tokens for c in cuts)
    other_model = prefixes("claude-opus-4-1", SESSION)
    assert {c.digest for c in cuts}.isdisjoint(c.digest for c in other_model)
    changed = request(
        SYSTEM,
        {"role": "user", "content": "another first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "newest question"},
        tools=[tool("read"), tool("edit", 1100)],
    )
    again = prefixes("claude-sonnet-4-5", changed)
    assert [a.digest == b.digest for a, b in zip(cuts, again, strict=True)] == [
        True,
        True,
        False,
        False,
        False,
    ]


ROLES = st.sampled_from(["user", "assistant", "tool", "system"])


@st.composite
def conversations(draw: st.DrawFn) -> CompleteInput:
    messages: list[dict[str, Any]] = []
    for role in draw(st.lists(ROLES, min_size=1, max_size=12)):
        text = words(draw(st.integers(0, 1500))) or "x"
        if role == "tool":
            messages.append({"role": "tool", "tool_call_id": "c", "content": text})
        else:
            messages.append({"role": role, "content": text})
    count = draw(st.integers(0, 3))
    tools = [tool(f"t{i}", draw(st.integers(1, 800))) for i in range(count)] or None
    return request(*messages, tools=tools)


@settings(max_examples=150, deadline=None)
@given(conversations())
def test_never_more_than_four_breakpoints_and_placing_is_idempotent(payload: CompleteInput) -> None:
    placed = place_breakpoints(payload, CLAUDE)
    assert len(controls(placed)) <= MAX_BREAKPOINTS
    assert place_breakpoints(placed, CLAUDE) == placed
    assert [m.text() for m in placed.messages] == [m.text() for m in payload.messages]
    if not continues_session(payload):  # a first turn's question is never written
        assert [m for m in placed.messages if m.role != "system"] == [
            m for m in payload.messages if m.role != "system"
        ]


# --- When the 1-hour TTL pays --------------------------------------------------------------


def test_the_one_hour_ttl_pays_from_0_652_idle_returns_per_write() -> None:
    assert break_even_gaps(CLAUDE) == Decimal("2.25") / Decimal("3.45")
    assert round(break_even_gaps(CLAUDE), 3) == Decimal("0.652")
    assert not one_hour_pays(CLAUDE, 0.65) and one_hour_pays(CLAUDE, 0.66)


def test_ttl_costs_per_million_prefix_tokens_match_the_ledgers_prices() -> None:
    million = 1_000_000
    write_5m = CLAUDE.cost(million, cache_write_tokens=million)
    write_1h = CLAUDE.cost(million, cache_write_tokens=million, cache_write_ttl="1h")
    read = CLAUDE.cost(million, cached_tokens_in=million)
    assert (write_5m, write_1h, read) == (Decimal("3.75"), Decimal("6.00"), Decimal("0.30"))
    for gaps in range(4):
        assert ttl_cost(CLAUDE, "5m", gaps) == write_5m * (1 + gaps)
        assert ttl_cost(CLAUDE, "1h", gaps) == write_1h + read * gaps
    # Never idle past 5 minutes: 1h loses 0.75x input. Once: 1h wins, 6.30 against 7.50.
    assert ttl_cost(CLAUDE, "1h", 0) - ttl_cost(CLAUDE, "5m", 0) == Decimal("2.25")
    assert (ttl_cost(CLAUDE, "5m", 1), ttl_cost(CLAUDE, "1h", 1)) == (
        Decimal("7.50"),
        Decimal("6.30"),
    )
    assert ttl_cost(CLAUDE, "1h", 1, tokens=20_000) == Decimal("0.126")


def test_auto_takes_one_hour_when_more_idle_returns_are_expected_than_the_break_even() -> None:
    assert choose_ttl("auto", CLAUDE, 0.0) == "5m"
    assert choose_ttl("auto", CLAUDE, 0.6) == "5m"
    assert choose_ttl("auto", CLAUDE, 0.7) == "1h"
    assert choose_ttl("5m", CLAUDE, 3.0) == "5m"
    assert choose_ttl("1h", CLAUDE, 0.0) == "1h"
    assert choose_ttl("auto", KIMI, 5.0) == "5m"  # no cheaper read: never worth 1h


def test_a_tenants_expected_idle_returns_need_a_few_sessions_of_evidence() -> None:
    assert IdleStats(sessions=2, long_gaps=9).expected_long_gaps() == 0.0
    assert IdleStats(sessions=4, long_gaps=3).expected_long_gaps() == 0.75


def test_an_idle_gap_is_one_the_five_minute_entry_does_not_survive_and_the_hour_does() -> None:
    assert [is_long_gap(s) for s in (10, 300, 301, 3600, 3601)] == [False, False, True, True, False]


def test_a_long_sessions_lookup_keeps_its_shared_head_and_its_latest_turns() -> None:
    messages = [SYSTEM] + [{"role": "user", "content": f"turn {i}"} for i in range(200)]
    cuts = prefixes("claude-sonnet-4-5", request(*messages, tools=[tool("t")]))
    wanted = lookup_cuts(cuts)
    assert len(wanted) == LOOKUP_HEAD + LOOKUP_TAIL
    assert wanted[:2] == cuts[:2] and wanted[-1] == cuts[-1]
    assert lookup_cuts(cuts[:10]) == cuts[:10]
