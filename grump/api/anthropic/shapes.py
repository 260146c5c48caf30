"""Anthropic's Messages shape to grump's chat shape and back: pure, no I/O.

Requests become a complete job's input (``CompleteInput``, OpenAI's chat shape),
by the inverse of the mapping the Anthropic provider applies upstream, so that ``cache_control`` reaches Anthropic on the block the client put
it on. Documented losses: ``thinking`` blocks, ``tool_result.is_error``,
``metadata``, ``top_k``, ``service_tier``. A job's result becomes a Messages answer.
"""

from __future__ import annotations

import json
from typing import Any

from grump.api.anthropic.models import (
    CountTokensBody,
    ImageBlock,
    MessageIn,
    MessagesBody,
    TextBlock,
    ThinkingBlock,
    ToolChoiceIn,
    ToolResultBlock,
    ToolUseBlock,
)
from grump.errors import ValidationFailed
from grump.routing.policy import AUTO_MODEL

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def _cached(part: dict[str, Any], cache_control: dict[str, Any] | None) -> dict[str, Any]:
    return {**part, "cache_control": cache_control} if cache_control is not None else part


def text_part(block: TextBlock) -> dict[str, Any]:
    """A text block as a content part, its cache breakpoint kept."""
    return _cached({"type": "text", "text": block.text}, block.cache_control)


def image_part(block: ImageBlock) -> dict[str, Any]:
    """An image block as an ``image_url`` part (inline images as a data URL)."""
    source = block.source
    if source.type == "base64":
        url = f"data:{source.media_type};base64,{source.data}"
    else:
        url = source.url
    return _cached({"type": "image_url", "image_url": {"url": url}}, block.cache_control)


def _part(block: TextBlock | ImageBlock) -> dict[str, Any]:
    return text_part(block) if isinstance(block, TextBlock) else image_part(block)


def system_message(system: str | list[TextBlock]) -> dict[str, Any]:
    """``system`` as the first message: a string stays a string, blocks become parts."""
    if isinstance(system, str):
        return {"role": "system", "content": system}
    return {"role": "system", "content": [text_part(b) for b in system]}


def _tool_message(block: ToolResultBlock) -> dict[str, Any]:
    content: str | list[dict[str, Any]]
    content = block.content if isinstance(block.content, str) else [_part(b) for b in block.content]
    message = {"role": "tool", "tool_call_id": block.tool_use_id, "content": content}
    return _cached(message, block.cache_control)


def _user_messages(message: MessageIn, where: str) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"role": "user", "content": message.content}]
    tools = [_tool_message(b) for b in message.content if isinstance(b, ToolResultBlock)]
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(message.content):
        if isinstance(block, TextBlock | ImageBlock):
            parts.append(_part(block))
        elif isinstance(block, ToolUseBlock):
            raise ValidationFailed(f"{where}.content[{index}]", "tool_use is for assistant turns")
    if parts or not tools:
        return [*tools, {"role": "user", "content": parts}]
    return tools


def _assistant_message(message: MessageIn, where: str) -> dict[str, Any]:
    if isinstance(message.content, str):
        return {"role": "assistant", "content": message.content}
    texts: list[TextBlock] = []
    calls: list[dict[str, Any]] = []
    out: dict[str, Any] = {"role": "assistant"}
    for index, block in enumerate(message.content):
        if isinstance(block, TextBlock):
            texts.append(block)
        elif isinstance(block, ToolUseBlock):
            arguments = json.dumps(block.input, separators=(",", ":"))
            function = {"name": block.name, "arguments": arguments}
            calls.append({"id": block.id, "type": "function", "function": function})
            if block.cache_control is not None:
                out["cache_control"] = block.cache_control
        elif not isinstance(block, ThinkingBlock):
            raise ValidationFailed(f"{where}.content[{index}]", f"{block.type} is for user turns")
    if any(t.cache_control is not None for t in texts):
        out["content"] = [text_part(t) for t in texts]
    elif texts or not calls:
        out["content"] = "".join(t.text for t in texts)
    else:
        out["content"] = None
    if calls:
        out["tool_calls"] = calls
    return out


def chat_messages(body: CountTokensBody) -> list[dict[str, Any]]:
    """The conversation (system first) in grump's chat shape."""
    messages = [system_message(body.system)] if body.system else []
    for index, message in enumerate(body.messages):
        where = f"messages[{index}]"
        if message.role == "user":
            messages.extend(_user_messages(message, where))
        else:
            messages.append(_assistant_message(message, where))
    return messages


def chat_tools(body: CountTokensBody) -> list[dict[str, Any]] | None:
    """Client tools as OpenAI function tools; Anthropic's server tools are refused."""
    if not body.tools:
        return None
    tools = []
    for index, tool in enumerate(body.tools):
        if tool.type not in (None, "custom") or tool.input_schema is None:
            reason = "only client tools with an input_schema are supported (no server tools)"
            raise ValidationFailed(f"tools[{index}]", reason)
        function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
        if tool.description is not None:
            function["description"] = tool.description
        tools.append(_cached({"type": "function", "function": function}, tool.cache_control))
    return tools


def chat_tool_choice(choice: ToolChoiceIn) -> str | dict[str, Any]:
    """Anthropic's tool choice as OpenAI's."""
    if choice.type == "tool":
        if not choice.name:
            raise ValidationFailed("tool_choice.name", "a tool choice of type tool names the tool")
        return {"type": "function", "function": {"name": choice.name}}
    return {"auto": "auto", "any": "required", "none": "none"}[choice.type]


def complete_input(body: MessagesBody) -> dict[str, Any]:
    """The complete job's input (``CompleteInput``'s fields) for a Messages request."""
    values: dict[str, Any] = {"messages": chat_messages(body), "max_tokens": body.max_tokens}
    if body.model != AUTO_MODEL:
        values["model"] = body.model
    tools = chat_tools(body)
    if tools is not None:
        values["tools"] = tools
    if body.tool_choice is not None:
        values["tool_choice"] = chat_tool_choice(body.tool_choice)
        if body.tool_choice.disable_parallel_tool_use:
            values["parallel_tool_calls"] = False
    if body.stop_sequences:
        values["stop"] = body.stop_sequences
    for name in ("temperature", "top_p"):
        if getattr(body, name) is not None:
            values[name] = getattr(body, name)
    if body.stream:
        values["stream"] = True
    return values


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments as a ``tool_use`` input; text that is not an object is kept raw."""
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        return {"_raw_arguments": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw_arguments": arguments}


def usage_of(result: dict[str, Any]) -> dict[str, int]:
    """A result's usage as Anthropic reports it: ``input_tokens`` leaves out the cache's."""
    usage = result.get("usage") or {}
    read = int(usage.get("cache_read_input_tokens", 0))
    write = int(usage.get("cache_creation_input_tokens", 0))
    return {
        "input_tokens": max(0, int(usage.get("prompt_tokens", 0)) - read - write),
        "output_tokens": int(usage.get("completion_tokens", 0)),
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
    }


def stop_reason(result: dict[str, Any]) -> str:
    """A result's finish reason as Anthropic's stop reason."""
    if result.get("stop_sequence"):
        return "stop_sequence"
    return STOP_REASONS.get(str(result.get("finish_reason") or "stop"), "end_turn")


def answer_blocks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A result's text and tool calls as content blocks."""
    blocks: list[dict[str, Any]] = []
    if result.get("content"):
        blocks.append({"type": "text", "text": str(result["content"])})
    for call in result.get("tool_calls") or ():
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": tool_input(str(function.get("arguments") or "")),
            }
        )
    return blocks


def message_answer(message_id: str, model: str, result: dict[str, Any]) -> dict[str, Any]:
    """A succeeded complete job's result as Anthropic's ``message`` object."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": answer_blocks(result),
        "stop_reason": stop_reason(result),
        "stop_sequence": result.get("stop_sequence"),
        "usage": usage_of(result),
    }
