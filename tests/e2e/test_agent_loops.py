"""Agent loops through grump with the official SDKs, end to end: SDK -> API -> worker -> provider.

The providers are the loopback fakes, which speak NIM's and Anthropic's wire
formats (streaming included), answer a tool call when tools are offered and
the user spoke last, and bill Anthropic's prompt cache as Anthropic does. So
these tests see what a coding assistant sees: streamed tool calls assembled
by its own SDK, tool results sent back, cache tokens reported and priced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from anthropic import Anthropic
from openai import OpenAI
from sqlalchemy import select

from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.ledger.money_models import Budget, BudgetPeriod
from grump.money.budget_math import Period
from grump.money.budgets import set_budget
from tests.e2e.live_api import LiveApi, live_api
from tests.fakes.chat import example_arguments

pytestmark = pytest.mark.e2e

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city"],
}
OPENAI_TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "the forecast",
            "parameters": WEATHER_SCHEMA,
        },
    }
]
# Long enough for the fake's (and Sonnet's) 1,024-token minimum cacheable prefix.
LONG_SYSTEM = "You review code for a payments team. " + "Rule: be exact about money. " * 300
EPHEMERAL = {"type": "ephemeral"}


@pytest.fixture(scope="module")
def live(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    with live_api(pg_url, tmp_path_factory.mktemp("grump")) as api:
        yield api


@pytest.fixture(scope="module")
def openai_client(live: LiveApi) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{live.url}/v1", api_key=live.stack.key, max_retries=0) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def anthropic_client(live: LiveApi) -> Iterator[Anthropic]:
    with Anthropic(base_url=live.url, api_key=live.stack.key, max_retries=0) as sdk:
        yield sdk


def _job(live: LiveApi, job_id: str) -> Job:
    (job,) = [j for j in live.stack.jobs() if str(j.id) == job_id]
    return job


def _stream_chat(client: OpenAI, **request: Any) -> tuple[dict[str, Any], str]:
    """A streamed chat completion assembled as an agent does: text, tool calls, finish, usage."""
    raw = client.chat.completions.with_raw_response.create(
        stream=True, stream_options={"include_usage": True}, **request
    )
    text, calls, finish, usage = "", {}, None, None
    for chunk in raw.parse():
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for piece in choice.delta.tool_calls or ():
                call = calls.setdefault(piece.index, {"id": None, "name": "", "arguments": ""})
                call["id"] = piece.id or call["id"]
                if piece.function is not None:
                    call["name"] += piece.function.name or ""
                    call["arguments"] += piece.function.arguments or ""
    answer = {"text": text, "calls": [calls[i] for i in sorted(calls)], "finish": finish}
    answer["usage"] = usage
    return answer, raw.headers["x-grump-job-id"]


def test_an_openai_agent_streams_a_tool_call_from_nim_and_sends_its_result_back(
    openai_client: OpenAI, live: LiveApi
) -> None:
    question = [{"role": "user", "content": "what is the weather in Oslo this week?"}]
    first, first_job = _stream_chat(
        openai_client, model="auto", messages=question, tools=OPENAI_TOOLS, max_tokens=64
    )
    assert first["finish"] == "tool_calls" and first["text"] == ""
    (call,) = first["calls"]
    assert call["name"] == "weather" and call["id"]
    assert json.loads(call["arguments"]) == example_arguments(WEATHER_SCHEMA)
    assert first["usage"] is not None and first["usage"].completion_tokens > 0
    upstream = live.nim.requests[-1].body
    assert upstream["stream"] is True and upstream["tools"] == OPENAI_TOOLS

    turn = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call["id"], "type": "function", "function": call}],
    }
    turn["tool_calls"][0]["function"] = {"name": call["name"], "arguments": call["arguments"]}
    result = {"role": "tool", "tool_call_id": call["id"], "content": "-3C and snow"}
    second, second_job = _stream_chat(
        openai_client,
        model="auto",
        messages=[*question, turn, result],
        tools=OPENAI_TOOLS,
        max_tokens=64,
    )
    assert second["finish"] == "stop" and "-3C and snow" in second["text"]
    sent = live.nim.requests[-1].body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call["id"] and sent[2]["tool_call_id"] == call["id"]
    for job_id in (first_job, second_job):  # each call one job, charged once, not $0
        job = _job(live, job_id)
        assert job.status == "succeeded" and job.cost > 0
        assert len(live.stack.cost_events(job_id)) == 1


def test_an_openai_client_on_claude_gets_anthropics_tool_call_translated(
    openai_client: OpenAI, live: LiveApi
) -> None:
    premium = live.stack.settings.premium_model
    answer, job_id = _stream_chat(
        openai_client,
        model=premium,
        messages=[{"role": "user", "content": "forecast for Bergen please"}],
        tools=OPENAI_TOOLS,
        max_tokens=64,
    )
    assert answer["finish"] == "tool_calls"
    (call,) = answer["calls"]
    assert call["name"] == "weather"
    assert json.loads(call["arguments"]) == example_arguments(WEATHER_SCHEMA)
    upstream = live.anthropic.requests[-1].body
    assert upstream["stream"] is True
    assert upstream["tools"][0]["name"] == "weather"
    assert upstream["tools"][0]["input_schema"] == WEATHER_SCHEMA
    assert _job(live, job_id).result["tool_calls"][0]["id"] == call["id"]  # type: ignore[index]


def _cached_turn(
    client: Anthropic, premium: str, prefix: str, question: str, stream: bool
) -> tuple[Any, str]:
    request: dict[str, Any] = {
        "model": premium,
        "max_tokens": 32,
        # Each test its own prefix: the fake's cache, like Anthropic's, outlives a test.
        "system": [{"type": "text", "text": f"{prefix} {LONG_SYSTEM}", "cache_control": EPHEMERAL}],
        "messages": [{"role": "user", "content": question}],
    }
    if not stream:
        raw = client.messages.with_raw_response.create(**request)
        return raw.parse().usage, raw.headers["x-grump-job-id"]
    with client.messages.stream(**request) as events:
        final = events.get_final_message()
        return final.usage, events.response.headers["x-grump-job-id"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_claudes_prompt_cache_is_written_then_read_and_priced_as_billed(
    anthropic_client: Anthropic, live: LiveApi, stream: bool
) -> None:
    premium = live.stack.settings.premium_model
    price = live.stack.runtime.catalogue.price(premium)
    prefix = "Streamed." if stream else "Whole."
    written, write_job = _cached_turn(anthropic_client, premium, prefix, "first", stream)
    read, read_job = _cached_turn(anthropic_client, premium, prefix, "second", stream)
    assert written.cache_creation_input_tokens > 0 and written.cache_read_input_tokens == 0
    assert read.cache_read_input_tokens == written.cache_creation_input_tokens
    assert live.anthropic.requests[-1].body["system"][0]["cache_control"] == EPHEMERAL
    for usage, job_id in ((written, write_job), (read, read_job)):
        job = _job(live, job_id)
        reads, writes = usage.cache_read_input_tokens, usage.cache_creation_input_tokens
        assert (job.tokens_cache_read, job.tokens_cache_write) == (reads, writes)
        assert job.tokens_in == usage.input_tokens + reads + writes
        expected = price.cost(
            job.tokens_in, usage.output_tokens, cached_tokens_in=reads, cache_write_tokens=writes
        )
        assert job.cost == expected > Decimal(0)
        (event,) = live.stack.cost_events(job_id)
        assert (event.tokens_cache_read, event.tokens_cache_write) == (reads, writes)
    (event,) = live.stack.cost_events(read_job)
    saved = price.cost(read.cache_read_input_tokens) - price.cost(
        read.cache_read_input_tokens, cached_tokens_in=read.cache_read_input_tokens
    )
    assert event.provider_cache_savings == saved > Decimal(0)


def test_grump_places_breakpoints_on_a_claude_request_that_sent_none(
    anthropic_client: Anthropic, live: LiveApi
) -> None:
    premium = live.stack.settings.premium_model
    request: dict[str, Any] = {
        "model": premium,
        "max_tokens": 32,
        "system": f"Unmarked. {LONG_SYSTEM}",
    }
    first = anthropic_client.messages.with_raw_response.create(
        messages=[{"role": "user", "content": "first"}], **request
    )
    sent = live.anthropic.requests[-1].body
    assert sent["system"][-1]["cache_control"]["type"] == "ephemeral"
    stored = _job(live, first.headers["x-grump-job-id"]).input
    assert "cache_control" not in json.dumps(stored)  # the ledger keeps what the client sent
    second = anthropic_client.messages.create(
        messages=[{"role": "user", "content": "second"}], **request
    )
    assert first.parse().usage.cache_creation_input_tokens > 0
    assert second.usage.cache_read_input_tokens == first.parse().usage.cache_creation_input_tokens


def test_a_conversation_is_refused_402_once_its_budget_is_spent_and_never_overruns(
    live: LiveApi,
) -> None:
    key = live.stack.new_key("thrifty")
    limit = Decimal("0.002")
    with session_scope(live.stack.runtime.sessions) as session:
        set_budget(session, "thrifty", None, Period.DAILY, limit, Decimal("0.8"), utcnow())
    messages: list[Any] = [{"role": "user", "content": "let us plan a small refactor"}]
    turns = 0
    with (
        OpenAI(base_url=f"{live.url}/v1", api_key=key, max_retries=0) as client,
        pytest.raises(openai.APIStatusError) as refused,
    ):
        for turns in range(1, 60):  # each turn resends the whole conversation
            answer = client.chat.completions.create(model="auto", messages=messages, max_tokens=200)
            messages += [
                {"role": "assistant", "content": answer.choices[0].message.content},
                {"role": "user", "content": f"and step {turns}?"},
            ]
    assert refused.value.status_code == 402 and turns > 1  # mid-conversation, not at once
    assert refused.value.body["type"] == "insufficient_quota"  # type: ignore[index]
    with live.stack.runtime.sessions() as session:
        (period,) = session.scalars(
            select(BudgetPeriod).join(Budget).where(Budget.tenant == "thrifty")
        )
    assert period.reserved == 0 and Decimal(0) < period.spent <= limit
