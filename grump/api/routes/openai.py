"""OpenAI-compatible front door: POST /v1/chat/completions and POST /v1/embeddings.

Each call is an ordinary grump job (routing, budgets, cache, coalescing, the
ledger all apply): it is submitted, then awaited on the event loop, at no thread
per caller (woken by the worker's commit, ``grump.jobs.waiters``), for at most
``GRUMP_OPENAI_WAIT_SECONDS``, and answered in OpenAI's shapes.
``model: "auto"`` (or no model) lets grump route. Errors use OpenAI's shape
``{"error": {"message", "type", "code", "param"}}`` so its SDKs report them.
The job behind an answer is named in the ``x-grump-job-id`` header.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

import numpy as np
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grump.api.deps import CeleryDep, PrincipalDep, RuntimeDep
from grump.api.errors import describe
from grump.api.responses import OPENAI_ERROR_RESPONSES
from grump.errors import GrumpError, ServiceUnavailable, UnknownModel, ValidationFailed
from grump.jobs.models import CompleteJobRequest, EmbedJobRequest, JobStatus
from grump.jobs.submit import submit_job_async
from grump.jobs.waiters import await_final
from grump.ledger.models import Job
from grump.routing.policy import AUTO_MODEL
from grump.runtime import Runtime

_TYPES = {
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
_Request = TypeVar("_Request", CompleteJobRequest, EmbedJobRequest)


def openai_error(
    status: int, message: str, code: str, param: str | None = None, **headers: str
) -> JSONResponse:
    """An error answer in OpenAI's shape, its ``type`` taken from the status."""
    kind = _TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    body = {"error": {"message": message, "type": kind, "code": code, "param": param}}
    return JSONResponse(body, status_code=status, headers=headers or None)


def _from_grump(exc: GrumpError) -> JSONResponse:
    if isinstance(exc, UnknownModel):
        return openai_error(404, exc.message, "model_not_found", "model")
    if isinstance(exc, ServiceUnavailable):
        return openai_error(503, exc.message, exc.code, **{"Retry-After": str(exc.retry_after)})
    status = 400 if exc.status_code == 422 else exc.status_code
    return openai_error(status, exc.message, exc.code, exc.details.get("field"))


class OpenAIRoute(APIRoute):
    """Every failure of these routes, dependencies included, in OpenAI's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, answering validation, grump and HTTP errors in OpenAI's shape."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                first = describe(exc.errors()[0]) if exc.errors() else {"field": "body"}
                message = f"{first['field']}: {first.get('reason', 'invalid')}"
                return openai_error(400, message, "invalid_request", first["field"])
            except GrumpError as exc:
                return _from_grump(exc)
            except HTTPException as exc:  # a body that is not JSON at all
                return openai_error(exc.status_code, str(exc.detail), "invalid_request")

        return answer


router = APIRouter(
    prefix="/v1", tags=["openai"], route_class=OpenAIRoute, responses=OPENAI_ERROR_RESPONSES
)


class _Body(BaseModel):
    # OpenAI adds parameters often; the ones grump cannot honour are refused by name below.
    model_config = ConfigDict(extra="allow")


class TextPart(BaseModel):
    """One text part of a message's content."""

    type: Literal["text"]
    text: str


class ChatMessageIn(BaseModel):
    """One chat message as OpenAI's clients send it: a role and text, whole or in parts."""

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    def as_grump(self) -> dict[str, str]:
        """The message as a grump job takes it: text in one piece, ``developer`` as ``system``."""
        text = (
            self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        )
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class ChatCompletionBody(_Body):
    """An OpenAI chat completion request; ``model: "auto"`` lets grump route."""

    model: str = AUTO_MODEL
    messages: list[ChatMessageIn] = Field(min_length=1)
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    n: int = 1
    user: str | None = None


class EmbeddingsBody(_Body):
    """An OpenAI embeddings request; ``model: "auto"`` uses grump's embedding model."""

    model: str = AUTO_MODEL
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    input_type: Literal["query", "passage"] = "passage"  # NIM's extension for asymmetric models
    user: str | None = None


_UNSUPPORTED = ("tools", "functions", "tool_choice", "logprobs", "response_format", "stop")


def _refuse_unsupported(body: ChatCompletionBody) -> None:
    if body.stream:
        raise ValidationFailed("stream", "streaming is not supported; send stream: false")
    if body.n != 1:
        raise ValidationFailed("n", "only one choice per request (n: 1)")
    for name in _UNSUPPORTED:
        if (body.model_extra or {}).get(name) not in (None, False, []):
            raise ValidationFailed(name, "not supported by grump's OpenAI-compatible API")


async def _wait(runtime: Runtime, job_id: uuid.UUID) -> Job:
    """The job once final: woken by the worker's commit, bounded by GRUMP_OPENAI_WAIT_SECONDS."""
    job = await await_final(runtime, job_id, runtime.settings.openai_wait_seconds)
    if job is None:
        raise _StillRunning(job_id)
    return job


class _StillRunning(Exception):
    def __init__(self, job_id: uuid.UUID) -> None:
        super().__init__(f"job {job_id} is still running")
        self.job_id = job_id


async def _finished(runtime: Runtime, job_id: uuid.UUID) -> Job | JSONResponse:
    """The succeeded job, or the OpenAI-shaped error a caller should get instead."""
    header = {"x-grump-job-id": str(job_id)}
    try:
        job = await _wait(runtime, job_id)
    except _StillRunning as exc:
        message = f"{exc}; GET /v1/jobs/{job_id} for its answer, or send the request again"
        # Sent again, the request joins the job in flight: Retry-After tells SDKs when.
        retry_after = {"Retry-After": str(runtime.settings.retry_after_seconds)}
        return openai_error(504, message, "timeout", **header, **retry_after)
    if job.status == JobStatus.SUCCEEDED.value and job.result is not None:
        return job
    error = job.error or {}
    message = str(error.get("message") or f"job {job_id} ended {job.status}")
    return openai_error(502, message, str(error.get("code") or job.status), **header)


def _headers(job: Job) -> dict[str, str]:
    return {"x-grump-job-id": str(job.id), "x-grump-cost-usd": str(job.cost)}


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionBody, principal: PrincipalDep, runtime: RuntimeDep, celery: CeleryDep
) -> JSONResponse:
    """Create a chat completion, run as a grump job and answered in OpenAI's shape once it finishes."""
    _refuse_unsupported(body)
    grump_input: dict[str, Any] = {"messages": [m.as_grump() for m in body.messages]}
    # `is None`, not `or`: max_completion_tokens=0 must be refused, not mean "unset".
    max_tokens = (
        body.max_tokens if body.max_completion_tokens is None else body.max_completion_tokens
    )
    if max_tokens is not None:
        grump_input["max_tokens"] = max_tokens
    if body.temperature is not None:
        grump_input["temperature"] = body.temperature
    if body.model != AUTO_MODEL:
        grump_input["model"] = body.model
    request = _job_request(CompleteJobRequest, "complete", grump_input, body.user)
    done = await submit_job_async(runtime, celery, principal.tenant, request)
    job = await _finished(runtime, done.job.id)
    if isinstance(job, JSONResponse):
        return job
    return JSONResponse(chat_completion_json(job), headers=_headers(job))


def chat_completion_json(job: Job) -> dict[str, Any]:
    """A succeeded completion job as OpenAI's ``chat.completion`` object."""
    result = job.result or {}
    usage = result.get("usage") or {}
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return {
        "id": f"chatcmpl-{job.id.hex}",
        "object": "chat.completion",
        "created": int(job.created_at.timestamp()),
        "model": job.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.get("content", "")},
                "finish_reason": result.get("finish_reason", "stop"),
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "system_fingerprint": None,
    }


@router.post("/embeddings", response_model=None)
async def embeddings(
    body: EmbeddingsBody, principal: PrincipalDep, runtime: RuntimeDep, celery: CeleryDep
) -> JSONResponse:
    """Create embeddings, run as a grump job and answered in OpenAI's shape once it finishes."""
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    grump_input: dict[str, Any] = {"texts": texts, "input_type": body.input_type}
    if body.model != AUTO_MODEL:
        grump_input["model"] = body.model
    if body.dimensions is not None:
        grump_input["dimensions"] = body.dimensions
    request = _job_request(EmbedJobRequest, "embed", grump_input, body.user)
    done = await submit_job_async(runtime, celery, principal.tenant, request)
    job = await _finished(runtime, done.job.id)
    if isinstance(job, JSONResponse):
        return job
    return JSONResponse(embeddings_json(job, body.encoding_format), headers=_headers(job))


def embeddings_json(job: Job, encoding_format: str) -> dict[str, Any]:
    """A succeeded embed job as OpenAI's embeddings list, each vector as floats or base64."""
    vectors: list[list[float]] = (job.result or {}).get("embeddings", [])
    data = [
        {"object": "embedding", "index": i, "embedding": _encode_vector(v, encoding_format)}
        for i, v in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": job.model,
        "usage": {"prompt_tokens": job.tokens_in, "total_tokens": job.tokens_in},
    }


def _encode_vector(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":  # what OpenAI's SDKs ask for: little-endian float32
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector


def _job_request(
    model: type[_Request], kind: str, grump_input: dict[str, Any], user: str | None
) -> _Request:
    """The grump job for an OpenAI request; its validation errors name OpenAI's fields."""
    try:
        return model.model_validate({"kind": kind, "input": grump_input, "user": user})
    except ValidationError as exc:
        first = describe(dict(exc.errors()[0])) if exc.errors() else {"field": "body", "reason": ""}
        field = first["field"].removeprefix("input.").replace("texts", "input")
        raise ValidationFailed(field, first["reason"]) from None
