"""A fake Anthropic Messages API (``POST /v1/messages``), plain and streamed, with a prompt cache.

It checks what the real API checks first (an ``x-api-key``, an
``anthropic-version``, only user and assistant roles in ``messages``, system as
a string or text blocks, at most four ``cache_control`` breakpoints) and
answers with content blocks, a ``stop_reason`` and ``usage``; with
``stream: true`` as Anthropic's event stream (``message_start`` ...
``message_stop``), a few milliseconds between events. Tokens are
whitespace-separated words, as in the NIM fake. Answers follow
``tests.fakes.chat``: a ``tool_use`` when tools are offered and the last
message is the user's own turn (not tool results), else an echo.

The prompt cache bills as Anthropic's does (``tests.fakes.prompt_cache``).
Message Batches (``/v1/messages/batches``) live in ``tests.fakes.anthropic_batches``;
``/v1/messages/count_tokens`` counts a request's input, free. Every call the model
runs on is on the fake's invoice (``tests.fakes.invoice``).

Run alone: ``python -m tests.fakes.anthropic --port 9002 --latency-ms 20``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from tests.fakes.anthropic_batches import FakeBatches
from tests.fakes.chat import (
    DEFAULT_STREAM_GAP_MS,
    argument_fragments,
    count_tokens,
    example_arguments,
    stable_id,
    text_pieces,
)
from tests.fakes.invoice import text_tokens_sent
from tests.fakes.prompt_cache import PromptCache, block_text, request_blocks
from tests.fakes.server import (
    FakeServer,
    LoggedRequest,
    Step,
    common_arguments,
    reply,
    sse_event,
    streamed,
)

MAX_BREAKPOINTS = 4
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_BLOCK_TYPES = ("text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking")


class FakeAnthropic(FakeServer):
    """Serves ``/v1/messages``; ``cache`` is its prompt cache, ``advance(seconds)`` moves its clock."""

    error_shape = "anthropic"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        api_key: str | None = None,
        stream_gap_ms: float = DEFAULT_STREAM_GAP_MS,
        min_cacheable_tokens: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(host=host, port=port, latency_ms=latency_ms)
        self.api_key = api_key
        self.stream_gap_ms = stream_gap_ms
        self._clock = clock
        self._offset = 0.0
        self.cache = PromptCache(lambda: self._clock() + self._offset, min_cacheable_tokens)
        # Message Batches (``tests.fakes.anthropic_batches``): each request answered as
        # /v1/messages would answer it, when its batch ends.
        self.batches = FakeBatches(self._message, lambda: self.url, self._bill_batched)

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on (prompt-cache entries expire by it)."""
        self._offset += seconds

    def _bill_batched(self, message: dict[str, Any]) -> None:
        self._bill(message, batched=True)

    def reset(self) -> None:
        super().reset()
        self.cache.clear()
        self.batches.reset()

    def answer(self, request: LoggedRequest) -> Step:
        key = request.headers.get("x-api-key")
        if not key or (self.api_key and key != self.api_key):
            return self.error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self.error(400, "anthropic-version: header is required")
        batched = self.batches.handle(request)
        if batched is not None:
            return batched
        if (request.method, request.path) == ("POST", "/v1/messages/count_tokens"):
            return self._count_tokens(request.body)
        if (request.method, request.path) != ("POST", "/v1/messages"):
            return self.error(404, f"Not found: {request.method} {request.path}")
        problem = request_problem(request.body)
        if problem:
            return self.error(400, problem)
        message = self._message(request.body)
        if request.body.get("stream"):
            events = message_events(message)
            step = streamed(*events, gap_ms=self.stream_gap_ms)
            return replace(
                step, billing=lambda sent, whole: self._bill_stream(message, events[:sent], whole)
            )
        self._bill(message)
        return reply(message)

    def _count_tokens(self, body: Any) -> Step:
        """``/v1/messages/count_tokens``: the request's input tokens, free (no invoice line)."""
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self.error(400, "messages: Field required")
        return reply({"input_tokens": sum(block.tokens for block in request_blocks(body))})

    def _bill(
        self, message: dict[str, Any], batched: bool = False, output: int | None = None
    ) -> None:
        usage = message["usage"]
        self.invoice.bill(
            str(message["model"]),
            uncached=usage["input_tokens"],
            written=usage["cache_creation_input_tokens"],
            written_1h=usage["cache_creation"]["ephemeral_1h_input_tokens"],
            read=usage["cache_read_input_tokens"],
            output=usage["output_tokens"] if output is None else output,
            batched=batched,
            cancelled=output is not None,
        )

    def _bill_stream(self, message: dict[str, Any], sent: list[bytes], whole: bool) -> None:
        """A stream to its end is billed whole; one its client left, the input and the text sent."""
        self._bill(message, output=None if whole else text_tokens_sent(tuple(sent)))

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        blocks = request_blocks(body)
        billed = self.cache.bill(str(body.get("model", "")), blocks)
        content, stop_reason, output = _answer(body)
        return {
            "id": stable_id("msg_", body["messages"]),
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "unknown"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": billed.uncached,
                "cache_creation_input_tokens": billed.written,
                "cache_read_input_tokens": billed.read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": billed.written - billed.written_1h,
                    "ephemeral_1h_input_tokens": billed.written_1h,
                },
                "output_tokens": output,
            },
        }


def request_problem(body: Any) -> str | None:
    """Anthropic's 400 message for a request it refuses, or None."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            role = message.get("role") if isinstance(message, dict) else None
            return f'messages.{i}.role: Input should be "user" or "assistant", got {role!r}'
        content = message.get("content")
        if isinstance(content, list):
            for j, block in enumerate(content):
                if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
                    return f"messages.{i}.content.{j}: unknown content block"
        elif not isinstance(content, str):
            return f"messages.{i}.content: must be a string or a list of blocks"
    temperature = body.get("temperature", 1.0)
    if not isinstance(temperature, int | float) or not 0.0 <= temperature <= 1.0:
        return "temperature: must be between 0 and 1"
    return _system_problem(body.get("system")) or _tools_problem(body) or _pairing_problem(messages)


def _blocks_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message.get("content")
    return [b for b in content if b.get("type") == kind] if isinstance(content, list) else []


def _pairing_problem(messages: list[dict[str, Any]]) -> str | None:
    """Anthropic's rule: every tool_use is answered in the very next message, and only those."""
    for i, message in enumerate(messages):
        asked = {b.get("id") for b in _blocks_of(message, "tool_use")}
        answered = (
            {b.get("tool_use_id") for b in _blocks_of(messages[i + 1], "tool_result")}
            if i + 1 < len(messages)
            else set()
        )
        if asked and i + 1 < len(messages) and not asked <= answered:
            missing = ", ".join(sorted(str(x) for x in asked - answered))
            return (
                f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {missing}"
            )
        previous = messages[i - 1] if i else {}
        offered = {b.get("id") for b in _blocks_of(previous, "tool_use")}
        for j, block in enumerate(_blocks_of(message, "tool_result")):
            if block.get("tool_use_id") not in offered:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message."
                )
    return None


def _system_problem(system: Any) -> str | None:
    if system is None or isinstance(system, str):
        return None
    if isinstance(system, list) and all(
        isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        for b in system
    ):
        return None
    return "system: must be a string or a list of text blocks"


def _tools_problem(body: dict[str, Any]) -> str | None:
    tools = body.get("tools") or []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not tool.get("name") or "input_schema" not in tool:
            return f"tools.{i}: name and input_schema are required"
    choice = body.get("tool_choice")
    if choice is not None:
        if not tools:
            return "tool_choice: may only be given with tools"
        if not isinstance(choice, dict) or choice.get("type") not in _TOOL_CHOICES:
            return "tool_choice.type: must be auto, any, tool or none"
    marks = sum(1 for block in request_blocks(body) if block.cache_control is not None)
    if marks > MAX_BREAKPOINTS:
        return (
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {marks}."
        )
    return None


def _chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool the fake calls: none unless tools are offered and the user spoke last."""
    tools, choice = body.get("tools") or [], body.get("tool_choice") or {}
    last = body["messages"][-1]
    content = last.get("content")
    results = isinstance(content, list) and any(b.get("type") == "tool_result" for b in content)
    if not tools or last["role"] != "user" or results or choice.get("type") == "none":
        return None
    if choice.get("type") == "tool":
        return dict(next((t for t in tools if t["name"] == choice.get("name")), tools[0]))
    return dict(tools[0])


def _answer(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str, int]:
    """(content blocks, stop_reason, output tokens) of the fake's answer."""
    tool = _chosen_tool(body)
    if tool is not None:
        arguments = example_arguments(tool.get("input_schema"))
        block = {
            "type": "tool_use",
            "id": stable_id("toolu_", body["messages"], tool["name"]),
            "name": tool["name"],
            "input": arguments,
        }
        return [block], "tool_use", max(1, count_tokens(json.dumps(arguments)))
    last = body["messages"][-1]["content"]
    text = last if isinstance(last, str) else " ".join(block_text(b) for b in last)
    words = f"echo: {text}".split()
    kept = words[: body["max_tokens"]]
    stop = "max_tokens" if len(words) > len(kept) else "end_turn"
    return [{"type": "text", "text": " ".join(kept)}], stop, len(kept)


def message_events(message: dict[str, Any]) -> list[bytes]:
    """A finished message as Anthropic streams it, event by event."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events = [sse_event({"type": "message_start", "message": start}, "message_start")]
    for index, block in enumerate(message["content"]):
        opening, *rest = _block_events(index, block)
        events.append(opening)
        if index == 0:  # where Anthropic sends its first ping
            events.append(sse_event({"type": "ping"}, "ping"))
        events += rest
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": usage["output_tokens"]},
    }
    events.append(sse_event(delta, "message_delta"))
    events.append(sse_event({"type": "message_stop"}, "message_stop"))
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    if block["type"] == "tool_use":
        opening = {**block, "input": {}}
        pieces = [
            {"type": "input_json_delta", "partial_json": fragment}
            for fragment in argument_fragments(json.dumps(block["input"]))
        ]
    else:
        opening = {"type": "text", "text": ""}
        pieces = [{"type": "text_delta", "text": piece} for piece in text_pieces(block["text"])]
    start = {"type": "content_block_start", "index": index, "content_block": opening}
    events = [sse_event(start, "content_block_start")]
    events += [
        sse_event(
            {"type": "content_block_delta", "index": index, "delta": piece}, "content_block_delta"
        )
        for piece in pieces
    ]
    events.append(sse_event({"type": "content_block_stop", "index": index}, "content_block_stop"))
    return events


def main(argv: Sequence[str] | None = None) -> None:
    parser = common_arguments("A fake Anthropic Messages API on loopback.")
    parser.add_argument("--stream-gap-ms", type=float, default=DEFAULT_STREAM_GAP_MS)
    parser.add_argument("--min-cacheable-tokens", type=int, default=None)
    args = parser.parse_args(argv)
    FakeAnthropic(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        api_key=args.api_key,
        stream_gap_ms=args.stream_gap_ms,
        min_cacheable_tokens=args.min_cacheable_tokens,
    ).serve_forever()


if __name__ == "__main__":
    main()
