"""What one follower of a streamed job has read of its log and given its caller (pure: no I/O).

``grump.jobs.stream.follow`` reads the job's log (``grump.jobs.deltalog``) and
its ``delta`` events; :class:`Seen` decides what of them to give: the latest
run's deltas in order, each once, and whether a new run replaced the one
followed. At the job's end it says what of the recorded answer the caller has
not had yet, or that what was given is not that answer.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from grump.jobs.deltalog import START, Entry, TextDelta, ToolCallDelta, pieces_of
from grump.jobs.events import JobEvent


class Seen:
    """What one follower has read of a job's log and given its caller (pure: no I/O)."""

    def __init__(self) -> None:
        self.last_id = START
        self.attempt: str | None = None
        self.claimer: str | None = None
        self.restarted = False
        self.seq = 0  # the last delta entry of our run given
        self.text: list[str] = []
        self.tools: dict[int, list[str]] = {}  # index -> argument fragments given

    @property
    def given(self) -> bool:
        """Whether any delta went to the caller."""
        return bool(self.text or self.tools)

    def take(self, entries: list[Entry]) -> list[TextDelta | ToolCallDelta]:
        """The deltas of ``entries`` to give, in order; ``restarted`` when a new run replaced ours."""
        if not entries:
            return []
        self.last_id = entries[-1].id
        if not self.given:
            # Nothing given yet: only the latest run's deltas matter.
            markers = [i for i, e in enumerate(entries) if e.attempt is not None]
            entries = entries[markers[-1] :] if markers else entries
        out: list[TextDelta | ToolCallDelta] = []
        for entry in entries:
            if entry.attempt is not None:
                if self.given and entry.attempt != self.attempt:
                    self.restarted = True
                    return out
                if entry.attempt != self.attempt:
                    self.seq = 0
                self.attempt, self.claimer = entry.attempt, entry.claimer or None
                continue
            if entry.seq and entry.seq <= self.seq:
                continue  # had from its event already
            self.seq = max(self.seq, entry.seq)
            for piece in entry.pieces:
                self._note(piece)
                out.append(piece)
        return out

    def apply(self, data: dict[str, Any] | None) -> list[TextDelta | ToolCallDelta] | None:
        """The deltas a ``delta`` event carries when it is the next entry of our run
        (``[]`` when it was had already); None when the log must be read instead."""
        if data is None or self.attempt is None or data.get("a") != self.attempt:
            return None
        seq = int(data.get("n", 0))
        if seq <= self.seq:
            return []
        if seq != self.seq + 1:
            return None  # one was missed: the log has it
        self.seq = seq
        pieces = list(pieces_of(data.get("p") or ()))
        for piece in pieces:
            self._note(piece)
        return pieces

    def apply_events(
        self, events: deque[JobEvent | None]
    ) -> tuple[list[TextDelta | ToolCallDelta], bool]:
        """The deltas of the queued events, and whether the log must be read for more."""
        pieces: list[TextDelta | ToolCallDelta] = []
        read = False
        while events:
            event = events.popleft()
            if event is not None and event.kind == "final":
                continue  # the end comes from the ledger
            found = None if read or event is None else self.apply(event.data)
            if found is None:
                read = True  # and the events after it are in the log too
            else:
                pieces += found
        return pieces, read

    def _note(self, piece: TextDelta | ToolCallDelta) -> None:
        if isinstance(piece, TextDelta):
            self.text.append(piece.text)
        else:
            self.tools.setdefault(piece.index, []).append(piece.arguments)

    def rest_of(self, result: dict[str, Any]) -> list[TextDelta | ToolCallDelta] | None:
        """What of the recorded ``result`` was not given yet; None when what was given differs."""
        rest: list[TextDelta | ToolCallDelta] = []
        content, given = str(result.get("content") or ""), "".join(self.text)
        if not content.startswith(given):
            return None
        if len(content) > len(given):
            rest.append(TextDelta(content[len(given) :]))
        calls = list(result.get("tool_calls") or ())
        if any(index >= len(calls) for index in self.tools):
            return None
        for index, call in enumerate(calls):
            function = call.get("function") or {}
            arguments = str(function.get("arguments", ""))
            fragments = self.tools.get(index)
            if fragments is None:
                rest.append(ToolCallDelta(index, arguments, call.get("id"), function.get("name")))
                continue
            sent = "".join(fragments)
            if not arguments.startswith(sent):
                return None
            if len(arguments) > len(sent):
                rest.append(ToolCallDelta(index, arguments[len(sent) :]))
        return rest


def deltas_of_result(result: dict[str, Any]) -> list[TextDelta | ToolCallDelta]:
    """A recorded answer as the deltas that would have produced it, whole."""
    return Seen().rest_of(result) or []
