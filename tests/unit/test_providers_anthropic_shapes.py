"""grump's chat input as an Anthropic Messages request, row by row of the mapping, and back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grump.errors import ProviderError
from grump.jobs.models import CompleteInput
from grump.providers.anthropic import messages_payload, parse_messages_response
from grump.providers.base import ChatRequest, ToolCallResult

EPHEMERAL = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}
SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
TOOL = {
    "type": "function",
    "function": {"name": "search", "description": "Find things", "parameters": SCHEMA},
}


def payload(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    chat = CompleteInput.model_validate({"messages": list(messages), **fields})
    return messages_payload(ChatRequest(model="claude-sonnet-4-5", input=chat))


USER = {"role": "user", "content": "hi"}


def test_a_plain_system_string_stays_a_string() -> None:
    body = payload({"role": "system", "content": "Be brief."}, USER)
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_system_parts_become_text_blocks_keeping_cache_control() -> None:
    system = {
        "role": "system",
        "content": [
            {"type": "text", "text": "You are a coding agent."},
            {"type": "text", "text": "Repository map: ...", "cache_control": HOUR},
        ],
    }
    body = payload(system, {"role": "system", "content": "Answer in English."}, USER)
    assert body["system"] == [
        {"type": "text", "text": "You are a coding agent."},
        {"type": "text", "text": "Repository map: ...", "cache_control": HOUR},
        {"type": "text", "text": "Answer in English."},
    ]


def test_a_system_message_cache_control_marks_its_last_block() -> None:
    body = payload({"role": "system", "content": "Rules.", "cache_control": EPHEMERAL}, USER)
    assert body["system"] == [{"type": "text", "text": "Rules.", "cache_control": EPHEMERAL}]


def test_user_text_parts_keep_their_cache_control() -> None:
    user = {
        "role": "user",
        "content": [
            {"type": "text", "text": "a long document", "cache_control": EPHEMERAL},
            {"type": "text", "text": "the question"},
        ],
    }
    assert payload(user)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "a long document", "cache_control": EPHEMERAL},
                {"type": "text", "text": "the question"},
            ],
        }
    ]


def test_a_message_cache_control_goes_on_its_last_block() -> None:
    body = payload({"role": "user", "content": "hi", "cache_control": EPHEMERAL})
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": EPHEMERAL}]}
    ]


@pytest.mark.parametrize(
    ("url", "source"),
    [
        (
            "data:image/png;base64,iVBORw0K",
            {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
        ),
        ("https://example.com/cat.jpg", {"type": "url", "url": "https://example.com/cat.jpg"}),
    ],
)
def test_image_parts_become_image_blocks(url: str, source: dict[str, str]) -> None:
    user = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
    assert payload(user)["messages"][0]["content"] == [{"type": "image", "source": source}]


CALLS = [
    {"id": "toolu_1", "function": {"name": "search", "arguments": '{"q":"cats"}'}},
    {"id": "toolu_2", "function": {"name": "search", "arguments": ""}},
]


def test_assistant_tool_calls_become_tool_use_blocks_after_the_text() -> None:
    assistant = {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": CALLS,
        "cache_control": EPHEMERAL,
    }
    body = payload(USER, assistant)
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "cats"}},
            {
                "type": "tool_use",
                "id": "toolu_2",
                "name": "search",
                "input": {},
                "cache_control": EPHEMERAL,
            },
        ],
    }


def test_an_assistant_with_only_tool_calls_sends_no_empty_text() -> None:
    body = payload(USER, {"role": "assistant", "content": "", "tool_calls": CALLS[:1]})
    assert [b["type"] for b in body["messages"][1]["content"]] == ["tool_use"]


def test_assistant_text_is_a_string_or_blocks_when_marked() -> None:
    plain = payload(USER, {"role": "assistant", "content": "seven"})
    assert plain["messages"][1] == {"role": "assistant", "content": "seven"}
    marked = {
        "role": "assistant",
        "content": [{"type": "text", "text": "seven", "cache_control": EPHEMERAL}],
    }
    assert payload(USER, marked)["messages"][1]["content"] == [
        {"type": "text", "text": "seven", "cache_control": EPHEMERAL}
    ]


def test_tool_messages_become_one_user_turn_of_results_a_user_message_joins() -> None:
    body = payload(
        USER,
        {"role": "assistant", "content": None, "tool_calls": CALLS},
        {
            "role": "tool",
            "tool_call_id": "toolu_1",
            "content": "3 cats",
            "cache_control": EPHEMERAL,
        },
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "none"}]},
        {"role": "user", "content": "thanks, and dogs?"},
        {"role": "assistant", "content": "Dogs: 2."},
    )
    assert body["messages"][2:] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "3 cats",
                    "cache_control": EPHEMERAL,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "none"}],
                },
                {"type": "text", "text": "thanks, and dogs?"},
            ],
        },
        {"role": "assistant", "content": "Dogs: 2."},
    ]


def test_tools_get_input_schema_and_keep_cache_control() -> None:
    bare = {"type": "function", "function": {"name": "now"}}
    body = payload(USER, tools=[bare, {**TOOL, "cache_control": EPHEMERAL}])
    assert body["tools"] == [
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
        {
            "name": "search",
            "input_schema": SCHEMA,
            "description": "Find things",
            "cache_control": EPHEMERAL,
        },
    ]
    assert "tool_choice" not in body


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "search"}},
            None,
            {"type": "tool", "name": "search"},
        ),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, True, None),
    ],
)
def test_tool_choice_and_parallel_tool_calls(choice: Any, parallel: Any, expected: Any) -> None:
    body = payload(USER, tools=[TOOL], tool_choice=choice, parallel_tool_calls=parallel)
    assert body.get("tool_choice") == expected


def test_sampling_fields_map_and_unknown_ones_are_dropped() -> None:
    body = payload(
        USER,
        stop=["END"],
        top_p=0.8,
        temperature=1.6,
        max_tokens=77,
        seed=3,
        presence_penalty=1.0,
        frequency_penalty=1.0,
    )
    assert body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 77,
        "temperature": 1.0,
        "messages": [{"role": "user", "content": "hi"}],
        "stop_sequences": ["END"],
        "top_p": 0.8,
    }


def test_json_object_asks_for_json_in_the_system_prompt() -> None:
    body = payload(
        {"role": "system", "content": "Be brief."}, USER, response_format={"type": "json_object"}
    )
    assert body["system"].startswith("Be brief.\n\nAnswer with one JSON object")


def test_json_schema_puts_the_schema_after_cached_system_blocks() -> None:
    system = {
        "role": "system",
        "content": [{"type": "text", "text": "Rules.", "cache_control": EPHEMERAL}],
    }
    spec = {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}
    body = payload(system, USER, response_format=spec)
    first, last = body["system"]
    assert first == {"type": "text", "text": "Rules.", "cache_control": EPHEMERAL}
    assert json.dumps(SCHEMA, sort_keys=True) in last["text"] and "cache_control" not in last


def test_a_streamed_request_says_so() -> None:
    chat = CompleteInput.model_validate({"messages": [USER]})
    assert messages_payload(ChatRequest(model="m", input=chat), stream=True)["stream"] is True


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]"])
def test_tool_call_arguments_that_are_no_json_object_are_refused(arguments: str) -> None:
    call = {"id": "t", "function": {"name": "search", "arguments": arguments}}
    with pytest.raises(ProviderError, match="arguments"):
        payload(USER, {"role": "assistant", "content": None, "tool_calls": [call]})


# --- the answer -------------------------------------------------------------------

REQUEST = ChatRequest(
    model="claude-sonnet-4-5", input=CompleteInput.model_validate({"messages": [USER]})
)


def test_tool_use_blocks_become_tool_calls_and_cache_tokens_count_as_input() -> None:
    answer = {
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "text", "text": "Searching."},
            {"type": "tool_use", "id": "toolu_9", "name": "search", "input": {"q": "cats", "n": 2}},
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 1500,
            "cache_read_input_tokens": 3000,
            "output_tokens": 25,
        },
    }
    result = parse_messages_response(answer, REQUEST)
    assert result.content == "Searching."
    assert result.tool_calls == (
        ToolCallResult("toolu_9", "search", json.dumps({"q": "cats", "n": 2})),
    )
    assert (result.tokens_in, result.tokens_cache_write, result.tokens_cache_read) == (
        4510,
        1500,
        3000,
    )
    assert (result.tokens_out, result.finish_reason) == (25, "tool_calls")


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
    ],
)
def test_stop_reasons_in_grumps_words(stop_reason: str, finish: str) -> None:
    answer = {
        "content": [],
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    assert parse_messages_response(answer, REQUEST).finish_reason == finish
