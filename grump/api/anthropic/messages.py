"""Anthropic-compatible front door: POST /v1/messages (plain and streamed) and its count_tokens.

A client pointed at grump with ``ANTHROPIC_BASE_URL`` authenticates with
``x-api-key`` (or ``Authorization: Bearer``); ``anthropic-version`` and
``anthropic-beta`` are accepted and ignored. ``model`` pins a model, or routes
when it is ``"auto"``, as on the OpenAI route. Each call is an ordinary grump
job; errors use Anthropic's shape ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from grump.api.anthropic.events import EventEncoder
from grump.api.anthropic.models import CountTokensBody, MessagesBody
from grump.api.anthropic.shapes import chat_messages, chat_tools, complete_input, message_answer
from grump.api.clienterrors import anthropic_body, shaped_route
from grump.api.deps import CeleryDep, PrincipalDep, RuntimeDep
from grump.api.eventstream import EventStream, event_stream
from grump.api.frontdoor import final_job, job_headers, job_request, open_stream
from grump.api.responses import ANTHROPIC_ERROR_RESPONSES, STREAMED_OK
from grump.jobs.models import CompleteInput, CompleteJobRequest, Message
from grump.jobs.submit import submit_job_async
from grump.providers.base import estimate_tokens
from grump.routing.pricing import MESSAGE_OVERHEAD_TOKENS
from grump.runtime import Runtime

router = APIRouter(
    prefix="/v1",
    tags=["anthropic"],
    route_class=shaped_route(anthropic_body),
    responses=ANTHROPIC_ERROR_RESPONSES,
)


def estimate_input_tokens(messages: list[Message], tools: list[dict[str, object]] | None) -> int:
    """An estimate of a conversation's input tokens, as grump's reservations count them."""
    total = sum(estimate_tokens(m.text()) + MESSAGE_OVERHEAD_TOKENS for m in messages)
    if tools:
        total += estimate_tokens(json.dumps(tools, separators=(",", ":")))
    return total


@router.post("/messages", response_model=None, responses=STREAMED_OK)
async def messages(
    body: MessagesBody, principal: PrincipalDep, runtime: RuntimeDep, celery: CeleryDep
) -> JSONResponse | EventStream:
    """Create a message, run as a grump job: answered whole once it ends, or streamed."""
    user_id = (body.metadata or {}).get("user_id")
    user = user_id[:200] if isinstance(user_id, str) and user_id else None
    request = job_request(CompleteJobRequest, "complete", complete_input(body), user)
    done = await submit_job_async(
        runtime, celery, principal.tenant, request, caller=principal.caller
    )
    model = done.job.model or body.model
    if body.stream:
        estimate = estimate_input_tokens(list(request.input.messages), request.input.tools)
        return await _streamed(runtime, done.job.id, model, estimate)
    job = await final_job(runtime, done.job.id)
    answer = message_answer(f"msg_{job.id.hex}", job.model or model, job.result or {})
    return JSONResponse(answer, headers=job_headers(job))


async def _streamed(runtime: Runtime, job_id: uuid.UUID, model: str, estimate: int) -> EventStream:
    first, rest = await open_stream(runtime, job_id)
    encoder = EventEncoder(f"msg_{job_id.hex}", model, estimate)
    return event_stream(runtime, job_id, first, rest, encoder)


@router.post("/messages/count_tokens", response_model=None)
async def count_tokens(body: CountTokensBody, principal: PrincipalDep) -> JSONResponse:
    """An estimate of the request's input tokens (about four characters a token, plus framing)."""
    del principal  # authenticated like every route; the estimate reads nothing
    values = {"messages": chat_messages(body), "max_tokens": 1}
    tools = chat_tools(body)
    grump_input = job_request(CompleteJobRequest, "complete", values, None).input
    assert isinstance(grump_input, CompleteInput)
    return JSONResponse({"input_tokens": estimate_input_tokens(list(grump_input.messages), tools)})
