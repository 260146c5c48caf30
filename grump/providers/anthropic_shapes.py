"""grump's chat input (OpenAI's shape) as an Anthropic Messages request: pure translation.

The inverse of the Anthropic front door's translation, so that what a client
sent (``cache_control`` on a block above all) reaches Anthropic on the same
block. The rules (the table in the design notes, read backwards):

* system messages become ``system``: one string (joined by blank lines) when
  every one is plain text without ``cache_control``, else text blocks that
  keep each part's ``cache_control``;
* a ``tool`` message becomes a ``tool_result`` block (its ``cache_control`` on
  that block); consecutive ones form one user message, and a user message
  right after them joins it;
* an assistant message's ``tool_calls`` become ``tool_use`` blocks after its
  text; a message's own ``cache_control`` goes on its last block;
* image parts become image blocks (a ``data:`` URL as a base64 source, any
  other URL as a url source);
* tools get ``input_schema``; ``tool_choice`` auto / required / a function /
  none become auto / any / tool / none, and ``parallel_tool_calls: false``
  becomes ``disable_parallel_tool_use``; ``stop`` becomes ``stop_sequences``;
  the temperature is clamped to Anthropic's 0..1.

Lost on the way, for want of an equivalent: ``seed``, ``presence_penalty``,
``frequency_penalty``, a message's ``name``, and images in system messages;
a non-function tool is refused (ProviderError).
``response_format`` (``json_object`` / ``json_schema``) has no native field
in the 2023-06-01 API: it becomes a last system instruction asking for JSON
only (with the schema, for ``json_schema``).
"""

from __future__ import annotations

import json
from typing import Any

from grump.errors import ProviderError
from grump.jobs.models import ContentPart, Message
from grump.providers.base import ChatRequest

PROVIDER = "anthropic"

# Anthropic refuses a temperature above 1 with a 400; grump accepts OpenAI's 0..2.
MAX_TEMPERATURE = 1.0
_TOOL_CHOICES = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
_JSON_ONLY = "Answer with one JSON object and nothing else: no prose, no code fences."

Block = dict[str, Any]


def messages_payload(request: ChatRequest, *, stream: bool = False) -> dict[str, Any]:
    """The Messages API body for ``request`` (``stream: true`` when streamed)."""
    chat = request.input
    payload: dict[str, Any] = {
        "model": request.model,
        "max_tokens": chat.max_tokens,
        "temperature": min(max(chat.temperature, 0.0), MAX_TEMPERATURE),
        "messages": conversation(chat.messages),
    }
    system = system_field([m for m in chat.messages if m.role == "system"])
    system = _with_format_instruction(system, chat.response_format)
    if system:
        payload["system"] = system
    if chat.tools:
        payload["tools"] = [tool_payload(tool) for tool in chat.tools]
        choice = tool_choice_payload(chat.tool_choice, chat.parallel_tool_calls)
        if choice is not None:
            payload["tool_choice"] = choice
    if chat.stop:
        payload["stop_sequences"] = list(chat.stop)
    if chat.top_p is not None:
        payload["top_p"] = chat.top_p
    if stream:
        payload["stream"] = True
    return payload


def system_field(messages: list[Message]) -> str | list[Block] | None:
    """The ``system`` field for the chat's system messages, or None when there are none."""
    if not messages:
        return None
    if all(isinstance(m.content, str) and m.cache_control is None for m in messages):
        return "\n\n".join(str(m.content) for m in messages)
    blocks: list[Block] = []
    for message in messages:
        own = [b for b in content_blocks(message.content) if b["type"] == "text"]
        blocks += _marked_last(own, message.cache_control)
    return blocks


def conversation(messages: list[Message]) -> list[dict[str, Any]]:
    """The chat's non-system messages as Anthropic's user and assistant turns."""
    turns: list[dict[str, Any]] = []
    results_open = False  # the last turn is a user turn of tool results, still taking more
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            block = tool_result_block(message)
            if results_open:
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": "user", "content": [block]})
                results_open = True
            continue
        if message.role == "user" and results_open:
            turns[-1]["content"] += _marked_last(
                content_blocks(message.content), message.cache_control
            )
        elif message.role == "user":
            turns.append({"role": "user", "content": _user_content(message)})
        else:
            turns.append({"role": "assistant", "content": assistant_content(message)})
        results_open = False
    return turns


def _user_content(message: Message) -> str | list[Block]:
    if isinstance(message.content, str) and message.cache_control is None:
        return message.content
    return _marked_last(content_blocks(message.content), message.cache_control)


def assistant_content(message: Message) -> str | list[Block]:
    """An assistant message's content: a plain string when it is only text, else blocks."""
    if (
        isinstance(message.content, str)
        and not message.tool_calls
        and message.cache_control is None
    ):
        return message.content
    blocks = [b for b in content_blocks(message.content) if b["type"] != "text" or b["text"]]
    for call in message.tool_calls or ():
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": _arguments(call.function.arguments, call.function.name),
            }
        )
    return _marked_last(blocks, message.cache_control)


def _arguments(arguments: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError as exc:
        raise ProviderError(
            f"tool call {name!r}: arguments are not JSON: {arguments[:100]!r}", provider=PROVIDER
        ) from exc
    if not isinstance(value, dict):
        raise ProviderError(
            f"tool call {name!r}: arguments are not a JSON object", provider=PROVIDER
        )
    return value


def tool_result_block(message: Message) -> Block:
    """A ``tool`` message as Anthropic's ``tool_result`` block."""
    content: str | list[Block] = (
        message.content if isinstance(message.content, str) else content_blocks(message.content)
    )
    block: Block = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}
    if message.cache_control is not None:
        block["cache_control"] = message.cache_control
    return block


def content_blocks(content: str | list[ContentPart] | None) -> list[Block]:
    """A message's content as Anthropic content blocks (text and images)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [part_block(part) for part in content]


def part_block(part: ContentPart) -> Block:
    """One content part as a text or image block, its ``cache_control`` kept."""
    block: Block
    if part.type == "image_url":
        block = {
            "type": "image",
            "source": image_source(str((part.image_url or {}).get("url", ""))),
        }
    else:
        block = {"type": "text", "text": part.text or ""}
    if part.cache_control is not None:
        block["cache_control"] = part.cache_control
    return block


def image_source(url: str) -> Block:
    """An image URL as Anthropic's source: base64 for a ``data:`` URL, else by URL."""
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url.removeprefix("data:").partition(";base64,")
        return {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "url", "url": url}


def _marked_last(blocks: list[Block], cache_control: dict[str, Any] | None) -> list[Block]:
    if cache_control is not None and blocks:
        blocks[-1] = {**blocks[-1], "cache_control": cache_control}
    return blocks


def tool_payload(tool: dict[str, Any]) -> Block:
    """An OpenAI function tool as an Anthropic tool; ProviderError for another kind."""
    function = tool.get("function")
    if tool.get("type", "function") != "function" or not isinstance(function, dict):
        raise ProviderError(
            f"tools: only function tools reach Anthropic, got {tool.get('type')!r}",
            provider=PROVIDER,
        )
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    out: Block = {"name": function.get("name"), "input_schema": schema}
    if function.get("description"):
        out["description"] = function["description"]
    if tool.get("cache_control") is not None:
        out["cache_control"] = tool["cache_control"]
    return out


def tool_choice_payload(choice: str | dict[str, Any] | None, parallel: bool | None) -> Block | None:
    """``tool_choice`` and ``parallel_tool_calls`` as Anthropic's one ``tool_choice``."""
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        out: Block | None = {"type": "tool", "name": name}
    elif choice is None:
        out = {"type": "auto"} if parallel is False else None
    else:
        out = dict(_TOOL_CHOICES.get(choice, {"type": "auto"}))
    if out is not None and parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def _with_format_instruction(
    system: str | list[Block] | None, response_format: dict[str, Any] | None
) -> str | list[Block] | None:
    kind = (response_format or {}).get("type")
    if kind not in ("json_object", "json_schema"):
        return system
    instruction = _JSON_ONLY
    if kind == "json_schema":
        spec = (response_format or {}).get("json_schema") or {}
        schema = spec.get("schema", spec)
        instruction += f" It must match this JSON schema:\n{json.dumps(schema, sort_keys=True)}"
    if system is None:
        return instruction
    if isinstance(system, str):
        return f"{system}\n\n{instruction}"
    return [*system, {"type": "text", "text": instruction}]
