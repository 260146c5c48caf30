"""The fake providers run as programs, scripted over HTTP, as e2e tests and benchmarks use them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from grump.errors import ProviderError, ProviderTransient
from grump.jobs.models import CompleteInput
from grump.providers.anthropic import AnthropicChat
from grump.providers.base import ChatDelta, ChatRequest, ChatResult
from grump.providers.http import RetryPolicy
from grump.providers.nim import NimChat
from grump.settings import Settings
from tests.chat import chat_request
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.nim import FakeNim
from tests.fakes.server import Step, cut, rate_limited, sse_event, streamed

ROOT = Path(__file__).resolve().parents[2]
REQUEST = chat_request("m", ("user", "hello"), max_tokens=10)


def _start(module: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # "listening on http://127.0.0.1:<port>"
    if not line.startswith("listening on "):
        process.kill()
        pytest.fail(f"{module} did not start: {line!r}")
    return process, line.split()[-1]


@pytest.fixture
def nim_program() -> Iterator[str]:
    process, url = _start("tests.fakes.nim", "--latency-ms", "20", "--api-key", "k")
    yield url
    process.terminate()
    process.wait(timeout=5)


def test_a_nim_program_is_scripted_over_http(nim_program: str) -> None:
    script = [rate_limited("nim", retry_after="0").to_json()]
    httpx.post(f"{nim_program}/_fake/script", json=script).raise_for_status()
    settings = Settings(nim_url=nim_program, nim_api_key="k")
    with NimChat(settings, retry=RetryPolicy(attempts=2, base_delay=0.01)) as chat:
        assert chat.complete(REQUEST).content == "echo: hello"
    log = httpx.get(f"{nim_program}/_fake/requests").json()
    assert log["count"] == 2
    assert log["requests"][0]["body"]["messages"] == [{"role": "user", "content": "hello"}]


def test_a_nim_program_checks_the_key(nim_program: str) -> None:
    with (
        NimChat(Settings(nim_url=nim_program, nim_api_key="wrong")) as chat,
        pytest.raises(ProviderError, match="Authentication failed"),
    ):
        chat.complete(REQUEST)


def test_an_anthropic_program_answers() -> None:
    process, url = _start("tests.fakes.anthropic")
    try:
        with AnthropicChat(Settings(anthropic_url=url, anthropic_api_key="any")) as chat:
            assert chat.complete(REQUEST).content == "echo: hello"
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_a_nim_program_streams_and_takes_scripted_cuts_over_http(nim_program: str) -> None:
    httpx.post(f"{nim_program}/_fake/script", json=[cut(after=2).to_json()]).raise_for_status()
    settings = Settings(nim_url=nim_program, nim_api_key="k")
    with NimChat(settings, retry=RetryPolicy(attempts=2, base_delay=0.01)) as chat:
        with pytest.raises(ProviderTransient, match="stream broke"):
            list(chat.stream(REQUEST))
        *deltas, result = chat.stream(REQUEST)
    assert isinstance(result, ChatResult) and result.content == "echo: hello"
    assert "".join(d.text for d in deltas if isinstance(d, ChatDelta)) == "echo: hello"


def test_a_scripted_stream_survives_its_trip_through_json() -> None:
    step = streamed(sse_event({"a": 1}, "ping"), sse_event("[DONE]"), gap_ms=5, cut_after=1)
    assert Step.from_json(step.to_json()) == step


def test_an_anthropic_program_streams_tool_calls_for_offered_tools() -> None:
    process, url = _start("tests.fakes.anthropic", "--stream-gap-ms", "1")
    tool = {"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}
    chat_input = CompleteInput.model_validate(
        {"messages": [{"role": "user", "content": "go"}], "tools": [tool]}
    )
    try:
        with AnthropicChat(Settings(anthropic_url=url, anthropic_api_key="any")) as chat:
            *_, result = chat.stream(ChatRequest(model="claude-sonnet-4-5", input=chat_input))
    finally:
        process.terminate()
        process.wait(timeout=5)
    assert isinstance(result, ChatResult)
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("ls", "{}")]


WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _agent_loop(chat: NimChat | AnthropicChat, model: str) -> tuple[ChatResult, ChatResult]:
    """Ask with a tool, answer the call, and get the model's last word."""
    messages: list[dict[str, object]] = [{"role": "user", "content": "weather in Oslo?"}]
    ask = CompleteInput.model_validate({"messages": messages, "tools": [WEATHER]})
    called = chat.complete(ChatRequest(model=model, input=ask))
    [call] = called.tool_calls
    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call.id, "function": {"name": call.name, "arguments": call.arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    answer = CompleteInput.model_validate({"messages": messages, "tools": [WEATHER]})
    return called, chat.complete(ChatRequest(model=model, input=answer))


def test_an_agent_loop_runs_through_both_fakes() -> None:
    with FakeNim() as nim, FakeAnthropic() as anthropic:
        with NimChat(Settings(nim_url=nim.url, nim_api_key="k")) as chat:
            nim_call, nim_answer = _agent_loop(chat, "m")
        with AnthropicChat(Settings(anthropic_url=anthropic.url, anthropic_api_key="k")) as claude:
            claude_call, claude_answer = _agent_loop(claude, "claude-sonnet-4-5")
    for called, answered in ((nim_call, nim_answer), (claude_call, claude_answer)):
        assert called.tool_calls[0].name == "weather" and called.finish_reason == "tool_calls"
        assert json.loads(called.tool_calls[0].arguments) == {"city": "example city"}
        assert (answered.content, answered.finish_reason) == ("echo: sunny", "stop")
    tool_turn = anthropic.requests[1].body["messages"][2]
    assert tool_turn["content"][0]["tool_use_id"] == claude_call.tool_calls[0].id


def test_the_fakes_refuse_tool_answers_nobody_asked_for() -> None:
    orphan = {"role": "tool", "tool_call_id": "call_x", "content": "sunny"}
    result = {"type": "tool_result", "tool_use_id": "toolu_x", "content": "sunny"}
    unanswered = {"type": "tool_use", "id": "toolu_y", "name": "weather", "input": {}}
    with FakeNim() as nim, FakeAnthropic() as anthropic:
        refused = httpx.post(
            f"{nim.url}/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}, orphan]},
        )
        assert refused.status_code == 400 and "role 'tool'" in refused.text
        headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
        for messages in (
            [{"role": "user", "content": [result]}],
            [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [unanswered]},
                {"role": "user", "content": "and?"},
            ],
        ):
            body = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": messages}
            answer = httpx.post(f"{anthropic.url}/v1/messages", json=body, headers=headers)
            assert answer.status_code == 400 and "tool_" in answer.json()["error"]["message"]
