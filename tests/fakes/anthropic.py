"""A fake Anthropic Messages API (``POST /v1/messages``).

It checks what the real API checks first (an ``x-api-key``, an
``anthropic-version``, no ``system`` role inside ``messages``) and answers
with content blocks, a ``stop_reason`` and ``usage``. Tokens are
whitespace-separated words, as in the NIM fake.

Run alone: ``python -m tests.fakes.anthropic --port 9002 --latency-ms 20``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from tests.fakes.nim import count_tokens
from tests.fakes.server import FakeServer, LoggedRequest, Step, common_arguments, reply


class FakeAnthropic(FakeServer):
    error_shape = "anthropic"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        api_key: str | None = None,
    ) -> None:
        super().__init__(host=host, port=port, latency_ms=latency_ms)
        self.api_key = api_key

    def answer(self, request: LoggedRequest) -> Step:
        key = request.headers.get("x-api-key")
        if not key or (self.api_key and key != self.api_key):
            return self.error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self.error(400, "anthropic-version: header is required")
        if (request.method, request.path) != ("POST", "/v1/messages"):
            return self.error(404, f"Not found: {request.method} {request.path}")
        problem = _request_problem(request.body)
        if problem:
            return self.error(400, problem)
        return reply(_message(request.body))


def _request_problem(body: Any) -> str | None:
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
    temperature = body.get("temperature", 1.0)
    if not isinstance(temperature, int | float) or not 0.0 <= temperature <= 1.0:
        return "temperature: must be between 0 and 1"
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        return "system: must be a string"
    return None


def _message(body: dict[str, Any]) -> dict[str, Any]:
    prompt = " ".join([body.get("system") or ""] + [str(m["content"]) for m in body["messages"]])
    words = f"echo: {body['messages'][-1]['content']}".split()
    kept = words[: body["max_tokens"]]
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "unknown"),
        "content": [{"type": "text", "text": " ".join(kept)}],
        "stop_reason": "max_tokens" if len(words) > len(kept) else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": count_tokens(prompt), "output_tokens": len(kept)},
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = common_arguments("A fake Anthropic Messages API on loopback.")
    args = parser.parse_args(argv)
    FakeAnthropic(
        host=args.host, port=args.port, latency_ms=args.latency_ms, api_key=args.api_key
    ).serve_forever()


if __name__ == "__main__":
    main()
