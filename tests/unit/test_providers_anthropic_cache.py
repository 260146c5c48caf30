"""Prompt caching end to end: cache_control reaches Anthropic on its block, and the bill shows it.

The fake Anthropic bills its prompt cache as Anthropic does (a prefix up to a
breakpoint, at least 1024 tokens for Sonnet, 2048 for Haiku, five minutes or
an hour, renewed by each hit); the provider reads the split back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from grump.errors import ProviderError
from grump.jobs.models import CompleteInput
from grump.providers.anthropic import AnthropicChat
from grump.providers.base import ChatRequest, ChatResult
from grump.providers.http import RetryPolicy
from grump.settings import Settings
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.nim import count_tokens

EPHEMERAL = {"type": "ephemeral"}
RULES = " ".join(f"rule{i}" for i in range(1100))  # 1100 tokens to the fake: cacheable on Sonnet
SHORT = " ".join(f"rule{i}" for i in range(500))


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key="k") as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    server.reset()
    return server


def ask(
    fake: FakeAnthropic, *messages: dict[str, Any], model: str = "claude-sonnet-4-5", **fields: Any
) -> ChatResult:
    chat = CompleteInput.model_validate({"messages": list(messages), "max_tokens": 20, **fields})
    settings = Settings(anthropic_url=fake.url, anthropic_api_key="k")
    with AnthropicChat(settings, retry=RetryPolicy(attempts=1)) as provider:
        return provider.complete(ChatRequest(model=model, input=chat))


def system(text: str, **cache: Any) -> dict[str, Any]:
    return {"role": "system", "content": [{"type": "text", "text": text, **cache}]}


def user(text: str, **cache: Any) -> dict[str, Any]:
    return {"role": "user", "content": text, **cache}


def split(result: ChatResult) -> tuple[int, int, int]:
    """(uncached, written, read) input tokens."""
    written, read = result.tokens_cache_write, result.tokens_cache_read
    return result.tokens_in - written - read, written, read


def test_a_marked_system_prompt_is_written_then_read(fake: FakeAnthropic) -> None:
    first = ask(fake, system(RULES, cache_control=EPHEMERAL), user("first question"))
    second = ask(fake, system(RULES, cache_control=EPHEMERAL), user("another question here"))
    assert split(first) == (2, 1100, 0)
    assert split(second) == (3, 0, 1100)
    assert fake.requests[0].body["system"] == [
        {"type": "text", "text": RULES, "cache_control": EPHEMERAL}
    ]


def test_the_cache_expires_after_five_minutes_unless_hit(fake: FakeAnthropic) -> None:
    marked = system(RULES, cache_control=EPHEMERAL)
    ask(fake, marked, user("q"))
    fake.advance(240)
    assert split(ask(fake, marked, user("q")))[2] == 1100  # a hit renews the entry
    fake.advance(240)
    assert split(ask(fake, marked, user("q")))[2] == 1100
    fake.advance(301)
    assert split(ask(fake, marked, user("q"))) == (1, 1100, 0)  # gone: written again


def test_an_hour_long_breakpoint_outlives_five_minutes(fake: FakeAnthropic) -> None:
    marked = system(RULES, cache_control={"type": "ephemeral", "ttl": "1h"})
    ask(fake, marked, user("q"))
    fake.advance(1800)
    assert split(ask(fake, marked, user("q")))[2] == 1100


@pytest.mark.parametrize(
    ("model", "text"), [("claude-sonnet-4-5", SHORT), ("claude-haiku-4-5", RULES)]
)
def test_a_prefix_below_the_models_minimum_is_not_cached(
    fake: FakeAnthropic, model: str, text: str
) -> None:
    for _ in range(2):
        result = ask(fake, system(text, cache_control=EPHEMERAL), user("q"), model=model)
        assert (result.tokens_cache_write, result.tokens_cache_read) == (0, 0)
        assert result.tokens_in == count_tokens(text) + 1


def test_without_a_breakpoint_nothing_is_cached(fake: FakeAnthropic) -> None:
    ask(fake, system(RULES), user("q"))
    assert split(ask(fake, system(RULES), user("q"))) == (1101, 0, 0)


def test_a_growing_conversation_reads_its_last_prefix_and_writes_the_new_turns(
    fake: FakeAnthropic,
) -> None:
    turn_one = [system(RULES), user("what does rule7 say", cache_control=EPHEMERAL)]
    first = ask(fake, *turn_one)
    assert split(first) == (0, 1104, 0)
    unmarked = [system(RULES), user("what does rule7 say")]
    turn_two = [
        *unmarked,
        {"role": "assistant", "content": "it says hello"},
        user("and rule8", cache_control=EPHEMERAL),
    ]
    second = ask(fake, *turn_two)
    # the old breakpoint is within Anthropic's 20-block lookback of the new one
    assert split(second) == (0, 5, 1104)


def test_tools_are_the_start_of_the_prefix_and_keep_their_mark(fake: FakeAnthropic) -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string", "description": RULES}}}
    tools = [
        {
            "type": "function",
            "function": {"name": "search", "parameters": schema},
            "cache_control": EPHEMERAL,
        }
    ]
    first = ask(fake, user("hello"), tools=tools, tool_choice="none")
    second = ask(fake, user("hello again"), tools=tools, tool_choice="none")
    assert fake.requests[0].body["tools"][0]["cache_control"] == EPHEMERAL
    assert first.tokens_cache_write == second.tokens_cache_read > 1100
    assert first.tokens_cache_read == second.tokens_cache_write == 0


def test_a_streamed_answer_reports_the_same_cache_split(fake: FakeAnthropic) -> None:
    messages = [system(RULES, cache_control=EPHEMERAL), user("q")]
    chat = CompleteInput.model_validate({"messages": messages, "max_tokens": 20})
    request = ChatRequest(model="claude-sonnet-4-5", input=chat)
    settings = Settings(anthropic_url=fake.url, anthropic_api_key="k")
    with AnthropicChat(settings, retry=RetryPolicy(attempts=1)) as provider:
        *_, written = provider.stream(request)
        *_, read = provider.stream(request)
    assert isinstance(written, ChatResult) and isinstance(read, ChatResult)
    assert (split(written), split(read)) == ((1, 1100, 0), (1, 0, 1100))


def test_more_than_four_breakpoints_are_refused_as_anthropic_refuses_them(
    fake: FakeAnthropic,
) -> None:
    parts = [{"type": "text", "text": f"part {i}", "cache_control": EPHEMERAL} for i in range(5)]
    with pytest.raises(ProviderError, match="A maximum of 4 blocks with cache_control"):
        ask(fake, {"role": "user", "content": parts})


def test_the_one_hour_ttl_beta_is_asked_for_only_when_a_breakpoint_uses_it() -> None:
    from grump.providers.anthropic import EXTENDED_CACHE_TTL_BETA, beta_headers

    short = {"system": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}]}
    long = {"messages": [{"content": [{"cache_control": {"type": "ephemeral", "ttl": "1h"}}]}]}
    assert beta_headers(short) is None and beta_headers({}) is None
    assert beta_headers(long) == {"anthropic-beta": EXTENDED_CACHE_TTL_BETA}
