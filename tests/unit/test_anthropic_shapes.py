"""Anthropic's Messages shape into grump's chat shape, and a job's result back, as the contract says."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grump.api.anthropic.models import CountTokensBody, MessagesBody
from grump.api.anthropic.shapes import complete_input, message_answer, tool_input
from grump.errors import ValidationFailed
from grump.jobs.models import CompleteInput

EPHEMERAL = {"type": "ephemeral"}


def translated(**body: Any) -> CompleteInput:
    values = complete_input(MessagesBody.model_validate({"max_tokens": 64, **body}))
    return CompleteInput.model_validate(values)


def test_system_as_a_string_and_as_blocks_with_their_cache_breakpoints() -> None:
    plain = translated(
        model="auto", system="be brief", messages=[{"role": "user", "content": "hi"}]
    )
    assert plain.model is None  # auto routes
    assert plain.messages[0].role == "system" and plain.messages[0].content == "be brief"
    blocks = [
        {"type": "text", "text": "rules"},
        {"type": "text", "text": "long", "cache_control": EPHEMERAL},
    ]
    cached = translated(
        model="claude-x", system=blocks, messages=[{"role": "user", "content": "hi"}]
    )
    assert cached.model == "claude-x"
    parts = cached.messages[0].content
    assert isinstance(parts, list)
    assert [(p.type, p.text, p.cache_control) for p in parts] == [
        ("text", "rules", None),
        ("text", "long", EPHEMERAL),
    ]


def test_tool_use_and_tool_results_become_tool_calls_and_tool_messages_in_order() -> None:
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "time",
                    "input": {},
                    "cache_control": EPHEMERAL,
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "here you go"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "18C",
                    "is_error": False,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "noon"}],
                    "cache_control": EPHEMERAL,
                },
            ],
        },
    ]
    grump = translated(model="auto", messages=messages)
    roles = [m.role for m in grump.messages]
    assert roles == ["user", "assistant", "tool", "tool", "user"]
    assistant = grump.messages[1]
    assert assistant.content == "Let me look."  # thinking dropped, text joined
    assert assistant.cache_control == EPHEMERAL  # a tool_use breakpoint rides on the message
    assert [(c.id, c.function.name, c.function.arguments) for c in assistant.tool_calls or ()] == [
        ("toolu_1", "weather", '{"city":"Paris"}'),
        ("toolu_2", "time", "{}"),
    ]
    first, second = grump.messages[2], grump.messages[3]
    assert (first.tool_call_id, first.content, first.cache_control) == ("toolu_1", "18C", None)
    assert second.tool_call_id == "toolu_2" and second.cache_control == EPHEMERAL
    assert isinstance(second.content, list) and second.content[0].text == "noon"
    rest = grump.messages[4].content
    assert isinstance(rest, list) and rest[0].text == "here you go"


def test_an_assistant_turn_of_tool_calls_alone_has_null_content() -> None:
    call = {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}
    grump = translated(
        model="auto",
        messages=[{"role": "user", "content": "go"}, {"role": "assistant", "content": [call]}],
    )
    assert grump.messages[1].content is None and grump.messages[1].tool_calls


def test_a_user_turn_of_tool_results_alone_is_only_tool_messages() -> None:
    result = {"type": "tool_result", "tool_use_id": "t", "content": "ok"}
    grump = translated(
        model="auto",
        messages=[
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
            },
            {"role": "user", "content": [result]},
        ],
    )
    assert [m.role for m in grump.messages] == ["user", "assistant", "tool"]


def test_images_by_base64_and_url_become_image_url_parts() -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA="}},
        {
            "type": "image",
            "source": {"type": "url", "url": "https://x.test/a.png"},
            "cache_control": EPHEMERAL,
        },
        {"type": "text", "text": "what is it?"},
    ]
    parts = (
        translated(model="auto", messages=[{"role": "user", "content": content}])
        .messages[0]
        .content
    )
    assert isinstance(parts, list)
    assert parts[0].image_url == {"url": "data:image/png;base64,AAA="}
    assert (
        parts[1].image_url == {"url": "https://x.test/a.png"}
        and parts[1].cache_control == EPHEMERAL
    )


def test_tools_tool_choice_and_sampling_map_to_openais_names() -> None:
    tools = [
        {"name": "weather", "description": "forecast", "input_schema": {"type": "object"}},
        {"name": "time", "input_schema": {"type": "object"}, "cache_control": EPHEMERAL},
    ]
    grump = translated(
        model="auto",
        messages=[{"role": "user", "content": "hi"}],
        tools=tools,
        tool_choice={"type": "tool", "name": "weather", "disable_parallel_tool_use": True},
        stop_sequences=["END"],
        temperature=0.3,
        top_p=0.9,
        top_k=5,
        metadata={"user_id": "u1"},
        stream=True,
    )
    assert grump.tools == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {"type": "object"},
                "description": "forecast",
            },
        },
        {
            "type": "function",
            "function": {"name": "time", "parameters": {"type": "object"}},
            "cache_control": EPHEMERAL,
        },
    ]
    assert grump.tool_choice == {"type": "function", "function": {"name": "weather"}}
    assert grump.parallel_tool_calls is False
    assert (grump.stop, grump.temperature, grump.top_p, grump.stream) == (["END"], 0.3, 0.9, True)
    for anthropic, openai in (("auto", "auto"), ("any", "required"), ("none", "none")):
        assert (
            translated(
                model="auto",
                messages=[{"role": "user", "content": "hi"}],
                tool_choice={"type": anthropic},
            ).tool_choice
            == openai
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0]"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f"}]}
                ]
            },
            "messages[0].content[0]",
        ),
    ],
)
def test_what_cannot_be_carried_is_refused_naming_the_field(
    body: dict[str, Any], field: str
) -> None:
    values = {
        "model": "auto",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
        **body,
    }
    with pytest.raises(ValidationFailed) as refused:
        complete_input(MessagesBody.model_validate(values))
    assert refused.value.details["field"] == field


def test_a_result_becomes_a_message_with_tool_use_blocks_and_anthropics_usage() -> None:
    result = {
        "content": "Checking.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
            }
        ],
        "finish_reason": "tool_calls",
        "model": "claude-x",
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 7,
            "cache_read_input_tokens": 60,
            "cache_creation_input_tokens": 30,
        },
    }
    answer = message_answer("msg_1", "claude-x", result)
    assert answer["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
    ]
    assert answer["stop_reason"] == "tool_use" and answer["stop_sequence"] is None
    assert answer["usage"] == {
        "input_tokens": 10,
        "output_tokens": 7,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 60,
    }
    for finish, stop in (
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
    ):
        assert message_answer("m", "x", {"finish_reason": finish})["stop_reason"] == stop


def test_tool_arguments_that_are_not_a_json_object_are_kept_raw() -> None:
    assert tool_input("") == {}
    assert tool_input('{"a": [1]}') == {"a": [1]}
    assert tool_input("[1, 2") == {"_raw_arguments": "[1, 2"}
    assert json.dumps(tool_input("3")) == '{"_raw_arguments": "3"}'


def test_count_tokens_bodies_need_no_max_tokens() -> None:
    body = CountTokensBody.model_validate(
        {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert body.messages[0].content == "hi"
