"""A job's stream as Anthropic's Messages server-sent events.

``message_start`` (its usage an estimate of the input), then per content block
``content_block_start``, its ``content_block_delta`` events (``text_delta``, or
``input_json_delta`` for a tool call's argument fragments) and
``content_block_stop``; at the end ``message_delta`` (stop reason, and the
final usage: output, input and prompt-cache tokens) and ``message_stop``. A
broken stream, or a job that fails once the stream started, ends with
``event: error``.
"""

from __future__ import annotations

import json
from typing import Any

from grump.api.anthropic.shapes import stop_reason, usage_of
from grump.api.clienterrors import Problem, anthropic_body
from grump.jobs.stream import StreamBroken, StreamEnded, StreamItem, TextDelta, ToolCallDelta


def sse_event(name: str, payload: dict[str, Any]) -> bytes:
    """One server-sent event, named as Anthropic names them."""
    data = json.dumps({"type": name, **payload}, separators=(",", ":"))
    return f"event: {name}\ndata: {data}\n\n".encode()


def error_event(problem: Problem) -> bytes:
    """The ``error`` event ending a stream that broke."""
    return sse_event("error", {"error": anthropic_body(problem)["error"]})


class EventEncoder:
    """Encodes one job's stream items as Anthropic events; one encoder per stream."""

    def __init__(self, message_id: str, model: str, input_estimate: int) -> None:
        self.message_id = message_id
        self.model = model
        self.input_estimate = input_estimate
        self.blocks = 0  # content blocks started so far
        self.open: int | None = None  # the block index open now
        self.open_text = False
        self.tool_blocks: dict[int, int] = {}  # tool call index -> block index

    def opening(self) -> list[bytes]:
        """``message_start``, its content empty."""
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_estimate, "output_tokens": 0},
        }
        return [sse_event("message_start", {"message": message}), sse_event("ping", {})]

    def _close(self) -> list[bytes]:
        if self.open is None:
            return []
        index, self.open, self.open_text = self.open, None, False
        return [sse_event("content_block_stop", {"index": index})]

    def _start(self, block: dict[str, Any]) -> list[bytes]:
        events = self._close()
        self.open = self.blocks
        self.blocks += 1
        events.append(
            sse_event("content_block_start", {"index": self.open, "content_block": block})
        )
        return events

    def _delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return sse_event("content_block_delta", {"index": index, "delta": delta})

    def _text(self, item: TextDelta) -> list[bytes]:
        if not item.text:
            return []
        events = [] if self.open_text else self._start({"type": "text", "text": ""})
        self.open_text = True
        assert self.open is not None
        events.append(self._delta(self.open, {"type": "text_delta", "text": item.text}))
        return events

    def _tool(self, item: ToolCallDelta) -> list[bytes]:
        events: list[bytes] = []
        if item.index not in self.tool_blocks:
            block = {"type": "tool_use", "id": item.id or "", "name": item.name or "", "input": {}}
            events = self._start(block)
            assert self.open is not None
            self.tool_blocks[item.index] = self.open
        if item.arguments:
            delta = {"type": "input_json_delta", "partial_json": item.arguments}
            events.append(self._delta(self.tool_blocks[item.index], delta))
        return events

    def encode(self, item: StreamItem) -> list[bytes]:
        """The events for one item: a block's start and delta, or the end, or an error."""
        if isinstance(item, TextDelta):
            return self._text(item)
        if isinstance(item, ToolCallDelta):
            return self._tool(item)
        if isinstance(item, StreamBroken):
            return [error_event(Problem(502, item.message, item.code))]
        return self._end(item)

    def _end(self, item: StreamEnded) -> list[bytes]:
        job = item.job
        result = job.result
        if result is None or job.status != "succeeded":
            error = job.error or {}
            message = str(error.get("message") or f"job {job.id} ended {job.status}")
            return [error_event(Problem(502, message, str(error.get("code") or job.status)))]
        delta = {"stop_reason": stop_reason(result), "stop_sequence": result.get("stop_sequence")}
        final = sse_event("message_delta", {"delta": delta, "usage": usage_of(result)})
        return [*self._close(), final, sse_event("message_stop", {})]
