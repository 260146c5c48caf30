"""Building provider requests in tests: a model and (role, text) messages."""

from __future__ import annotations

from grump.jobs.models import CompleteInput
from grump.providers.base import ChatRequest


def chat_request(
    model: str, *messages: tuple[str, str], max_tokens: int = 512, temperature: float = 0.0
) -> ChatRequest:
    """A ChatRequest for ``model`` with plain-text ``messages``."""
    payload = CompleteInput.model_validate(
        {
            "messages": [{"role": role, "content": text} for role, text in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
    )
    return ChatRequest(model=model, input=payload)
