"""Reading Anthropic's answers, plain and streamed, into grump's ChatResult: pure translation.

A plain answer's text blocks are joined into the content and its ``tool_use``
blocks become tool calls (``arguments`` the input as JSON text); thinking
blocks are not the answer. Usage: ``tokens_in`` counts every input token, the
prompt cache's reads (``cache_read_input_tokens``) and writes
(``cache_creation_input_tokens``) included, which are also reported apart; of
the writes, ``cache_creation.ephemeral_1h_input_tokens`` took the 1-hour TTL.

A streamed answer is Anthropic's event stream: ``message_start`` (the input
usage, cache tokens included), per content block ``content_block_start``
(text or ``tool_use``), ``content_block_delta`` (``text_delta`` or
``input_json_delta``) and ``content_block_stop``, then ``message_delta`` (the
stop reason and output usage) and ``message_stop``; ``ping`` between. An
``error`` event ends it: overloaded, rate-limit, API and timeout errors are
:class:`~grump.errors.ProviderTransient`, others
:class:`~grump.errors.ProviderError`. Tool calls are numbered 0, 1, ... among
themselves, as OpenAI numbers them, whatever their block index.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import orjson

from grump.errors import ProviderError, ProviderTransient
from grump.providers.answers import expect, token_count
from grump.providers.assembly import ChatAssembly
from grump.providers.base import ChatDelta, ChatRequest, ChatResult, ToolCallResult, estimate_tokens
from grump.providers.sse import SseEvent

PROVIDER = "anthropic"

# Anthropic's stop_reason in the finish_reason words the rest of grump (and the
# OpenAI-compatible API) uses; anything new passes through unchanged.
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_TRANSIENT_ERRORS = frozenset(
    {"overloaded_error", "rate_limit_error", "api_error", "timeout_error"}
)


def finish_reason(stop_reason: object) -> str:
    """Anthropic's ``stop_reason`` in grump's ``finish_reason`` words."""
    return FINISH_REASONS.get(stop_reason, stop_reason) if isinstance(stop_reason, str) else "stop"


def parse_messages_response(data: Mapping[str, Any], request: ChatRequest) -> ChatResult:
    """A Messages API answer as a chat result, estimating the tokens it does not report."""
    texts: list[str] = []
    calls: list[ToolCallResult] = []
    for block in expect(data, "content", list, PROVIDER):
        if not isinstance(block, dict):
            raise ProviderError(
                "malformed response: content block is not an object", provider=PROVIDER
            )
        if block.get("type") == "text":
            texts.append(expect(block, "text", str, PROVIDER))
        elif block.get("type") == "tool_use":
            calls.append(
                ToolCallResult(
                    id=expect(block, "id", str, PROVIDER),
                    name=expect(block, "name", str, PROVIDER),
                    arguments=json.dumps(block.get("input") or {}),
                )
            )
    reported = data.get("usage")
    return chat_result(
        request,
        content="".join(texts),
        tool_calls=tuple(calls),
        usage=reported if isinstance(reported, dict) else {},
        stop_reason=data.get("stop_reason"),
        model=data.get("model"),
    )


def chat_result(
    request: ChatRequest,
    *,
    content: str,
    tool_calls: tuple[ToolCallResult, ...],
    usage: Mapping[str, Any],
    stop_reason: object,
    model: object,
) -> ChatResult:
    """The ChatResult of an answer, from its parts and Anthropic's ``usage``."""
    uncached = token_count(usage.get("input_tokens"))
    written = token_count(usage.get("cache_creation_input_tokens")) or 0
    read = token_count(usage.get("cache_read_input_tokens")) or 0
    tokens_out = token_count(usage.get("output_tokens"))
    if uncached is None:
        uncached = sum(estimate_tokens(m.text()) for m in request.messages)
    if tokens_out is None:
        tokens_out = estimate_tokens(content + "".join(c.name + c.arguments for c in tool_calls))
    return ChatResult(
        content=content,
        model=model if isinstance(model, str) and model else request.model,
        tokens_in=uncached + written + read,
        tokens_out=tokens_out,
        finish_reason=finish_reason(stop_reason),
        provider=PROVIDER,
        tool_calls=tool_calls,
        tokens_cache_read=read,
        tokens_cache_write=written,
        tokens_cache_write_1h=min(written, long_writes(usage)),
    )


class _StreamState:
    """What the events so far said: usage, stop reason, which block is which tool call."""

    def __init__(self) -> None:
        self.assembly = ChatAssembly()
        self.usage: dict[str, Any] = {}
        self.stop_reason: object = None
        self.model: object = None
        self.tool_of_block: dict[int, int] = {}
        self.argued: set[int] = set()  # tool calls that got an argument fragment
        self.reported = False  # whether a delta carried the input usage yet

    def deltas(self, kind: str, event: Mapping[str, Any]) -> Iterator[ChatDelta]:
        if kind == "message_start":
            message = event.get("message") or {}
            self.model = message.get("model")
            self.usage.update(message.get("usage") or {})
        elif kind == "content_block_start":
            yield from self._block_start(event)
        elif kind == "content_block_delta":
            yield from self._block_delta(event)
        elif kind == "content_block_stop":
            tool = self.tool_of_block.get(event.get("index", -1))
            if tool is not None and tool not in self.argued:  # a call without arguments
                yield ChatDelta(tool_index=tool, tool_arguments="{}")
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            # Its usage is cumulative: output tokens, and input counts when it repeats them.
            usage = event.get("usage") or {}
            self.usage.update({k: v for k, v in usage.items() if v is not None})

    def _block_start(self, event: Mapping[str, Any]) -> Iterator[ChatDelta]:
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use":
            tool = len(self.tool_of_block)
            self.tool_of_block[event.get("index", -1)] = tool
            yield ChatDelta(tool_index=tool, tool_id=block.get("id"), tool_name=block.get("name"))
        elif block.get("type") == "text" and block.get("text"):
            yield ChatDelta(text=block["text"])

    def _block_delta(self, event: Mapping[str, Any]) -> Iterator[ChatDelta]:
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta" and delta.get("text"):
            yield ChatDelta(text=str(delta["text"]))
        elif delta.get("type") == "input_json_delta":
            tool = self.tool_of_block.get(event.get("index", -1))
            fragment = delta.get("partial_json")
            if tool is None or not isinstance(fragment, str):
                raise ProviderTransient("anthropic: malformed input_json_delta", provider=PROVIDER)
            if fragment:
                self.argued.add(tool)
                yield ChatDelta(tool_index=tool, tool_arguments=fragment)


def _input_usage(usage: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """(uncached, cache read, cache write, 1-hour write) input tokens of ``message_start``'s usage."""
    return (
        token_count(usage.get("input_tokens")) or 0,
        token_count(usage.get("cache_read_input_tokens")) or 0,
        token_count(usage.get("cache_creation_input_tokens")) or 0,
        long_writes(usage),
    )


def long_writes(usage: Mapping[str, Any]) -> int:
    """The cache writes Anthropic reports with the 1-hour TTL (``cache_creation``'s split)."""
    split = usage.get("cache_creation")
    if not isinstance(split, Mapping):
        return 0
    return token_count(split.get("ephemeral_1h_input_tokens")) or 0


def read_messages_stream(
    events: Iterator[SseEvent], request: ChatRequest
) -> Iterator[ChatDelta | ChatResult]:
    """A streamed Messages answer as deltas, then its ChatResult at ``message_stop``."""
    state = _StreamState()
    for event in events:
        data = _event_data(event)
        kind = str(data.get("type") or event.event or "")
        if kind == "error":
            raise stream_error(data.get("error"))
        if kind == "message_stop":
            yield chat_result(
                request,
                content=state.assembly.content,
                tool_calls=state.assembly.tool_calls,
                usage=state.usage,
                stop_reason=state.stop_reason,
                model=state.model,
            )
            return
        for delta in state.deltas(kind, data):
            if not state.reported:  # the first delta carries message_start's input usage
                state.reported = True
                delta = replace(delta, input_usage=_input_usage(state.usage))
            yield state.assembly.add(delta)
    raise ProviderTransient("anthropic: stream ended before message_stop", provider=PROVIDER)


def _event_data(event: SseEvent) -> dict[str, Any]:
    try:
        data = orjson.loads(event.data) if event.data else {}
    except ValueError as exc:
        raise ProviderTransient(
            f"anthropic: malformed stream event: {event.data[:200]!r}", provider=PROVIDER
        ) from exc
    if not isinstance(data, dict):
        raise ProviderTransient(
            f"anthropic: malformed stream event: {event.data[:200]!r}", provider=PROVIDER
        )
    return data


def stream_error(error: object) -> ProviderTransient | ProviderError:
    """grump's error for an ``error`` event: transient for overload, rate limit, API errors."""
    kind = error.get("type") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    text = f"anthropic: {message or kind or 'error event'} (mid-stream)"
    if kind in _TRANSIENT_ERRORS or kind is None:
        return ProviderTransient(text, provider=PROVIDER, reason=kind or "error")
    return ProviderError(text, provider=PROVIDER, reason=kind)
