"""Streaming from NIM: deltas as the SSE chunks arrive, the whole answer last, failures mapped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState

from grump.errors import ProviderError, ProviderTransient
from grump.providers.base import ChatDelta, ChatResult, estimate_tokens
from grump.providers.nim import NimChat
from grump.settings import Settings
from tests.chat import chat_request
from tests.fakes.nim import FakeNim, count_tokens
from tests.fakes.server import cut, failure, rate_limited, sse_event, streamed
from tests.streams import FAST, collect, first_then_close, streamed_and_plain, tool_turn

QUESTION = chat_request("m", ("user", "name three colours please"), max_tokens=50)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"term": {"type": "string"}}},
        },
    }
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeNim]:
    with FakeNim() as fake:
        yield fake


@pytest.fixture
def nim(server: FakeNim) -> FakeNim:
    server.reset()
    return server


def client(nim: FakeNim, **overrides: Any) -> NimChat:
    values: dict[str, Any] = {
        "nim_url": nim.url,
        "nim_api_key": "k",
        "provider_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return NimChat(Settings(**values), retry=FAST)


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return sse_event(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [choice],
            **extra,
        }
    )


def test_text_streams_in_pieces_that_join_to_the_plain_answer(nim: FakeNim) -> None:
    with client(nim) as chat:
        deltas, result, plain = streamed_and_plain(chat, QUESTION)
    assert [d.text for d in deltas] == ["echo:", " name", " three", " colours", " please"]
    assert result == plain
    assert result.tokens_in == count_tokens("name three colours please")  # NIM's usage chunk
    sent = nim.requests[0].body
    assert (sent["stream"], sent["stream_options"]) == (True, {"include_usage": True})


def test_deltas_arrive_before_the_stream_ends(nim: FakeNim) -> None:
    nim.script(
        streamed(
            chunk({"content": "first"}),
            chunk({"content": " second"}, "stop"),
            sse_event("[DONE]"),
            gap_ms=300,
        )
    )
    with client(nim) as chat:
        stream = chat.stream(QUESTION)
        assert next(stream) == ChatDelta(text="first")
        assert nim.streams_finished == 0  # the rest is still on its way
        _, result = collect(stream)
    assert result.content == "first second"


def test_a_tool_call_streams_id_and_name_first_then_argument_fragments(nim: FakeNim) -> None:
    with client(nim) as chat:
        deltas, result, plain = streamed_and_plain(chat, tool_turn("m", "find", TOOLS))
    first, *rest = deltas
    assert (first.tool_index, first.tool_name, first.tool_arguments) == (0, "lookup", "")
    assert first.tool_id == plain.tool_calls[0].id
    assert rest and all((d.tool_index, d.tool_id, d.tool_name) == (0, None, None) for d in rest)
    assert "".join(d.tool_arguments for d in rest) == '{"term": "example term"}'
    assert result == plain
    assert result.finish_reason == "tool_calls"


TWO_CALLS = [
    chunk({"role": "assistant", "content": None}),
    chunk({"content": "Looking"}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"te'}}]}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"term"'},
                }
            ]
        }
    ),
    chunk(
        {
            "tool_calls": [
                {"index": 0, "function": {"arguments": 'rm": "x"}'}},
                {"index": 1, "function": {"name": "up", "arguments": ': "y"}'}},
            ]
        }
    ),
    chunk({}, "tool_calls"),
    sse_event(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }
    ),
    sse_event("[DONE]"),
]


def test_tool_call_fragments_are_assembled_as_the_openai_sdk_assembles_them(nim: FakeNim) -> None:
    nim.script(streamed(*TWO_CALLS), streamed(*TWO_CALLS))
    with client(nim) as chat:
        deltas, result = collect(chat.stream(QUESTION))
    sdk = openai.OpenAI(base_url=f"{nim.url}/v1", api_key="k", max_retries=0)
    state = ChatCompletionStreamState()
    for piece in sdk.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    ):
        state.handle_chunk(piece)
    message = state.get_final_completion().choices[0].message
    assert result.content == message.content == "Looking"
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        (c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()
    ]
    assert [c.name for c in result.tool_calls] == ["lookup", "lookup"]
    assert [json.loads(c.arguments) for c in result.tool_calls] == [{"term": "x"}, {"term": "y"}]
    assert (result.tokens_in, result.tokens_out, result.finish_reason) == (11, 7, "tool_calls")
    assert len(deltas) == 6  # the text, then one per fragment


def test_usage_is_estimated_when_the_stream_has_no_usage_chunk(nim: FakeNim) -> None:
    nim.script(streamed(chunk({"content": "a fairly long answer"}, "stop"), sse_event("[DONE]")))
    with client(nim) as chat:
        _, result = collect(chat.stream(QUESTION))
    assert result.tokens_out == estimate_tokens("a fairly long answer")
    assert result.tokens_in == estimate_tokens("name three colours please")


def test_errors_before_the_first_byte_are_retried_as_for_complete(nim: FakeNim) -> None:
    nim.script(rate_limited("nim", retry_after="0"))
    with client(nim) as chat:
        _, result = collect(chat.stream(QUESTION))
    assert result.content.startswith("echo:") and nim.call_count == 2


def test_a_refused_stream_fails_at_once_with_nims_message(nim: FakeNim) -> None:
    nim.script(failure(400, "max_tokens is too large", "openai"))
    with client(nim) as chat, pytest.raises(ProviderError) as caught:
        list(chat.stream(QUESTION))
    assert caught.value.message == "max_tokens is too large"
    assert (nim.call_count, caught.value.details["status"]) == (1, 400)


def test_a_stream_cut_after_deltas_is_transient_and_not_replayed(nim: FakeNim) -> None:
    nim.script(cut(after=3))  # the role chunk, then two text chunks
    got: list[ChatDelta | ChatResult] = []
    with client(nim) as chat, pytest.raises(ProviderTransient, match="stream broke"):
        for item in chat.stream(QUESTION):
            got.append(item)
    assert got == [ChatDelta(text="echo:"), ChatDelta(text=" name")]
    assert nim.call_count == 1


def test_a_stream_cut_before_its_first_delta_is_retried(nim: FakeNim) -> None:
    nim.script(cut(after=1))  # only the role chunk, which carries no text
    with client(nim) as chat:
        deltas, result = collect(chat.stream(QUESTION))
    assert "".join(d.text for d in deltas) == result.content == "echo: name three colours please"
    assert nim.call_count == 2


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b"data: {not json\n\n", "malformed stream chunk"),
        (sse_event({"error": {"message": "engine died"}}), "engine died"),
        (b"", "ended before \\[DONE\\]"),
    ],
)
def test_a_bad_stream_after_a_delta_is_transient(nim: FakeNim, bad: bytes, message: str) -> None:
    events = [chunk({"content": "partial"})] + ([bad] if bad else [])
    nim.script(streamed(*events))
    with client(nim) as chat, pytest.raises(ProviderTransient, match=message):
        list(chat.stream(QUESTION))
    assert nim.call_count == 1


def test_a_stalled_stream_times_out_mid_stream(nim: FakeNim) -> None:
    nim.script(
        streamed(chunk({"content": "partial"}), chunk({}, "stop"), sse_event("[DONE]"), gap_ms=1500)
    )
    with (
        client(nim, provider_timeout_seconds=0.3) as chat,
        pytest.raises(ProviderTransient, match="timed out"),
    ):
        list(chat.stream(QUESTION))
    assert nim.call_count == 1


def test_closing_the_stream_early_closes_the_upstream_response(nim: FakeNim) -> None:
    long_answer = [chunk({"content": f" w{i}"}) for i in range(60)]
    nim.script(streamed(*long_answer, sse_event("[DONE]"), gap_ms=20))
    with client(nim) as chat:
        assert first_then_close(nim, chat.stream(QUESTION)) == ChatDelta(text=" w0")
    assert (nim.client_disconnects, nim.streams_finished) == (1, 0)


def test_the_fakes_own_stream_reads_the_same_through_the_openai_sdk(nim: FakeNim) -> None:
    messages: list[Any] = [{"role": "user", "content": "find"}]
    with client(nim) as chat:
        _, result = collect(chat.stream(tool_turn("m", "find", TOOLS)))
    sdk = openai.OpenAI(base_url=f"{nim.url}/v1", api_key="k", max_retries=0)
    options = {"include_usage": True}
    with sdk.chat.completions.stream(
        model="m", messages=messages, tools=TOOLS, stream_options=options
    ) as events:  # type: ignore[arg-type]
        final = events.get_final_completion()
    [call] = final.choices[0].message.tool_calls or []
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        (call.id, call.function.name, call.function.arguments)  # type: ignore[union-attr]
    ]
    assert final.usage is not None and final.usage.prompt_tokens == result.tokens_in
