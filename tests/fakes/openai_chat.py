"""The fake NIM's chat completions: OpenAI's wire format, plain and streamed.

Checks what OpenAI's API checks (messages, ``max_tokens``, function tools,
``tool_choice`` only with tools, a tool message answering the call before it)
and answers as ``tests.fakes.chat`` says: a tool call when tools are offered
and the user spoke last, else an echo; streamed as ``chat.completion.chunk``
events (role, text word by word or the call's id and name then its argument
fragments, the finish, the usage chunk when asked for, ``[DONE]``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.chat import (
    argument_fragments,
    count_tokens,
    example_arguments,
    stable_id,
    text_pieces,
)
from tests.fakes.steps import Step, reply, sse_event, streamed


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


def chat_problem(body: Any) -> str | None:
    """The 400 message for a chat request OpenAI's API refuses, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return "messages: field required"
    messages = body["messages"]
    if not messages or not all(isinstance(m, dict) for m in messages):
        return "messages: must be a non-empty list of objects"
    max_tokens = body.get("max_tokens", 1024)
    if not isinstance(max_tokens, int) or max_tokens < 1:
        return "max_tokens: must be a positive integer"
    return _tools_problem(body) or _tool_messages_problem(messages)


def chat_usage(body: dict[str, Any]) -> dict[str, int]:
    """The usage the answer to a valid chat request reports."""
    return _answer(body, body.get("max_tokens", 1024)).usage


def chat_step(body: dict[str, Any], stream_gap_ms: float) -> Step:
    """The answer to a valid chat request: a completion, or its chunks when streamed."""
    answer = _answer(body, body.get("max_tokens", 1024))
    if body.get("stream"):
        return _streamed(body, answer, stream_gap_ms)
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


def _streamed(body: dict[str, Any], answer: _Answer, stream_gap_ms: float) -> Step:
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
                {"tool_calls": [{**start, "function": {"name": function["name"], "arguments": ""}}]}
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
    return streamed(*events, gap_ms=stream_gap_ms)
