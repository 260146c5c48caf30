"""The official OpenAI SDK, sync and async, against a running grump API (uvicorn), Redis, Postgres and a worker."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from tests.e2e.live_api import (
    DOWN_RETRY_AFTER,
    LiveApi,
    down_api,
    live_api,
    refused_by_the_provider,
)
from tests.fakes.nim import count_tokens

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    with live_api(pg_url, tmp_path_factory.mktemp("grump"), max_body_bytes=65_536) as api:
        yield api


@pytest.fixture(scope="module")
def client(live: LiveApi) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{live.url}/v1", api_key=live.stack.key, max_retries=0) as sdk:
        yield sdk


def test_chat_completions_with_model_auto(client: OpenAI, live: LiveApi) -> None:
    prompt = "name three colours"
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": prompt}],
        max_tokens=20,
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == f"echo: {prompt}"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == live.stack.settings.economy_model  # routed: a simple prompt goes economy
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == count_tokens(f"be brief {prompt}")
    assert answer.usage.completion_tokens == count_tokens(f"echo: {prompt}")
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.usage.prompt_tokens_details is not None
    assert answer.usage.prompt_tokens_details.cached_tokens == 0
    assert len(live.stack.cost_events(raw.headers["x-grump-job-id"])) == 1


def test_a_streamed_completion_arrives_as_chunks_then_usage(client: OpenAI, live: LiveApi) -> None:
    prompt = "stream me a short poem"
    with client.chat.completions.with_streaming_response.create(
        model="auto",
        messages=[{"role": "user", "content": prompt}],
        max_tokens=20,
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        job_id = response.headers["x-grump-job-id"]
        chunks = list(response.parse())
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"echo: {prompt}"
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.completion_tokens == count_tokens(f"echo: {prompt}")
    assert len(live.stack.cost_events(job_id)) == 1


def test_tools_tool_results_and_agent_parameters_are_accepted(
    client: OpenAI, live: LiveApi
) -> None:
    tools: list[Any] = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "today's weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    messages: list[Any] = [
        {"role": "developer", "content": "use tools"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "weather where this photo was taken?"},
                {"type": "image_url", "image_url": {"url": "https://example.test/p.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "-3C and snow"},
    ]
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=messages,
        tools=tools,
        tool_choice="auto",
        parallel_tool_calls=False,
        stop=["\n\n"],
        response_format={"type": "json_object"},
        seed=7,
        top_p=0.5,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        max_completion_tokens=30,
    )
    assert raw.parse().choices[0].message.content == "echo: -3C and snow"
    (job,) = [j for j in live.stack.jobs() if str(j.id) == raw.headers["x-grump-job-id"]]
    stored = job.input
    assert stored["tools"] == tools and stored["tool_choice"] == "auto"
    assert stored["parallel_tool_calls"] is False and stored["stop"] == ["\n\n"]
    assert stored["response_format"] == {"type": "json_object"}
    assert (stored["seed"], stored["top_p"], stored["max_tokens"]) == (7, 0.5, 30)
    assert [m["role"] for m in stored["messages"]] == ["system", "user", "assistant", "tool"]
    assert stored["messages"][2]["tool_calls"][0]["id"] == "call_1"
    assert stored["messages"][1]["content"][1]["image_url"] == {"url": "https://example.test/p.png"}


def test_the_async_client_plain_and_streamed(live: LiveApi) -> None:
    async def run() -> tuple[str | None, str]:
        async with AsyncOpenAI(
            base_url=f"{live.url}/v1", api_key=live.stack.key, max_retries=0
        ) as sdk:
            message = [{"role": "user", "content": "async hello"}]
            plain = await sdk.chat.completions.create(model="auto", messages=message)  # type: ignore[arg-type]
            stream = await sdk.chat.completions.create(model="auto", messages=message, stream=True)  # type: ignore[arg-type]
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            return plain.choices[0].message.content, text

    assert asyncio.run(run()) == ("echo: async hello", "echo: async hello")


def test_a_caller_leaving_mid_stream_leaves_one_job_charged_once(
    client: OpenAI, live: LiveApi
) -> None:
    stream = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "leave early"}], stream=True
    )
    job_id = stream.response.headers["x-grump-job-id"]
    next(iter(stream))
    stream.close()
    job = live.stack.wait(job_id)
    assert job["status"] == "succeeded"
    assert len(live.stack.cost_events(job_id)) == 1


def test_embeddings_in_both_encodings(client: OpenAI) -> None:
    floats = client.embeddings.create(
        model="auto", input=["first text", "second"], dimensions=32, encoding_format="float"
    )
    packed = client.embeddings.create(
        model="auto", input=["first text", "second"], dimensions=32, encoding_format="base64"
    )
    assert [len(d.embedding) for d in floats.data] == [32, 32]
    assert [d.index for d in floats.data] == [0, 1]
    # Asked for explicitly, base64 comes back as sent: little-endian float32.
    raw = base64.b64decode(str(packed.data[0].embedding))
    unpacked = np.frombuffer(raw, dtype="<f4").tolist()
    assert unpacked == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert floats.usage.prompt_tokens == count_tokens("first text second")
    assert floats.usage.total_tokens == floats.usage.prompt_tokens


def test_errors_arrive_as_the_sdks_exceptions(client: OpenAI, live: LiveApi) -> None:
    message: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=message)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="auto", messages=message, temperature=5)
    assert bad.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as choices:
        client.chat.completions.create(model="auto", messages=message, n=2)
    assert choices.value.param == "n"
    intruder = client.with_options(api_key="not-a-key")
    with pytest.raises(openai.AuthenticationError):
        intruder.chat.completions.create(model="auto", messages=message)
    broke = client.with_options(api_key=live.broke_key())
    with pytest.raises(openai.APIStatusError) as refused:
        broke.chat.completions.create(model="auto", messages=message, stream=True)
    assert refused.value.status_code == 402 and refused.value.code == "budget_exceeded"
    assert refused.value.type == "insufficient_quota"
    with pytest.raises(openai.APIStatusError) as large:
        client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "x" * 70_000}]
        )
    assert large.value.status_code == 413 and large.value.code == "payload_too_large"
    with pytest.raises(openai.APIStatusError) as too_large:
        client.embeddings.create(model="auto", input="x" * 70_000)
    assert too_large.value.status_code == 413 and too_large.value.type == "invalid_request_error"


def test_an_outage_is_an_internal_server_error_with_retry_after(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with (
        down_api(tmp_path_factory.mktemp("down")) as url,
        OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0) as sdk,
        pytest.raises(openai.InternalServerError) as down,
    ):
        sdk.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert down.value.status_code == 503
    assert down.value.response.headers["retry-after"] == str(DOWN_RETRY_AFTER)


def test_a_json_body_without_its_content_type_is_read_as_json(live: LiveApi) -> None:
    body = '{"model": "auto", "messages": [{"role": "user", "content": "form typed"}]}'
    headers = {
        "Authorization": f"Bearer {live.stack.key}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    answer = httpx.post(
        f"{live.url}/v1/chat/completions", content=body, headers=headers, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "echo: form typed"
    refused = httpx.post(f"{live.url}/v1/chat/completions", content="a=1&b=2", headers=headers)
    assert refused.status_code == 415
    error = refused.json()["error"]
    assert (
        "Content-Type: application/json" in error["message"]
        and error["type"] == "invalid_request_error"
    )


def test_a_job_the_provider_refused_is_an_internal_server_error(
    client: OpenAI, live: LiveApi
) -> None:
    for stream in refused_by_the_provider(live):
        with pytest.raises(openai.InternalServerError) as failed:
            client.chat.completions.create(
                model="auto",
                messages=[{"role": "user", "content": f"refused {stream}"}],
                stream=stream,
            )
        assert failed.value.status_code == 502  # the job failed before the stream started
        assert failed.value.response.headers["x-grump-job-id"]
