"""The Anthropic provider against a fake Messages API on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from grump.errors import ProviderError, ProviderTransient
from grump.providers.anthropic import AnthropicChat
from grump.providers.http import RetryPolicy
from grump.settings import Settings
from tests.chat import chat_request
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.nim import count_tokens
from tests.fakes.server import failure, malformed, rate_limited, reply, server_error

API_KEY = "sk-ant-test"
VERSION = "2023-06-01"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=2.0)

REQUEST = chat_request(
    "claude-sonnet-4-5",
    ("system", "Be brief."),
    ("system", "Answer in English."),
    ("user", "name a prime"),
    ("assistant", "seven"),
    ("user", "another one please"),
    max_tokens=100,
    temperature=0.5,
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=API_KEY) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    server.reset()
    return server


def client(url: str, retry: RetryPolicy = FAST, api_key: str = API_KEY) -> AnthropicChat:
    settings = Settings(
        anthropic_url=url,
        anthropic_api_key=api_key,
        anthropic_version=VERSION,
        provider_timeout_seconds=2.0,
        provider_connect_timeout_seconds=1.0,
    )
    return AnthropicChat(settings, retry=retry)


def test_a_completion_carries_content_usage_and_finish_reason(fake: FakeAnthropic) -> None:
    with client(fake.url) as chat:
        result = chat.complete(REQUEST)
    assert result.content == "echo: another one please"
    assert result.provider == "anthropic" == chat.name
    assert result.model == "claude-sonnet-4-5"
    assert result.finish_reason == "stop"  # end_turn, in grump's words
    prompt = " ".join(m.content for m in REQUEST.messages)
    assert result.tokens_in == count_tokens(prompt)
    assert result.tokens_out == count_tokens(result.content)


def test_system_messages_go_to_the_top_level_field(fake: FakeAnthropic) -> None:
    with client(fake.url) as chat:
        chat.complete(REQUEST)
    [sent] = fake.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == API_KEY
    assert sent.headers["anthropic-version"] == VERSION
    assert sent.body["system"] == "Be brief.\n\nAnswer in English."
    assert sent.body["messages"] == [
        {"role": "user", "content": "name a prime"},
        {"role": "assistant", "content": "seven"},
        {"role": "user", "content": "another one please"},
    ]
    assert (sent.body["max_tokens"], sent.body["temperature"]) == (100, 0.5)


def test_no_system_message_sends_no_system_field(fake: FakeAnthropic) -> None:
    request = chat_request("m", ("user", "hi"), max_tokens=5)
    with client(fake.url) as chat:
        chat.complete(request)
    assert "system" not in fake.requests[0].body


def test_temperature_above_anthropics_range_is_clamped(fake: FakeAnthropic) -> None:
    request = chat_request("m", ("user", "hi"), max_tokens=5, temperature=1.7)
    with client(fake.url) as chat:
        chat.complete(request)
    assert fake.requests[0].body["temperature"] == 1.0


def test_running_out_of_tokens_is_length(fake: FakeAnthropic) -> None:
    request = chat_request("m", ("user", "a b c d e"), max_tokens=3)
    with client(fake.url) as chat:
        result = chat.complete(request)
    assert (result.finish_reason, result.tokens_out) == ("length", 3)


def test_text_blocks_are_joined_and_other_blocks_skipped(fake: FakeAnthropic) -> None:
    fake.script(
        reply(
            {
                "type": "message",
                "model": "claude-sonnet-4-5",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "Eleven, "},
                    {"type": "text", "text": "also thirteen."},
                ],
                "stop_reason": "stop_sequence",
                "usage": {"input_tokens": 21, "output_tokens": 9},
            }
        )
    )
    with client(fake.url) as chat:
        result = chat.complete(REQUEST)
    assert result.content == "Eleven, also thirteen."
    assert (result.tokens_in, result.tokens_out, result.finish_reason) == (21, 9, "stop")


def test_a_base_url_ending_in_v1_is_accepted(fake: FakeAnthropic) -> None:
    with client(fake.url + "/v1/") as chat:
        chat.complete(REQUEST)
    assert fake.requests[0].path == "/v1/messages"


def test_overloaded_and_rate_limited_are_retried(fake: FakeAnthropic) -> None:
    fake.script(server_error("anthropic", 529), rate_limited("anthropic"))
    with client(fake.url) as chat:
        assert chat.complete(REQUEST).content.startswith("echo:")
    assert fake.call_count == 3


def test_retry_after_is_honoured(fake: FakeAnthropic) -> None:
    fake.script(rate_limited("anthropic", retry_after="7"))
    sleeps: list[float] = []
    retry = RetryPolicy(attempts=2, base_delay=0.01, max_delay=10.0, sleep=sleeps.append)
    with client(fake.url, retry) as chat:
        chat.complete(REQUEST)
    assert fake.call_count == 2
    assert 7.0 <= sleeps[0] < 7.1


def test_persistent_overload_ends_transient(fake: FakeAnthropic) -> None:
    fake.script(*[server_error("anthropic", 529) for _ in range(FAST.attempts)])
    with client(fake.url) as chat, pytest.raises(ProviderTransient) as caught:
        chat.complete(REQUEST)
    assert fake.call_count == FAST.attempts
    assert caught.value.details == {"provider": "anthropic", "status": 529}


def test_an_invalid_request_fails_at_once_with_anthropics_message(fake: FakeAnthropic) -> None:
    fake.script(failure(400, "messages: roles must alternate", "anthropic"))
    with client(fake.url) as chat, pytest.raises(ProviderError) as caught:
        chat.complete(REQUEST)
    assert fake.call_count == 1
    assert caught.value.message == "messages: roles must alternate"


def test_a_bad_key_is_not_retried(fake: FakeAnthropic) -> None:
    with client(fake.url, api_key="sk-ant-wrong") as chat, pytest.raises(ProviderError) as caught:
        chat.complete(REQUEST)
    assert (fake.call_count, caught.value.message) == (1, "invalid x-api-key")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"content": "just a string"}',
        b'{"content": [{"type": "text"}]}',
        b'{"content": ["text"]}',
    ],
)
def test_malformed_answers_are_a_provider_error(fake: FakeAnthropic, body: bytes) -> None:
    fake.script(malformed(body))
    with client(fake.url) as chat, pytest.raises(ProviderError, match="malformed"):
        chat.complete(REQUEST)
    assert fake.call_count == 1


def test_a_timeout_is_transient_after_retries(fake: FakeAnthropic) -> None:
    settings = Settings(
        anthropic_url=fake.url,
        anthropic_api_key=API_KEY,
        provider_timeout_seconds=0.1,
    )
    fake.latency_ms = 300
    try:
        with (
            AnthropicChat(settings, retry=RetryPolicy(attempts=2, base_delay=0.01)) as chat,
            pytest.raises(ProviderTransient, match="timed out"),
        ):
            chat.complete(REQUEST)
    finally:
        fake.latency_ms = 0
    assert fake.call_count == 2
