"""A job's stream as OpenAI's ``chat.completion.chunk`` server-sent events.

The first chunk gives the role, then each text delta a ``content`` chunk and
each tool-call delta a ``tool_calls`` chunk (``index`` always; ``id``, ``type``
and ``function.name`` with a call's first piece; ``function.arguments``
fragments after), as the openai SDK assembles them. The end is a chunk with
``finish_reason``, a usage chunk with empty ``choices`` when
``stream_options.include_usage`` asked for it, then ``data: [DONE]``. A stream
that breaks, or a job that fails after the stream started, ends with an error
chunk ``data: {"error": {...}}`` and no ``[DONE]``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from grump.api.clienterrors import Problem, openai_body
from grump.jobs.stream import StreamBroken, StreamEnded, StreamItem, TextDelta, ToolCallDelta
from grump.ledger.models import Job

DONE = b"data: [DONE]\n\n"


def usage_json(result: dict[str, Any]) -> dict[str, Any]:
    """A result's usage as OpenAI reports it, the prompt-cache reads as ``cached_tokens``."""
    usage = result.get("usage") or {}
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": int(usage.get("cache_read_input_tokens", 0))},
    }


def _data(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def tool_call_json(item: ToolCallDelta) -> dict[str, Any]:
    """One tool-call delta as the ``tool_calls`` entry of a chunk's delta."""
    call: dict[str, Any] = {"index": item.index}
    function: dict[str, Any] = {"arguments": item.arguments}
    if item.id is not None:
        call["id"] = item.id
        call["type"] = "function"
    if item.name is not None:
        function["name"] = item.name
    call["function"] = function
    return call


class ChunkEncoder:
    """Encodes one job's stream items as OpenAI chunks; one encoder per stream."""

    def __init__(self, chunk_id: str, model: str, include_usage: bool) -> None:
        self.chunk_id = chunk_id
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time())

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return _data(
            {
                "id": self.chunk_id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": None,
                "choices": [choice],
                **({"usage": None} if self.include_usage else {}),
            }
        )

    def opening(self) -> list[bytes]:
        """The first chunk: the assistant's role, empty content."""
        return [self._chunk({"role": "assistant", "content": ""})]

    def encode(self, item: StreamItem) -> list[bytes]:
        """The chunks for one item: a delta, or the end (finish reason, usage, [DONE]) or an error."""
        if isinstance(item, TextDelta):
            return [self._chunk({"content": item.text})] if item.text else []
        if isinstance(item, ToolCallDelta):
            return [self._chunk({"tool_calls": [tool_call_json(item)]})]
        if isinstance(item, StreamBroken):
            return [_data(openai_body(Problem(502, item.message, item.code)))]
        return self._end(item)

    def _end(self, item: StreamEnded) -> list[bytes]:
        job: Job = item.job
        result = job.result
        if result is None or job.status != "succeeded":
            error = job.error or {}
            message = str(error.get("message") or f"job {job.id} ended {job.status}")
            code = str(error.get("code") or job.status)
            return [_data(openai_body(Problem(502, message, code)))]
        chunks = [self._chunk({}, str(result.get("finish_reason") or "stop"))]
        if self.include_usage:
            usage = {
                "id": self.chunk_id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": None,
                "choices": [],
                "usage": usage_json(result),
            }
            chunks.append(_data(usage))
        chunks.append(DONE)
        return chunks
