"""A fake NVIDIA NIM: OpenAI-compatible chat completions and NIM embeddings.

Chat answers (plain or streamed as OpenAI's chunks) are ``tests.fakes.openai_chat``'s:
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
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from tests.fakes.chat import DEFAULT_STREAM_GAP_MS, count_tokens
from tests.fakes.invoice import text_tokens_sent
from tests.fakes.openai_chat import chat_problem, chat_step, chat_usage
from tests.fakes.server import ErrorShape, FakeServer, LoggedRequest, Step, common_arguments, reply

__all__ = ["FakeNim", "count_tokens", "fake_vector"]

DEFAULT_DIMENSIONS = 1024
DEFAULT_TOKEN_LIMIT = 512
_TRUNCATE_MODES = ("NONE", "START", "END")


def fake_vector(text: str, dimensions: int, input_type: str = "passage") -> list[float]:
    """The unit vector the fake returns for ``text``."""
    seed = int.from_bytes(hashlib.sha256(f"{input_type}\0{text}".encode()).digest()[:8], "big")
    values = np.random.default_rng(seed).standard_normal(dimensions)
    norm = float(np.linalg.norm(values)) or 1.0
    vector: list[float] = (values / norm).tolist()
    return vector


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
        problem = chat_problem(body)
        if problem:
            return self.error(400, problem)
        step = chat_step(body, self.stream_gap_ms)
        usage = chat_usage(body)
        model = str(body.get("model", "unknown"))
        if step.chunks is None:
            self.invoice.bill(
                model, uncached=usage["prompt_tokens"], output=usage["completion_tokens"]
            )
            return step

        def bill(sent: int, whole: bool) -> None:
            chunks = step.chunks or ()
            output = usage["completion_tokens"] if whole else text_tokens_sent(chunks[:sent])
            self.invoice.bill(
                model, uncached=usage["prompt_tokens"], output=output, cancelled=not whole
            )

        return replace(step, billing=bill)

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
