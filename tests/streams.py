"""Reading a provider's stream in tests: its retries, its pieces, a tool turn, closing it early."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from grump.jobs.models import CompleteInput
from grump.providers.base import ChatDelta, ChatProvider, ChatRequest, ChatResult
from grump.providers.http import RetryPolicy
from tests.fakes.server import FakeServer

# Retries as the providers make them, with waits short enough for a test.
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=1.0)


def collect(items: Iterable[ChatDelta | ChatResult]) -> tuple[list[ChatDelta], ChatResult]:
    """A stream's deltas and the whole answer that closes it (checked to be so)."""
    *deltas, result = list(items)
    assert isinstance(result, ChatResult)
    assert all(isinstance(d, ChatDelta) for d in deltas)
    return deltas, result  # type: ignore[return-value]


def streamed_and_plain(
    chat: ChatProvider, request: ChatRequest
) -> tuple[list[ChatDelta], ChatResult, ChatResult]:
    """``request`` streamed, then asked plainly: the deltas, the streamed answer, the plain one."""
    deltas, result = collect(chat.stream(request))
    return deltas, result, chat.complete(request)


def tool_turn(model: str, content: str, tools: list[dict[str, Any]]) -> ChatRequest:
    """One user message to ``model``, offering ``tools``."""
    payload = {"messages": [{"role": "user", "content": content}], "tools": tools}
    return ChatRequest(model=model, input=CompleteInput.model_validate(payload))


def first_then_close(fake: FakeServer, stream: Iterator[ChatDelta | ChatResult]) -> object:
    """The stream's first piece; then it is closed, and the fake given time to see it go."""
    first = next(stream)
    stream.close()
    deadline = time.monotonic() + 10
    while fake.client_disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    return first
