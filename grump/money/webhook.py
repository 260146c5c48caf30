"""Telling people: a Slack-compatible incoming webhook, for budget alerts and cost reports."""

from __future__ import annotations

import httpx


def post_webhook(url: str, text: str, timeout: float = 5.0) -> None:
    """POST ``{"text": text}`` (Slack's incoming-webhook shape); raises on failure."""
    response = httpx.post(url, json={"text": text}, timeout=timeout)
    response.raise_for_status()
