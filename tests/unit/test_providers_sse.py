"""The event-stream line parser both streaming providers read with."""

from __future__ import annotations

from collections.abc import Iterator

from grump.providers.sse import SseEvent, parse_sse


def test_events_end_at_blank_lines_and_carry_their_names() -> None:
    lines = ["event: message_start", 'data: {"a": 1}', "", "data: [DONE]", ""]
    assert list(parse_sse(lines)) == [
        SseEvent("message_start", '{"a": 1}'),
        SseEvent(None, "[DONE]"),
    ]


def test_several_data_lines_join_with_newlines_and_one_space_is_optional() -> None:
    lines = ["data:first", "data:  second", "", ""]
    assert list(parse_sse(lines)) == [SseEvent(None, "first\n second")]


def test_comments_ids_and_retries_are_ignored() -> None:
    lines = [": keep-alive", "id: 7", "retry: 1000", "data: x", ""]
    assert list(parse_sse(lines)) == [SseEvent(None, "x")]


def test_an_event_cut_off_by_the_end_of_the_body_is_dropped() -> None:
    assert list(parse_sse(["data: whole", "", "event: ping", "data: half"])) == [
        SseEvent(None, "whole")
    ]


def test_events_come_out_as_their_lines_arrive() -> None:
    seen: list[str] = []

    def lines() -> Iterator[str]:
        for line in ["data: one", "", "data: two", ""]:
            seen.append(line)
            yield line

    events = parse_sse(lines())
    assert next(events) == SseEvent(None, "one")
    assert seen == ["data: one", ""]  # the second event is not read yet
