"""A fake NVIDIA NIM: OpenAI-compatible chat completions and NIM embeddings.

Chat answers (plain or streamed as OpenAI's chunks) follow ``tests.fakes.chat``:
a tool call when tools are offered and the user spoke last, else an echo.
Its tokenizer counts whitespace-separated words, on purpose unlike grump's own
estimate, so a test can tell reported usage from estimated usage. Embeddings
are unit vectors drawn from a hash of (input type, text): the same text always
gets the same vector, in any batch. Results come back in reverse index order,
as nothing in the API promises input order.

Run alone: ``python -m tests.fakes.nim --port 9001 --latency-ms 20``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.fakes.chat import (
    DEFAULT_STREAM_GAP_MS,
    argument_fragments,
    example_arguments,
    stable_id,
    text_pieces,
)
from tests.fakes.server import (
    ErrorShape,
    FakeServer,
    LoggedRequest,
    Step,
    common_arguments,
    reply,
    sse_event,
    streamed,
)

DEFAULT_DIMENSIONS = 1024
DEFAULT_TOKEN_LIMIT = 512
_TRUNCATE_MODES = ("NONE", "START", "END")


def count_tokens(text: str) -> int:
    """The fake's tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def fake_vector(text: str, dimensions: int, input_type: str = "passage") -> list[float]:
    """The unit vector the fake returns for ``text``."""
    seed = int.from_bytes(hashlib.sha256(f"{input_type}\0{text}".encode()).digest()[:8], "big")
    values = np.random.default_rng(seed).standard_normal(dimensions)
    norm = float(np.linalg.norm(values)) or 1.0
    vector: list[float] = (values / norm).tolist()
    return vector


def message_text(message: dict[str, Any]) -> str:
    """The text of an OpenAI message: its content (text parts joined) and tool calls."""
    content = message.get("content")
    if isinstance(content, list):
        texts = [str(p.get("text", "")) for p in content if isinstance(p, dict)]
        content = " ".join(t for t in texts if t)
    pieces = [str(content)] if content is not None else []
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {} if isinstance(call, dict) else {}
        pieces += [str(function.get("name", "")), str(function.get("arguments", ""))]
    return " ".join(pieces)


def _tools_problem(body: dict[str, Any]) -> str | None:
    tools = body.get("tools")
    if tools is None:
        if body.get("tool_choice") is not None or body.get("parallel_tool_calls") is not None:
            return "tool_choice and parallel_tool_calls are only allowed when tools are specified"
        return None
    if not isinstance(tools, list) or not tools:
        return "tools: must be a non-empty list"
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            tool.get("type") != "function"
            or not isinstance(function, dict)
            or not function.get("name")
        ):
            return f"tools.{i}: must be a function tool with a name"
    return None


def _tool_messages_problem(messages: list[dict[str, Any]]) -> str | None:
    """OpenAI's rule: a tool message answers a call of the assistant message before it."""
    called: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role == "assistant":
            called = {str(c.get("id")) for c in message.get("tool_calls") or ()}
        elif role == "tool":
            if message.get("tool_call_id") not in called:
                return (
                    f"messages.[{i}].role: messages with role 'tool' must be a response to a "
                    "preceding message with 'tool_calls'"
                )
        else:
            called = set()
    return None


@dataclass(frozen=True)
class _Answer:
    id: str
    content: str | None
    tool_call: dict[str, Any] | None
    finish: str
    usage: dict[str, int]


def _chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function the fake calls: none unless tools are offered and the user spoke last."""
    tools, choice = body.get("tools") or [], body.get("tool_choice")
    if not tools or body["messages"][-1].get("role") != "user" or choice == "none":
        return None
    functions = [t["function"] for t in tools]
    if isinstance(choice, dict):
        named = (choice.get("function") or {}).get("name")
        return dict(next((f for f in functions if f.get("name") == named), functions[0]))
    return dict(functions[0])


def _answer(body: dict[str, Any], max_tokens: int) -> _Answer:
    messages = body["messages"]
    prompt = " ".join(message_text(m) for m in messages)
    if body.get("tools"):
        prompt += " " + json.dumps(body["tools"])
    prompt_tokens = count_tokens(prompt)
    answer_id = stable_id("chatcmpl-", messages)
    function = _chosen_tool(body)
    if function is not None:
        arguments = json.dumps(example_arguments(function.get("parameters")))
        call = {
            "id": stable_id("call_", messages, function["name"]),
            "type": "function",
            "function": {"name": function["name"], "arguments": arguments},
        }
        used = max(1, count_tokens(arguments))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": used}
        return _Answer(answer_id, None, call, "tool_calls", _with_total(usage))
    words = f"echo: {message_text(messages[-1])}".split()
    kept = words[:max_tokens]
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(kept)}
    finish = "length" if len(words) > max_tokens else "stop"
    return _Answer(answer_id, " ".join(kept), None, finish, _with_total(usage))


def _with_total(usage: dict[str, int]) -> dict[str, int]:
    return {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}


class FakeNim(FakeServer):
    """Serves ``/v1/chat/completions``, ``/v1/embeddings`` and ``/v1/models``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        api_key: str | None = None,
        token_limit: int = DEFAULT_TOKEN_LIMIT,
        dimensions: int = DEFAULT_DIMENSIONS,
        error_shape: ErrorShape = "nim",
        stream_gap_ms: float = DEFAULT_STREAM_GAP_MS,
    ) -> None:
        super().__init__(host=host, port=port, latency_ms=latency_ms)
        self.api_key = api_key
        self.stream_gap_ms = stream_gap_ms
        self.token_limit = token_limit
        self.dimensions = dimensions
        self.error_shape = error_shape

    def answer(self, request: LoggedRequest) -> Step:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error(401, "Authentication failed: invalid or missing API key")
        route = (request.method, request.path)
        if route == ("POST", "/v1/chat/completions"):
            return self._chat(request.body)
        if route == ("POST", "/v1/embeddings"):
            return self._embeddings(request.body)
        if route == ("GET", "/v1/models"):
            return reply({"object": "list", "data": [{"id": "nvidia/nv-embedqa-e5-v5"}]})
        if route == ("GET", "/v1/health/ready"):
            return reply({"object": "health.response", "message": "Service is ready."})
        return self.error(404, f"Not found: {request.method} {request.path}")

    def _chat(self, body: Any) -> Step:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self.error(400, "messages: field required")
        messages = body["messages"]
        if not messages or not all(isinstance(m, dict) for m in messages):
            return self.error(400, "messages: must be a non-empty list of objects")
        max_tokens = body.get("max_tokens", 1024)
        if not isinstance(max_tokens, int) or max_tokens < 1:
            return self.error(400, "max_tokens: must be a positive integer")
        problem = _tools_problem(body) or _tool_messages_problem(messages)
        if problem:
            return self.error(400, problem)
        answer = _answer(body, max_tokens)
        if body.get("stream"):
            return self._streamed(body, answer)
        message: dict[str, Any] = {"role": "assistant", "content": answer.content}
        if answer.tool_call is not None:
            message["tool_calls"] = [answer.tool_call]
        return reply(
            {
                "id": answer.id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "unknown"),
                "choices": [{"index": 0, "message": message, "finish_reason": answer.finish}],
                "usage": answer.usage,
            }
        )

    def _streamed(self, body: dict[str, Any], answer: _Answer) -> Step:
        """The answer as OpenAI's chunks: role, pieces, finish, usage when asked, [DONE]."""
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        head = {
            "id": answer.id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "unknown"),
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            extra = {"usage": None} if with_usage else {}
            return sse_event({**head, "choices": [choice], **extra})

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece}) for piece in text_pieces(answer.content or "")]
        call = answer.tool_call
        if call is not None:
            function = call["function"]
            start = {"index": 0, "id": call["id"], "type": "function"}
            events.append(
                chunk(
                    {
                        "tool_calls": [
                            {**start, "function": {"name": function["name"], "arguments": ""}}
                        ]
                    }
                )
            )
            events += [
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]})
                for fragment in argument_fragments(function["arguments"])
            ]
        events.append(chunk({}, answer.finish))
        if with_usage:
            events.append(sse_event({**head, "choices": [], "usage": answer.usage}))
        events.append(sse_event("[DONE]"))
        return streamed(*events, gap_ms=self.stream_gap_ms)

    def _embeddings(self, body: Any) -> Step:
        problem = self._embeddings_problem(body)
        if problem:
            return self.error(400, problem)
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        dimensions = body.get("dimensions") or self.dimensions
        input_type = body["input_type"]
        kept = [self._truncated(text, body.get("truncate", "NONE")) for text in texts]
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t, dimensions, input_type)}
            for i, t in enumerate(kept)
        ]
        tokens = sum(count_tokens(t) for t in kept)
        return reply(
            {
                "object": "list",
                "data": data[::-1],
                "model": body.get("model", "unknown"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    def _embeddings_problem(self, body: Any) -> str | None:
        """NIM's 400 message for a request it refuses, or None."""
        if not isinstance(body, dict):
            return "Request body must be a JSON object"
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return "input: must be a string or a non-empty list of strings"
        if body.get("input_type") not in ("query", "passage"):
            return "input_type: 'query' or 'passage' is required for this asymmetric model"
        if body.get("encoding_format", "float") != "float":
            return "encoding_format: only 'float' is supported"
        truncate = body.get("truncate", "NONE")
        if truncate not in _TRUNCATE_MODES:
            return f"truncate: must be one of {', '.join(_TRUNCATE_MODES)}"
        dimensions = body.get("dimensions")
        if dimensions is not None and not (
            isinstance(dimensions, int) and 0 < dimensions <= self.dimensions
        ):
            return f"dimensions: must be an integer between 1 and {self.dimensions}"
        for text in texts:
            if truncate == "NONE" and count_tokens(text) > self.token_limit:
                return (
                    f"Input length {count_tokens(text)} exceeds maximum allowed token size "
                    f"{self.token_limit}"
                )
        return None

    def _truncated(self, text: str, truncate: str) -> str:
        words = text.split()
        if len(words) <= self.token_limit or truncate == "NONE":
            return text
        kept = words[-self.token_limit :] if truncate == "START" else words[: self.token_limit]
        return " ".join(kept)


def main(argv: Sequence[str] | None = None) -> None:
    parser = common_arguments("A fake NVIDIA NIM speaking its HTTP API on loopback.")
    parser.add_argument("--token-limit", type=int, default=DEFAULT_TOKEN_LIMIT)
    parser.add_argument("--dimensions", type=int, default=DEFAULT_DIMENSIONS)
    parser.add_argument("--stream-gap-ms", type=float, default=DEFAULT_STREAM_GAP_MS)
    args = parser.parse_args(argv)
    FakeNim(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        api_key=args.api_key,
        token_limit=args.token_limit,
        dimensions=args.dimensions,
        stream_gap_ms=args.stream_gap_ms,
    ).serve_forever()


if __name__ == "__main__":
    main()
