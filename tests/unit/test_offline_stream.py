"""The offline provider streams word by word and calls tools: the embedded default demos both."""

from __future__ import annotations

import json

from grump.jobs.models import CompleteInput
from grump.providers.base import ChatDelta, ChatRequest, ChatResult
from grump.providers.offline import OfflineChat

TOOL = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file",
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "lines": {"type": "integer"},
                "mode": {"type": "string", "enum": ["text", "binary"]},
                "follow": {"type": "boolean"},
            },
            "required": ["path"],
        },
    },
}


def _request(**extra: object) -> ChatRequest:
    body = {"messages": [{"role": "user", "content": "plan the refactor"}], "max_tokens": 40}
    return ChatRequest("moonshotai/kimi-k2.5", CompleteInput.model_validate(body | extra))


def _split(items: list[ChatDelta | ChatResult]) -> tuple[list[ChatDelta], ChatResult]:
    *deltas, last = items
    assert isinstance(last, ChatResult)
    assert all(isinstance(d, ChatDelta) for d in deltas)
    return [d for d in deltas if isinstance(d, ChatDelta)], last


def test_the_stream_is_the_answer_word_by_word() -> None:
    chat = OfflineChat()
    deltas, result = _split(list(chat.stream(_request())))
    assert result == chat.complete(_request())
    assert len(deltas) == len(result.content.split(" ")) > 3
    assert "".join(d.text for d in deltas) == result.content
    assert all(d.tool_index is None for d in deltas)


def test_offered_tools_are_called_with_arguments_from_their_schema() -> None:
    chat = OfflineChat()
    result = chat.complete(_request(tools=[TOOL]))
    assert result.finish_reason == "tool_calls" and result.content == ""
    (call,) = result.tool_calls
    assert call.name == "read_file" and call.id.startswith("call_")
    assert json.loads(call.arguments) == {
        "path": "offline",
        "lines": 1,
        "mode": "text",
        "follow": True,
    }
    deltas, streamed = _split(list(chat.stream(_request(tools=[TOOL]))))
    assert streamed == result
    assert deltas[0].tool_id == call.id and deltas[0].tool_name == "read_file"
    assert len(deltas) == 2 and {d.tool_index for d in deltas} == {0}
    assert "".join(d.tool_arguments for d in deltas) == call.arguments


def test_no_tool_call_after_a_tool_result_or_when_told_none() -> None:
    chat = OfflineChat()
    assert not chat.complete(_request(tools=[TOOL], tool_choice="none")).tool_calls
    messages = [
        {"role": "user", "content": "read it"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "function": {"name": "read_file", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "file body"},
    ]
    answer = chat.complete(_request(tools=[TOOL], messages=messages))
    assert not answer.tool_calls and answer.content.startswith("[offline")
