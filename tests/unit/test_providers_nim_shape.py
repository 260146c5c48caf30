"""What reaches NIM for a whole chat input, and the tool calls read from its answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from grump.errors import ProviderError
from grump.jobs.models import CompleteInput
from grump.providers.base import ChatRequest, ToolCallResult
from grump.providers.http import RetryPolicy
from grump.providers.nim import NimChat
from grump.providers.openai_shapes import chat_payload
from grump.settings import Settings
from tests.fakes.chat import stable_id
from tests.fakes.nim import FakeNim
from tests.fakes.server import reply

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=1.0)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city"],
        },
    },
}
EPHEMERAL = {"type": "ephemeral"}


def request(**fields: Any) -> ChatRequest:
    return ChatRequest(
        model="meta/llama-3.1-8b-instruct", input=CompleteInput.model_validate(fields)
    )


AGENT_TURN = request(
    messages=[
        {
            "role": "system",
            "content": [{"type": "text", "text": "Be terse.", "cache_control": EPHEMERAL}],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is on this picture, and the weather?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png", "detail": "low"},
                },
            ],
            "cache_control": EPHEMERAL,
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
    ],
    tools=[{**WEATHER, "cache_control": EPHEMERAL}],
    tool_choice="auto",
    parallel_tool_calls=False,
    stop=["\n\n"],
    response_format={"type": "json_object"},
    seed=7,
    top_p=0.9,
    presence_penalty=0.5,
    frequency_penalty=-0.25,
    max_tokens=64,
    temperature=0.2,
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeNim]:
    with FakeNim() as fake:
        yield fake


@pytest.fixture
def nim(server: FakeNim) -> FakeNim:
    server.reset()
    return server


def client(nim: FakeNim) -> NimChat:
    return NimChat(Settings(nim_url=nim.url, nim_api_key="k"), retry=FAST)


def test_the_whole_input_reaches_nim_as_it_is_without_cache_control(nim: FakeNim) -> None:
    with client(nim) as chat:
        chat.complete(AGENT_TURN)
    [sent] = nim.requests
    assert sent.body == {
        "model": "meta/llama-3.1-8b-instruct",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is on this picture, and the weather?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/a.png", "detail": "low"},
                    },
                ],
            },
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "content": "sunny, 21C", "tool_call_id": "call_1"},
        ],
        "max_tokens": 64,
        "temperature": 0.2,
        "stream": False,
        "tools": [WEATHER],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "stop": ["\n\n"],
        "response_format": {"type": "json_object"},
        "seed": 7,
        "top_p": 0.9,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
    }
    assert "cache_control" not in str(sent.body)


def test_unset_fields_are_omitted_and_tool_choice_needs_tools() -> None:
    payload = chat_payload(
        request(
            messages=[{"role": "user", "content": "hi"}],
            tool_choice="auto",
            parallel_tool_calls=True,
        )
    )
    assert payload == {
        "model": "meta/llama-3.1-8b-instruct",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 512,
        "temperature": 0.0,
        "stream": False,
    }


def test_a_streamed_request_asks_for_the_usage_chunk() -> None:
    payload = chat_payload(request(messages=[{"role": "user", "content": "hi"}]), stream=True)
    assert (payload["stream"], payload["stream_options"]) == (True, {"include_usage": True})


def test_offered_tools_and_a_user_turn_get_a_tool_call_back(nim: FakeNim) -> None:
    turn = request(messages=[{"role": "user", "content": "weather in Oslo?"}], tools=[WEATHER])
    with client(nim) as chat:
        result = chat.complete(turn)
    messages = nim.requests[0].body["messages"]
    assert result.tool_calls == (
        ToolCallResult(
            id=stable_id("call_", messages, "get_weather"),
            name="get_weather",
            arguments='{"city": "example city", "unit": "celsius", "days": 1}',
        ),
    )
    assert (result.content, result.finish_reason) == ("", "tool_calls")


def test_after_the_tool_answered_the_model_speaks(nim: FakeNim) -> None:
    with client(nim) as chat:
        result = chat.complete(AGENT_TURN)
    assert (result.content, result.tool_calls, result.finish_reason) == (
        "echo: sunny, 21C",
        (),
        "stop",
    )


def test_several_tool_calls_are_read_in_order(nim: FakeNim) -> None:
    calls = [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": '{"x":1}'}},
    ]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    nim.script(reply({"choices": [{"message": message, "finish_reason": "tool_calls"}]}))
    with client(nim) as chat:
        result = chat.complete(request(messages=[{"role": "user", "content": "go"}]))
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("a", "f", "{}"),
        ("b", "g", '{"x":1}'),
    ]


@pytest.mark.parametrize(
    "calls",
    [
        "not a list",
        [{"id": "a"}],
        [{"id": 3, "function": {"name": "f", "arguments": "{}"}}],
        [{"id": "a", "function": {"arguments": "{}"}}],
    ],
)
def test_malformed_tool_calls_are_a_provider_error(nim: FakeNim, calls: object) -> None:
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    nim.script(reply({"choices": [{"message": message}]}))
    with client(nim) as chat, pytest.raises(ProviderError, match="malformed"):
        chat.complete(request(messages=[{"role": "user", "content": "go"}]))
