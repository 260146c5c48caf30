"""What a follower makes of a job's log and events (pure: no Redis, no ledger)."""

from __future__ import annotations

import uuid
from collections import deque

from grump.jobs.deltalog import Entry, delta_event, plain_pieces
from grump.jobs.deltas import coalesce
from grump.jobs.events import JobEvent
from grump.jobs.stream import TextDelta, ToolCallDelta
from grump.jobs.stream_seen import Seen, deltas_of_result

JOB = uuid.uuid4()


def _marker(entry_id: str, attempt: str) -> Entry:
    return Entry(entry_id, attempt=attempt, claimer="worker-1")


def _text(entry_id: str, seq: int, text: str) -> Entry:
    return Entry(entry_id, pieces=(TextDelta(text),), seq=seq)


def test_pieces_within_a_flush_are_joined_per_text_and_per_tool_call() -> None:
    pieces = [
        TextDelta("a"),
        TextDelta("b"),
        ToolCallDelta(0, '{"p', "call_1", "ls"),
        ToolCallDelta(0, 'ath":1}'),
        ToolCallDelta(1, "{", "call_2", "cat"),
    ]
    assert coalesce(pieces) == [
        TextDelta("ab"),
        ToolCallDelta(0, '{"path":1}', "call_1", "ls"),
        ToolCallDelta(1, "{", "call_2", "cat"),
    ]


def test_a_late_reader_gets_only_the_latest_run_of_the_job() -> None:
    seen = Seen()
    log = [_marker("1-0", "dead"), _text("2-0", 1, "lost "), _marker("3-0", "live")]
    log.append(_text("4-0", 1, "kept"))
    assert seen.take(log) == [TextDelta("kept")] and not seen.restarted
    assert seen.claimer == "worker-1" and seen.last_id == "4-0"


def test_a_new_run_after_deltas_were_given_is_a_restart() -> None:
    seen = Seen()
    assert seen.take([_marker("1-0", "first"), _text("2-0", 1, "half")]) == [TextDelta("half")]
    assert seen.take([_marker("3-0", "second"), _text("4-0", 1, "again")]) == []
    assert seen.restarted


def test_events_in_step_are_applied_without_reading_and_a_gap_asks_for_the_log() -> None:
    seen = Seen()
    seen.take([_marker("1-0", "run")])

    def event(seq: int, text: str) -> JobEvent:
        return delta_event(JOB, "run", seq, plain_pieces([TextDelta(text)]))

    events: deque[JobEvent | None] = deque([event(1, "a"), event(2, "b"), JobEvent(JOB, "final")])
    assert seen.apply_events(events) == ([TextDelta("a"), TextDelta("b")], False)
    # Entry 3 was missed: the log is read, and what was had from events is not given twice.
    assert seen.apply_events(deque([event(4, "d")])) == ([], True)
    log = [_text("2-0", 1, "a"), _text("3-0", 2, "b"), _text("4-0", 3, "c"), _text("5-0", 4, "d")]
    assert seen.take(log) == [TextDelta("c"), TextDelta("d")]
    assert seen.apply_events(deque([None])) == ([], True)  # resubscribed: events may be lost


def test_the_end_gives_what_the_log_missed_or_refuses_a_different_answer() -> None:
    seen = Seen()
    seen.take([_marker("1-0", "run"), _text("2-0", 1, "hello")])
    call = {"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}
    result = {"content": "hello world", "tool_calls": [call]}
    assert seen.rest_of(result) == [TextDelta(" world"), ToolCallDelta(0, "{}", "c1", "ls")]
    assert seen.rest_of({"content": "goodbye"}) is None
    assert deltas_of_result(result) == [
        TextDelta("hello world"),
        ToolCallDelta(0, "{}", "c1", "ls"),
    ]
