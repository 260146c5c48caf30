"""OpenAI's chat wire format, as NIM speaks it: the request body, the answer, the stream.

Pure translation, no I/O. grump's chat input already is OpenAI's shape
(``grump.jobs.models.CompleteInput``), so the body is the input as it is, with
two changes: fields left unset are omitted, and ``cache_control`` (Anthropic's
prompt-cache mark, which NIM does not know) is dropped everywhere.
``tool_choice`` and ``parallel_tool_calls`` are only sent with ``tools``:
OpenAI's API refuses them alone.

A streamed answer is ``data:`` events of ``chat.completion.chunk`` objects,
ended by ``data: [DONE]``; with ``stream_options.include_usage`` the last
chunk before it has no choices and carries the usage.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from grump.errors import ProviderError, ProviderTransient
from grump.jobs.models import ContentPart, Message
from grump.providers.answers import expect, token_count
from grump.providers.assembly import ChatAssembly
from grump.providers.base import ChatDelta, ChatRequest, ChatResult, ToolCallResult, estimate_tokens
from grump.providers.sse import SseEvent

PROVIDER = "nim"
_OPTIONAL = ("stop", "response_format", "seed", "top_p", "presence_penalty", "frequency_penalty")


def chat_payload(request: ChatRequest, *, stream: bool = False) -> dict[str, Any]:
    """The body NIM's ``/chat/completions`` takes for ``request``; streamed ones ask for usage."""
    chat = request.input
    payload: dict[str, Any] = {
        "model": request.model,
        "messages": [message_payload(m) for m in chat.messages],
        "max_tokens": chat.max_tokens,
        "temperature": chat.temperature,
        "stream": stream,
    }
    if stream:
        payload["stream_options"] = {"include_usage": True}
    if chat.tools:
        payload["tools"] = [_without_cache_control(tool) for tool in chat.tools]
        if chat.tool_choice is not None:
            payload["tool_choice"] = chat.tool_choice
        if chat.parallel_tool_calls is not None:
            payload["parallel_tool_calls"] = chat.parallel_tool_calls
    for name in _OPTIONAL:
        value = getattr(chat, name)
        if value is not None:
            payload[name] = value
    return payload


def message_payload(message: Message) -> dict[str, Any]:
    """One message as OpenAI's API takes it: unset fields omitted, no ``cache_control``."""
    body: dict[str, Any] = {"role": message.role}
    if isinstance(message.content, str):
        body["content"] = message.content
    elif message.content is not None:
        body["content"] = [_part_payload(part) for part in message.content]
    if message.tool_calls:
        body["tool_calls"] = [call.model_dump() for call in message.tool_calls]
    if message.tool_call_id is not None:
        body["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        body["name"] = message.name
    return body


def _part_payload(part: ContentPart) -> dict[str, Any]:
    if part.type == "image_url":
        return {"type": "image_url", "image_url": part.image_url or {}}
    return {"type": "text", "text": part.text or ""}


def _without_cache_control(tool: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in tool.items() if k != "cache_control"}
    function = kept.get("function")
    if isinstance(function, dict) and "cache_control" in function:
        kept["function"] = {k: v for k, v in function.items() if k != "cache_control"}
    return kept


def estimated_prompt_tokens(request: ChatRequest) -> int:
    """grump's estimate of a request's input tokens, for an answer that reports none."""
    return sum(estimate_tokens(m.text()) for m in request.messages)


def parse_chat_response(data: Mapping[str, Any], request: ChatRequest) -> ChatResult:
    """NIM's chat answer as a ChatResult, tokens estimated if absent; ProviderError if malformed."""
    choices = expect(data, "choices", list, PROVIDER)
    if not choices or not isinstance(choices[0], dict):
        raise ProviderError("malformed response: no choices", provider=PROVIDER)
    message = expect(choices[0], "message", dict, PROVIDER)
    # Reasoning models may spend the whole budget thinking and send content null.
    content = message.get("content") or ""
    if not isinstance(content, str):
        raise ProviderError("malformed response: message content is not text", provider=PROVIDER)
    calls = _tool_calls(message.get("tool_calls"))
    usage = data.get("usage")
    return _result(
        request,
        content=content,
        tool_calls=calls,
        finish_reason=choices[0].get("finish_reason"),
        model=data.get("model"),
        usage=usage if isinstance(usage, dict) else {},
    )


def _tool_calls(raw: object) -> tuple[ToolCallResult, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ProviderError("malformed response: tool_calls is not a list", provider=PROVIDER)
    calls: list[ToolCallResult] = []
    for call in raw:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise ProviderError(
                "malformed response: a tool call has no function", provider=PROVIDER
            )
        arguments = function.get("arguments")
        calls.append(
            ToolCallResult(
                id=expect(call, "id", str, PROVIDER),
                name=expect(function, "name", str, PROVIDER),
                arguments=arguments if isinstance(arguments, str) else "",
            )
        )
    return tuple(calls)


def _result(
    request: ChatRequest,
    *,
    content: str,
    tool_calls: tuple[ToolCallResult, ...],
    finish_reason: object,
    model: object,
    usage: Mapping[str, Any],
) -> ChatResult:
    tokens_in = token_count(usage.get("prompt_tokens"))
    tokens_out = token_count(usage.get("completion_tokens"))
    if tokens_in is None:
        tokens_in = estimated_prompt_tokens(request)
    if tokens_out is None:
        spoken = content + "".join(c.name + c.arguments for c in tool_calls)
        tokens_out = estimate_tokens(spoken)
    return ChatResult(
        content=content,
        model=model if isinstance(model, str) and model else request.model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        finish_reason=finish_reason if isinstance(finish_reason, str) else "stop",
        provider=PROVIDER,
        tool_calls=tool_calls,
    )


def read_chat_stream(
    events: Iterator[SseEvent], request: ChatRequest
) -> Iterator[ChatDelta | ChatResult]:
    """A streamed NIM answer as deltas, then its ChatResult once ``[DONE]`` arrives.

    A chunk that is not JSON, an ``error`` chunk, or a stream that ends before
    ``[DONE]`` raises :class:`~grump.errors.ProviderTransient`.
    """
    assembly = ChatAssembly()
    finish_reason: object = None
    model: object = None
    usage: Mapping[str, Any] = {}
    for event in events:
        if event.data.strip() == "[DONE]":
            yield _result(
                request,
                content=assembly.content,
                tool_calls=assembly.tool_calls,
                finish_reason=finish_reason,
                model=model,
                usage=usage,
            )
            return
        chunk = _chunk(event.data)
        model = chunk.get("model") or model
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            finish_reason = choice.get("finish_reason") or finish_reason
            for delta in chunk_deltas(choice.get("delta")):
                yield assembly.add(delta)
    raise ProviderTransient("nim: stream ended before [DONE]", provider=PROVIDER)


def _chunk(data: str) -> dict[str, Any]:
    try:
        chunk = orjson.loads(data)
    except ValueError as exc:
        raise ProviderTransient(
            f"nim: malformed stream chunk: {data[:200]!r}", provider=PROVIDER
        ) from exc
    if not isinstance(chunk, dict):
        raise ProviderTransient(f"nim: malformed stream chunk: {data[:200]!r}", provider=PROVIDER)
    if "error" in chunk:
        message = chunk["error"].get("message") if isinstance(chunk["error"], dict) else None
        raise ProviderTransient(
            f"nim: error mid-stream: {message or chunk['error']}", provider=PROVIDER
        )
    return chunk


def chunk_deltas(delta: object) -> Iterator[ChatDelta]:
    """The pieces one chunk's ``delta`` carries: its text, then each tool-call fragment."""
    if not isinstance(delta, dict):
        return
    text = delta.get("content")
    if isinstance(text, str) and text:
        yield ChatDelta(text=text)
    for fragment in delta.get("tool_calls") or ():
        if not isinstance(fragment, dict) or not isinstance(fragment.get("index"), int):
            raise ProviderTransient("nim: malformed tool call fragment", provider=PROVIDER)
        function = fragment.get("function")
        function = function if isinstance(function, dict) else {}
        tool_id, name, arguments = (
            fragment.get("id"),
            function.get("name"),
            function.get("arguments"),
        )
        yield ChatDelta(
            tool_index=fragment["index"],
            tool_id=tool_id if isinstance(tool_id, str) else None,
            tool_name=name if isinstance(name, str) else None,
            tool_arguments=arguments if isinstance(arguments, str) else "",
        )
