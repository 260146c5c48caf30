"""What both fake chat providers share: the deterministic answer to a request.

A request that offers tools and ends with the user's turn gets a tool call:
the tool ``tool_choice`` names, else the first one, with arguments built from
its JSON schema (:func:`example_arguments`), so a test knows them in advance.
Anything else gets the echo of the last message's text. Streamed answers are
cut into pieces the way providers cut them: text word by word (each piece
after the first with its leading space), tool arguments in short fragments.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

ARGUMENT_FRAGMENT_CHARS = 8
DEFAULT_STREAM_GAP_MS = 5.0


def count_tokens(text: str) -> int:
    """The fakes' tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def example_value(schema: Any, name: str = "value") -> Any:
    """A value that fits ``schema``: its enum's first, else one per type, objects filled in."""
    if not isinstance(schema, dict):
        return f"example {name}"
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        return example_arguments(schema)
    if kind == "array":
        return [example_value(schema.get("items"), name)]
    return {"integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, f"example {name}")


def example_arguments(schema: Any) -> dict[str, Any]:
    """Arguments for a tool with this parameters schema: every property, in order."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    return {key: example_value(sub, key) for key, sub in properties.items()}


def stable_id(prefix: str, *parts: object) -> str:
    """An id that is the same for the same request: tests can predict it by calling this."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"{prefix}{digest[:24]}"


def text_pieces(text: str) -> list[str]:
    """``text`` as streamed text deltas: word by word, spaces kept, joining back to ``text``."""
    words = text.split(" ")
    return [words[0], *(f" {w}" for w in words[1:])] if text else []


def argument_fragments(arguments: str) -> list[str]:
    """Tool arguments as streamed fragments of a few characters each."""
    size = ARGUMENT_FRAGMENT_CHARS
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]
