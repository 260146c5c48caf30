"""POST /v1/chat/completions: OpenAI's chat shape, complete enough for agents, plain or streamed.

Tools, tool choices, tool messages, content parts (text, image_url), stop
sequences, response formats, seed and the sampling penalties go into the job's
input as they are (``grump.jobs.models.CompleteInput``). Refused by name, with a
400: ``n`` other than 1, ``logprobs``/``top_logprobs``, the deprecated
``functions``/``function_call`` (send ``tools``), and ``audio`` output.
``stream: true`` answers server-sent events in OpenAI's chunk format (``sse``).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from grump.api.deps import CeleryDep, PrincipalDep, RuntimeDep
from grump.api.eventstream import EventStream, event_stream
from grump.api.frontdoor import final_job, job_headers, job_request, open_stream
from grump.api.openai.errors import openai_router
from grump.api.openai.sse import ChunkEncoder, usage_json
from grump.api.responses import STREAMED_OK
from grump.errors import ValidationFailed
from grump.jobs.models import CompleteJobRequest
from grump.jobs.submit import submit_job_async
from grump.ledger.models import Job
from grump.routing.policy import AUTO_MODEL
from grump.runtime import Runtime

router = openai_router()

_MESSAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name", "cache_control")
_PART_KEYS = ("type", "text", "image_url", "cache_control")
_PASSED = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "seed",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
)
_REFUSED = {
    "logprobs": "log probabilities are not returned by grump",
    "top_logprobs": "log probabilities are not returned by grump",
    "functions": "deprecated by OpenAI: send tools",
    "function_call": "deprecated by OpenAI: send tool_choice",
    "audio": "audio output is not supported",
}


class StreamOptions(BaseModel):
    """``stream_options``: whether a last chunk carries the usage."""

    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionBody(BaseModel):
    """An OpenAI chat completion request; ``model: "auto"`` lets grump route."""

    # OpenAI adds parameters often; the ones grump cannot honour are refused by name.
    model_config = ConfigDict(extra="allow")

    model: str = AUTO_MODEL
    messages: list[dict[str, Any]] = Field(min_length=1)
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = 1
    user: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    stop: str | list[str] | None = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None


def _refuse_unsupported(body: ChatCompletionBody) -> None:
    if body.n not in (None, 1):
        raise ValidationFailed("n", "only one choice per request (n: 1)")
    extra = body.model_extra or {}
    for name, reason in _REFUSED.items():
        if extra.get(name) not in (None, False, [], {}):
            raise ValidationFailed(name, reason)
    for index, tool in enumerate(body.tools or ()):
        if tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
            raise ValidationFailed(f"tools[{index}].type", "only function tools are supported")


def _part(part: Any) -> Any:
    if not isinstance(part, dict):
        return part  # refused by the job's validation, which names it
    kept = {k: v for k, v in part.items() if k in _PART_KEYS}
    if isinstance(kept.get("image_url"), str):
        kept["image_url"] = {"url": kept["image_url"]}
    return kept


def grump_message(message: dict[str, Any]) -> dict[str, Any]:
    """One OpenAI message as a job takes it: ``developer`` as ``system``, extras dropped.

    What a client echoes back from an answer (``refusal``, ``annotations``,
    ``audio``, null ``function_call``) is left out; the rest is validated by the job.
    """
    kept = {k: v for k, v in message.items() if k in _MESSAGE_KEYS and v is not None}
    if kept.get("role") == "developer":
        kept["role"] = "system"
    if isinstance(kept.get("content"), list):
        kept["content"] = [_part(p) for p in kept["content"]]
    return kept


def grump_input(body: ChatCompletionBody) -> dict[str, Any]:
    """The complete job's input for an OpenAI chat completion request."""
    values: dict[str, Any] = {"messages": [grump_message(m) for m in body.messages]}
    # `is None`, not `or`: max_completion_tokens=0 must be refused, not mean "unset".
    max_tokens = (
        body.max_tokens if body.max_completion_tokens is None else body.max_completion_tokens
    )
    if max_tokens is not None:
        values["max_tokens"] = max_tokens
    if body.temperature is not None:
        values["temperature"] = body.temperature
    if body.model != AUTO_MODEL:
        values["model"] = body.model
    for name in _PASSED:
        if getattr(body, name) is not None:
            values[name] = getattr(body, name)
    if body.stop is not None:
        values["stop"] = [body.stop] if isinstance(body.stop, str) else body.stop
    if body.response_format is not None and body.response_format.get("type") != "text":
        values["response_format"] = body.response_format
    if body.stream:
        values["stream"] = True
    return values


@router.post("/chat/completions", response_model=None, responses=STREAMED_OK)
async def chat_completions(
    body: ChatCompletionBody, principal: PrincipalDep, runtime: RuntimeDep, celery: CeleryDep
) -> JSONResponse | EventStream:
    """Create a chat completion, run as a grump job: answered whole once it ends, or streamed."""
    _refuse_unsupported(body)
    request = job_request(CompleteJobRequest, "complete", grump_input(body), body.user)
    done = await submit_job_async(
        runtime, celery, principal.tenant, request, caller=principal.caller
    )
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return await _streamed(runtime, done.job.id, done.job.model or body.model, include_usage)
    job = await final_job(runtime, done.job.id)
    return JSONResponse(chat_completion_json(job), headers=job_headers(job))


async def _streamed(
    runtime: Runtime, job_id: uuid.UUID, model: str, include_usage: bool
) -> EventStream:
    first, rest = await open_stream(runtime, job_id)
    encoder = ChunkEncoder(f"chatcmpl-{job_id.hex}", model, include_usage)
    return event_stream(runtime, job_id, first, rest, encoder)


def chat_completion_json(job: Job) -> dict[str, Any]:
    """A succeeded completion job as OpenAI's ``chat.completion`` object."""
    result = job.result or {}
    message: dict[str, Any] = {"role": "assistant", "content": result.get("content", "")}
    if result.get("tool_calls"):
        message["tool_calls"] = result["tool_calls"]
        message["content"] = result.get("content") or None
    return {
        "id": f"chatcmpl-{job.id.hex}",
        "object": "chat.completion",
        "created": int(job.created_at.timestamp()),
        "model": job.model or result.get("model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": result.get("finish_reason", "stop"),
                "logprobs": None,
            }
        ],
        "usage": usage_json(result),
        "system_fingerprint": None,
    }
