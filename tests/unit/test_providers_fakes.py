"""The fake providers run as programs, scripted over HTTP, as e2e tests and benchmarks use them."""

from __future__ import annotations

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
