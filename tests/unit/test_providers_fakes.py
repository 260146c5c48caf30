"""The fake providers run as programs, scripted over HTTP, as e2e tests and benchmarks use them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from grump.errors import ProviderError
from grump.providers.anthropic import AnthropicChat
from grump.providers.http import RetryPolicy
from grump.providers.nim import NimChat
from grump.settings import Settings
from tests.chat import chat_request
from tests.fakes.server import rate_limited

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
