"""Streaming from Anthropic: its event stream as deltas, then the whole answer; failures mapped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from grump.errors import ProviderError, ProviderTransient
from grump.providers.anthropic import AnthropicChat
from grump.providers.base import ChatDelta, ChatResult, ToolCallResult
from grump.settings import Settings
from tests.chat import chat_request
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.server import cut, failure, server_error, sse_event, streamed
from tests.streams import FAST, collect, first_then_close, streamed_and_plain, tool_turn

QUESTION = chat_request("claude-sonnet-4-5", ("user", "name three colours please"), max_tokens=50)
SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string"}, "lines": {"type": "integer"}},
}
TOOLS = [{"type": "function", "function": {"name": "read_file", "parameters": SCHEMA}}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key="k") as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    server.reset()
    return server


def client(fake: FakeAnthropic) -> AnthropicChat:
    return AnthropicChat(Settings(anthropic_url=fake.url, anthropic_api_key="k"), retry=FAST)


def test_the_stream_reports_its_input_usage_first_as_message_start_gives_it(
    fake: FakeAnthropic,
) -> None:
    # A stream cut short after it is billed at least this: the whole input, cache included.
    with client(fake) as chat:
        first, second, *_ = list(chat.stream(QUESTION))
    assert isinstance(first, ChatDelta) and first.text == "echo:"
    assert first.input_usage is not None and first.input_usage[0] > 0
    assert isinstance(second, ChatDelta) and second.input_usage is None


def event(data: dict[str, Any]) -> bytes:
    return sse_event(data, str(data["type"]))


def start(usage: dict[str, int]) -> bytes:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "usage": usage,
    }
    return event({"type": "message_start", "message": message})


def block_start(index: int, block: dict[str, Any]) -> bytes:
    return event({"type": "content_block_start", "index": index, "content_block": block})


def block_delta(index: int, delta: dict[str, Any]) -> bytes:
    return event({"type": "content_block_delta", "index": index, "delta": delta})


def stop(index: int) -> bytes:
    return event({"type": "content_block_stop", "index": index})


def ending(stop_reason: str, output_tokens: int) -> list[bytes]:
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason},
        "usage": {"output_tokens": output_tokens},
    }
    return [event(delta), event({"type": "message_stop"})]


def test_text_streams_in_pieces_that_join_to_the_plain_answer(fake: FakeAnthropic) -> None:
    with client(fake) as chat:
        deltas, result, plain = streamed_and_plain(chat, QUESTION)
    assert [d.text for d in deltas] == ["echo:", " name", " three", " colours", " please"]
    assert result == plain
    assert fake.requests[0].body["stream"] is True


def test_deltas_arrive_before_the_stream_ends(fake: FakeAnthropic) -> None:
    fake.script(
        streamed(
            start({"input_tokens": 3, "output_tokens": 1}),
            block_start(0, {"type": "text", "text": ""}),
            block_delta(0, {"type": "text_delta", "text": "first"}),
            stop(0),
            *ending("end_turn", 1),
            gap_ms=150,
        )
    )
    with client(fake) as chat:
        stream = chat.stream(QUESTION)
        assert next(stream) == ChatDelta(text="first")
        assert fake.streams_finished == 0
        _, result = collect(stream)
    assert result.content == "first"


def test_the_fakes_tool_use_streams_as_the_plain_answer_reads(fake: FakeAnthropic) -> None:
    turn = tool_turn("claude-sonnet-4-5", "open it", TOOLS)
    with client(fake) as chat:
        deltas, result, plain = streamed_and_plain(chat, turn)
    first, *rest = deltas
    assert (first.tool_index, first.tool_id, first.tool_name) == (
        0,
        plain.tool_calls[0].id,
        "read_file",
    )
    assert "".join(d.tool_arguments for d in rest) == plain.tool_calls[0].arguments
    assert result == plain and result.finish_reason == "tool_calls"


CACHED_USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 2048,
    "cache_read_input_tokens": 4096,
    "output_tokens": 1,
}
MIXED = [
    start(CACHED_USAGE),
    block_start(0, {"type": "text", "text": ""}),
    event({"type": "ping"}),
    block_delta(0, {"type": "text_delta", "text": "Reading both."}),
    stop(0),
    block_start(1, {"type": "tool_use", "id": "toolu_a", "name": "read_file", "input": {}}),
    block_delta(1, {"type": "input_json_delta", "partial_json": ""}),
    block_delta(1, {"type": "input_json_delta", "partial_json": '{"path": "a.'}),
    block_delta(1, {"type": "input_json_delta", "partial_json": 'py"}'}),
    stop(1),
    block_start(2, {"type": "tool_use", "id": "toolu_b", "name": "list_dir", "input": {}}),
    stop(2),
    *ending("tool_use", 40),
]


def test_blocks_become_text_and_tool_calls_numbered_among_themselves(fake: FakeAnthropic) -> None:
    fake.script(streamed(*MIXED))
    with client(fake) as chat:
        deltas, result = collect(chat.stream(QUESTION))
    assert deltas == [
        ChatDelta(text="Reading both."),
        ChatDelta(tool_index=0, tool_id="toolu_a", tool_name="read_file"),
        ChatDelta(tool_index=0, tool_arguments='{"path": "a.'),
        ChatDelta(tool_index=0, tool_arguments='py"}'),
        ChatDelta(tool_index=1, tool_id="toolu_b", tool_name="list_dir"),
        ChatDelta(tool_index=1, tool_arguments="{}"),  # a call without input still has arguments
    ]
    assert result.content == "Reading both."
    assert result.tool_calls == (
        ToolCallResult("toolu_a", "read_file", '{"path": "a.py"}'),
        ToolCallResult("toolu_b", "list_dir", "{}"),
    )


def test_streamed_usage_counts_cache_tokens_and_the_final_output(fake: FakeAnthropic) -> None:
    fake.script(streamed(*MIXED))
    with client(fake) as chat:
        _, result = collect(chat.stream(QUESTION))
    assert (result.tokens_in, result.tokens_cache_write, result.tokens_cache_read) == (
        12 + 2048 + 4096,
        2048,
        4096,
    )
    assert (result.tokens_out, result.finish_reason, result.model) == (
        40,
        "tool_calls",
        "claude-sonnet-4-5",
    )


def test_errors_before_the_first_byte_are_retried_as_for_complete(fake: FakeAnthropic) -> None:
    fake.script(server_error("anthropic", 529))
    with client(fake) as chat:
        _, result = collect(chat.stream(QUESTION))
    assert result.content.startswith("echo:") and fake.call_count == 2


def test_a_refused_stream_fails_at_once_with_anthropics_message(fake: FakeAnthropic) -> None:
    fake.script(failure(400, "messages: roles must alternate", "anthropic"))
    with client(fake) as chat, pytest.raises(ProviderError) as caught:
        list(chat.stream(QUESTION))
    assert (caught.value.message, fake.call_count) == ("messages: roles must alternate", 1)


def opened() -> list[bytes]:
    return [
        start({"input_tokens": 3, "output_tokens": 1}),
        block_start(0, {"type": "text", "text": ""}),
        block_delta(0, {"type": "text_delta", "text": "partial"}),
    ]


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("overloaded_error", ProviderTransient),
        ("api_error", ProviderTransient),
        ("invalid_request_error", ProviderError),
    ],
)
def test_an_error_event_mid_stream_is_mapped(
    fake: FakeAnthropic, kind: str, error: type[Exception]
) -> None:
    failing = event({"type": "error", "error": {"type": kind, "message": "it broke"}})
    fake.script(streamed(*opened(), failing))
    got: list[ChatDelta | ChatResult] = []
    with client(fake) as chat, pytest.raises(error, match="it broke"):
        got.extend(chat.stream(QUESTION))
    assert got == [ChatDelta(text="partial")] and fake.call_count == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b"event: content_block_delta\ndata: {oops\n\n", "malformed stream event"),
        (b"", "before message_stop"),
    ],
)
def test_a_bad_stream_after_a_delta_is_transient(
    fake: FakeAnthropic, bad: bytes, message: str
) -> None:
    fake.script(streamed(*opened(), *([bad] if bad else [])))
    with client(fake) as chat, pytest.raises(ProviderTransient, match=message):
        list(chat.stream(QUESTION))
    assert fake.call_count == 1


def test_a_stream_cut_after_deltas_is_not_replayed(fake: FakeAnthropic) -> None:
    fake.script(cut(after=4))  # message_start, block start, ping... then the first text delta
    got: list[ChatDelta | ChatResult] = []
    with client(fake) as chat, pytest.raises(ProviderTransient, match="stream broke"):
        got.extend(chat.stream(QUESTION))
    assert got == [ChatDelta(text="echo:")] and fake.call_count == 1


def test_a_stream_cut_before_its_first_delta_is_retried(fake: FakeAnthropic) -> None:
    fake.script(cut(after=2))
    with client(fake) as chat:
        _, result = collect(chat.stream(QUESTION))
    assert result.content == "echo: name three colours please" and fake.call_count == 2


def test_closing_the_stream_early_closes_the_upstream_response(fake: FakeAnthropic) -> None:
    pieces = [block_delta(0, {"type": "text_delta", "text": f" w{i}"}) for i in range(60)]
    fake.script(streamed(*opened(), *pieces, stop(0), *ending("end_turn", 61), gap_ms=20))
    with client(fake) as chat:
        assert first_then_close(fake, chat.stream(QUESTION)) == ChatDelta(text="partial")
    assert (fake.client_disconnects, fake.streams_finished) == (1, 0)


def test_thinking_blocks_are_not_the_answer(fake: FakeAnthropic) -> None:
    fake.script(
        streamed(
            start({"input_tokens": 5, "output_tokens": 1}),
            block_start(0, {"type": "thinking", "thinking": ""}),
            block_delta(0, {"type": "thinking_delta", "thinking": "let me see"}),
            block_delta(0, {"type": "signature_delta", "signature": "c2ln"}),
            stop(0),
            block_start(1, {"type": "text", "text": ""}),
            block_delta(1, {"type": "text_delta", "text": "Seven."}),
            stop(1),
            *ending("end_turn", 9),
        )
    )
    with client(fake) as chat:
        deltas, result = collect(chat.stream(QUESTION))
    assert deltas == [ChatDelta(text="Seven.")]
    assert (result.content, result.tokens_out) == ("Seven.", 9)
