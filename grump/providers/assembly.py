"""Putting a streamed answer back together: its deltas, summed into the whole answer.

The sum follows the openai SDK's (``ChatCompletionStreamState``): text pieces
are concatenated; a tool call is keyed by its ``index``, and every string the
fragments carry (id, name, arguments) is appended to what came before, so a
call whose id and name came on its first fragment and its arguments in pieces
after reads exactly as the SDK reads it. Tool calls come out in index order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grump.providers.base import ChatDelta, ToolCallResult


@dataclass
class _ToolCallSoFar:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class ChatAssembly:
    """The answer a stream of :class:`ChatDelta` has spelt so far."""

    _text: list[str] = field(default_factory=list)
    _calls: dict[int, _ToolCallSoFar] = field(default_factory=dict)

    def add(self, delta: ChatDelta) -> ChatDelta:
        """Take ``delta`` into the answer; returns it, so a reader can ``yield assembly.add(d)``."""
        if delta.text:
            self._text.append(delta.text)
        if delta.tool_index is not None:
            call = self._calls.setdefault(delta.tool_index, _ToolCallSoFar())
            call.id += delta.tool_id or ""
            call.name += delta.tool_name or ""
            call.arguments += delta.tool_arguments
        return delta

    @property
    def content(self) -> str:
        """Every text piece, joined."""
        return "".join(self._text)

    @property
    def tool_calls(self) -> tuple[ToolCallResult, ...]:
        """The tool calls, in index order."""
        return tuple(
            ToolCallResult(id=call.id, name=call.name, arguments=call.arguments)
            for _, call in sorted(self._calls.items())
        )
