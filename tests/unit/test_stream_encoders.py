"""Stream items as OpenAI chunks and Anthropic events, assembled by each SDK's own accumulator."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from anthropic.lib.streaming._messages import accumulate_event
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from grump.api.anthropic.events import EventEncoder
from grump.api.clienterrors import Problem, anthropic_body, openai_body, problem_of
from grump.api.openai.sse import DONE, ChunkEncoder
from grump.errors import (
    BudgetExceeded,
    Forbidden,
    GrumpError,
    ServiceUnavailable,
    Unauthorized,
    UnknownModel,
    ValidationFailed,
)
from grump.jobs.stream import StreamBroken, StreamEnded, StreamItem, TextDelta, ToolCallDelta
from grump.ledger.models import Job

RESULT = {
    "content": "Let me check.",
    "tool_calls": [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
        },
        {"id": "call_b", "type": "function", "function": {"name": "time", "arguments": "{}"}},
    ],
    "finish_reason": "tool_calls",
    "model": "m",
    "usage": {
        "prompt_tokens": 50,
        "completion_tokens": 9,
        "cache_read_input_tokens": 20,
        "cache_creation_input_tokens": 10,
    },
}
ITEMS: list[StreamItem] = [
    TextDelta("Let me "),
    TextDelta("check."),
    ToolCallDelta(index=0, id="call_a", name="weather"),
    ToolCallDelta(index=0, arguments='{"city":'),
    ToolCallDelta(index=0, arguments='"Paris"}'),
    ToolCallDelta(index=1, id="call_b", name="time", arguments="{}"),
]


def ended(result: dict[str, Any] | None = RESULT, status: str = "succeeded") -> StreamEnded:
    job = Job(
        id=uuid.uuid4(), status=status, result=result, model="m", created_at=datetime.now(UTC)
    )
    if status != "succeeded":
        job.error = {"code": "provider_error", "message": "upstream refused"}
    return StreamEnded(job)


def sse_data(raw: list[bytes]) -> list[str]:
    return [
        line.removeprefix(b"data: ").decode()
        for chunk in raw
        for line in chunk.split(b"\n")
        if line.startswith(b"data: ")
    ]


def openai_stream(items: list[StreamItem], include_usage: bool = True) -> list[bytes]:
    encoder = ChunkEncoder("chatcmpl-1", "m", include_usage)
    return encoder.opening() + [chunk for item in items for chunk in encoder.encode(item)]


def test_openai_chunks_assemble_into_text_tool_calls_finish_reason_and_usage() -> None:
    raw = openai_stream([*ITEMS, ended()])
    assert raw[-1] == DONE
    chunks = [ChatCompletionChunk.model_validate(json.loads(d)) for d in sse_data(raw[:-1])]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens_details is not None
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 20
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(chunk)
    final = state.get_final_completion()
    choice = final.choices[0]
    assert choice.message.content == "Let me check."
    assert choice.finish_reason == "tool_calls"
    calls = [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or ()]
    assert calls == [("call_a", "weather", '{"city":"Paris"}'), ("call_b", "time", "{}")]


def test_openai_usage_chunk_only_when_asked() -> None:
    raw = openai_stream(
        [TextDelta("hi"), ended({"content": "hi", "usage": {}})], include_usage=False
    )
    payloads = [json.loads(d) for d in sse_data(raw[:-1])]
    assert all(p["choices"] for p in payloads) and "usage" not in payloads[-1]


def test_openai_stream_that_breaks_or_fails_ends_with_an_error_chunk_and_no_done() -> None:
    for end in (
        StreamBroken(uuid.uuid4(), "worker_lost", "the worker was lost"),
        ended(None, "failed"),
    ):
        raw = openai_stream([TextDelta("partial"), end])
        assert raw[-1] != DONE
        error = json.loads(sse_data(raw)[-1])["error"]
        assert set(error) == {"message", "type", "code", "param"} and error["type"] == "api_error"


def anthropic_events(items: list[StreamItem]) -> list[dict[str, Any]]:
    encoder = EventEncoder("msg_1", "m", input_estimate=12)
    raw = encoder.opening() + [chunk for item in items for chunk in encoder.encode(item)]
    events = []
    for chunk in raw:
        name, data = chunk.decode().strip().split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        events.append(payload)
    return events


def test_anthropic_events_assemble_into_text_and_tool_use_blocks_with_usage() -> None:
    events = anthropic_events([*ITEMS, ended()])
    names = [e["type"] for e in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 3
    snapshot = None
    buffers: dict[int, bytes] = {}
    for event in events:
        if event["type"] != "ping":
            snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=buffers)  # type: ignore[arg-type]
    assert snapshot is not None
    blocks = [block.model_dump(exclude_none=True) for block in snapshot.content]
    assert blocks[0] == {"type": "text", "text": "Let me check."}
    assert blocks[1]["type"] == "tool_use" and blocks[1]["input"] == {"city": "Paris"}
    assert (blocks[2]["id"], blocks[2]["name"], blocks[2]["input"]) == ("call_b", "time", {})
    assert snapshot.stop_reason == "tool_use"
    assert snapshot.usage.output_tokens == 9
    assert snapshot.usage.input_tokens == 20  # the final usage replaces the estimate
    assert snapshot.usage.cache_read_input_tokens == 20


def test_anthropic_stream_that_breaks_ends_with_an_error_event() -> None:
    events = anthropic_events(
        [TextDelta("x"), StreamBroken(uuid.uuid4(), "timeout", "still running")]
    )
    assert events[-1] == {
        "type": "error",
        "error": {"type": "api_error", "message": "still running"},
    }


def test_grump_errors_map_to_each_clients_status_and_type() -> None:
    class Throttled(GrumpError):
        status_code = 429
        code = "rate_limited"

    cases = [
        (BudgetExceeded("over budget"), 402, "insufficient_quota", "billing_error"),
        (UnknownModel("nope"), 404, "not_found_error", "not_found_error"),
        (
            ValidationFailed("temperature", "too hot"),
            400,
            "invalid_request_error",
            "invalid_request_error",
        ),
        (Throttled("slow down", retry_after=2.2), 429, "rate_limit_error", "rate_limit_error"),
        (ServiceUnavailable("down", retry_after=7), 503, "api_error", "api_error"),
        (Forbidden("needs an admin key"), 403, "permission_error", "permission_error"),
        (Unauthorized("no key"), 401, "authentication_error", "authentication_error"),
    ]
    for exc, status, openai_type, anthropic_type in cases:
        problem = problem_of(exc)
        assert problem.status == status
        assert openai_body(problem)["error"]["type"] == openai_type
        assert anthropic_body(problem)["error"]["type"] == anthropic_type
    assert problem_of(Throttled("slow", retry_after=2.2)).headers == {"Retry-After": "2"}
    assert problem_of(ServiceUnavailable("down", retry_after=7)).headers == {"Retry-After": "7"}
    assert problem_of(ValidationFailed("temperature", "too hot")).param == "temperature"
    assert (
        anthropic_body(Problem(413, "big", "payload_too_large"))["error"]["type"]
        == "request_too_large"
    )
