"""The official Anthropic SDK, sync and async, against a running grump API (uvicorn), Redis, Postgres and a worker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic import Anthropic, AsyncAnthropic

from tests.e2e.live_api import (
    DOWN_RETRY_AFTER,
    LiveApi,
    down_api,
    live_api,
    refused_by_the_provider,
)
from tests.fakes.nim import count_tokens

pytestmark = pytest.mark.e2e
EPHEMERAL = {"type": "ephemeral"}


@pytest.fixture(scope="module")
def live(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    with live_api(pg_url, tmp_path_factory.mktemp("grump"), max_body_bytes=65_536) as api:
        yield api


@pytest.fixture(scope="module")
def client(live: LiveApi) -> Iterator[Anthropic]:
    # As a client configured by ANTHROPIC_BASE_URL: the key goes in x-api-key.
    with Anthropic(base_url=live.url, api_key=live.stack.key, max_retries=0) as sdk:
        yield sdk


def job_input(live: LiveApi, job_id: str) -> dict[str, Any]:
    (job,) = [j for j in live.stack.jobs() if str(j.id) == job_id]
    return job.input


def test_a_message_routed_by_auto_with_x_api_key(client: Anthropic, live: LiveApi) -> None:
    raw = client.messages.with_raw_response.create(
        model="auto",
        max_tokens=20,
        system="be brief",
        messages=[{"role": "user", "content": "name three colours"}],
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    message = raw.parse()
    assert message.id.startswith("msg_") and message.role == "assistant"
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [
        ("text", "echo: name three colours")
    ]
    assert message.stop_reason == "end_turn"
    assert message.model == live.stack.settings.economy_model
    assert message.usage.input_tokens == count_tokens("be brief name three colours")
    assert message.usage.output_tokens == count_tokens("echo: name three colours")
    assert message.usage.cache_read_input_tokens == 0
    assert len(live.stack.cost_events(raw.headers["x-grump-job-id"])) == 1


def test_a_pinned_model_keeps_cache_control_on_system_tools_and_messages(
    client: Anthropic, live: LiveApi
) -> None:
    premium = live.stack.settings.premium_model
    raw = client.messages.with_raw_response.create(
        model=premium,
        max_tokens=20,
        system=[{"type": "text", "text": "a long shared prefix", "cache_control": EPHEMERAL}],
        tools=[
            {
                "name": "weather",
                "description": "today's weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                "cache_control": EPHEMERAL,
            }
        ],
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "hello", "cache_control": EPHEMERAL}],
            }
        ],
    )
    assert raw.parse().model == premium
    stored = job_input(live, raw.headers["x-grump-job-id"])
    assert stored["model"] == premium
    assert stored["messages"][0]["content"][0]["cache_control"] == EPHEMERAL
    assert stored["messages"][1]["content"][0]["cache_control"] == EPHEMERAL
    assert stored["tools"][0]["cache_control"] == EPHEMERAL
    assert stored["tools"][0]["function"]["name"] == "weather"


def test_tool_use_and_tool_results_are_accepted(client: Anthropic, live: LiveApi) -> None:
    raw = client.messages.with_raw_response.create(
        model="auto",
        max_tokens=20,
        tools=[{"name": "weather", "input_schema": {"type": "object"}}],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        stop_sequences=["END"],
        messages=[
            {"role": "user", "content": "weather in Oslo?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "weather",
                        "input": {"city": "Oslo"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "-3C"}],
            },
        ],
    )
    assert raw.parse().content[0].type == "text"
    stored = job_input(live, raw.headers["x-grump-job-id"])
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "tool"]
    call = stored["messages"][1]["tool_calls"][0]
    assert call == {
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
    }
    assert stored["messages"][2]["tool_call_id"] == "toolu_1"
    assert (stored["tool_choice"], stored["parallel_tool_calls"], stored["stop"]) == (
        "auto",
        False,
        ["END"],
    )


def test_a_streamed_message_arrives_as_anthropics_events(client: Anthropic, live: LiveApi) -> None:
    prompt = "stream me a short poem"
    with client.messages.stream(
        model="auto", max_tokens=20, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        job_id = stream.response.headers["x-grump-job-id"]
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == f"echo: {prompt}"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == count_tokens(f"echo: {prompt}")
    assert final.usage.input_tokens == count_tokens(prompt)
    assert len(live.stack.cost_events(job_id)) == 1


def test_the_async_client_plain_and_streamed_with_a_bearer_key(live: LiveApi) -> None:
    async def run() -> tuple[str, str]:
        async with AsyncAnthropic(
            base_url=live.url, auth_token=live.stack.key, max_retries=0
        ) as sdk:
            messages: Any = [{"role": "user", "content": "async hello"}]
            plain = await sdk.messages.create(model="auto", max_tokens=20, messages=messages)
            async with sdk.messages.stream(
                model="auto", max_tokens=20, messages=messages
            ) as stream:
                text = "".join([piece async for piece in stream.text_stream])
            block = plain.content[0]
            return (block.text if block.type == "text" else ""), text

    assert asyncio.run(run()) == ("echo: async hello", "echo: async hello")


def test_count_tokens_answers_an_estimate(client: Anthropic) -> None:
    counted = client.messages.count_tokens(
        model="auto", system="be brief", messages=[{"role": "user", "content": "hello there"}]
    )
    # About four characters a token, plus four for each message's framing.
    assert (
        counted.input_tokens == (len("be brief") + 3) // 4 + 4 + (len("hello there") + 3) // 4 + 4
    )


def test_errors_arrive_as_the_sdks_exceptions(client: Anthropic, live: LiveApi) -> None:
    messages: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="claude-no-such-model", max_tokens=8, messages=messages)
    assert missing.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": missing.value.body["error"]["message"]},  # type: ignore[index]
    }
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(
            model="auto", max_tokens=8, messages=messages, extra_body={"temperature": 5}
        )
    assert "temperature" in bad.value.message
    with pytest.raises(anthropic.AuthenticationError):
        client.with_options(api_key="not-a-key").messages.create(
            model="auto", max_tokens=8, messages=messages
        )
    with pytest.raises(anthropic.PaymentRequiredError) as refused:
        client.with_options(api_key=live.broke_key()).messages.create(
            model="auto", max_tokens=8, messages=messages
        )
    assert refused.value.body["error"]["type"] == "billing_error"  # type: ignore[index]
    with pytest.raises(anthropic.ContentTooLargeError):
        client.messages.create(
            model="auto", max_tokens=8, messages=[{"role": "user", "content": "x" * 70_000}]
        )


def test_an_outage_is_a_service_unavailable_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    with (
        down_api(tmp_path_factory.mktemp("down")) as url,
        Anthropic(base_url=url, api_key="k", max_retries=0) as sdk,
        pytest.raises(anthropic.ServiceUnavailableError) as down,
    ):
        sdk.messages.create(
            model="auto", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert down.value.response.headers["retry-after"] == str(DOWN_RETRY_AFTER)


def test_a_form_typed_json_body_is_read_and_other_bodies_get_415(live: LiveApi) -> None:
    body = '{"model": "auto", "max_tokens": 8, "messages": [{"role": "user", "content": "curl"}]}'
    headers = {"x-api-key": live.stack.key, "content-type": "application/x-www-form-urlencoded"}
    answer = httpx.post(f"{live.url}/v1/messages", content=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"] == [{"type": "text", "text": "echo: curl"}]
    refused = httpx.post(f"{live.url}/v1/messages", content="not json", headers=headers)
    assert refused.status_code == 415
    assert refused.json()["type"] == "error"
    assert "Content-Type: application/json" in refused.json()["error"]["message"]


def test_a_job_the_provider_refused_is_an_internal_server_error(
    client: Anthropic, live: LiveApi
) -> None:
    for stream in refused_by_the_provider(live):
        with pytest.raises(anthropic.InternalServerError) as failed:
            client.messages.create(
                model="auto",
                max_tokens=8,
                messages=[{"role": "user", "content": f"refused {stream}"}],
                stream=stream,
            )
        assert failed.value.status_code == 502
        assert failed.value.body["type"] == "error"  # type: ignore[index]
