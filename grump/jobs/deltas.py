"""The worker's side of a streamed job: its provider's deltas written to the job's log as they come.

A ``DeltaWriter`` is one run of one job. Its first write marks the attempt
(``grump.jobs.deltalog``); then each delta is written at once when the last
write is at least ``GRUMP_STREAM_FLUSH_MS`` old, else kept and written with the
pieces that follow within that interval, by this process's one flusher thread
if none follows: a burst of small pieces costs one Redis round trip, and a lone
piece waits at most the interval. Each write reads the job's cancel flag too,
so checking it between deltas costs nothing more.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from grump.jobs.deltalog import DeltaLog, Piece, TextDelta, ToolCallDelta
from grump.providers.base import ChatDelta


def piece_of(delta: ChatDelta) -> Piece | None:
    """A provider's delta as the log keeps it; None for an empty one."""
    if delta.tool_index is not None:
        return ToolCallDelta(delta.tool_index, delta.tool_arguments, delta.tool_id, delta.tool_name)
    return TextDelta(delta.text) if delta.text else None


def coalesce(pieces: Sequence[Piece]) -> list[Piece]:
    """Adjacent text pieces joined, and adjacent fragments of one tool call."""
    merged: list[Piece] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if isinstance(piece, TextDelta) and isinstance(last, TextDelta):
            merged[-1] = TextDelta(last.text + piece.text)
        elif (
            isinstance(piece, ToolCallDelta)
            and isinstance(last, ToolCallDelta)
            and last.index == piece.index
            and piece.id is None
            and piece.name is None
        ):
            merged[-1] = ToolCallDelta(
                last.index, last.arguments + piece.arguments, last.id, last.name
            )
        else:
            merged.append(piece)
    return merged


class DeltaWriter:
    """One run of a streamed job writing its deltas; ``cancel_requested`` once a cancel is seen."""

    def __init__(
        self,
        log: DeltaLog,
        job_id: uuid.UUID,
        flush_seconds: float,
        allow_cancel: Callable[[], bool] = lambda: True,
    ) -> None:
        self.job_id = job_id
        self.attempt = uuid.uuid4().hex
        self.cancel_requested = False
        self.sent = 0  # deltas handed to the log
        self.writes = 0  # entries written (the attempt marker included)
        self.seq = 0  # delta entries written
        self._log = log
        self._allow_cancel = allow_cancel
        self._flush_seconds = flush_seconds
        self._pending: list[Piece] = []
        self._last_write = 0.0
        self._scheduled = False
        self._lock = threading.Lock()

    def begin(self, claimer: str) -> None:
        """Mark this run in the log, before any delta."""
        with self._lock:
            self.cancel_requested = self._log.begin(self.job_id, self.attempt, claimer)
            self.writes += 1

    def may_cancel(self) -> bool:
        """Whether the cancel asked for is to be done; a refused one is forgotten."""
        if self._allow_cancel():
            return True
        with self._lock:
            self.cancel_requested = False
        return False

    def add(self, delta: ChatDelta) -> None:
        """Log a provider's delta now, or with the pieces that follow within the flush interval."""
        piece = piece_of(delta)
        if piece is None:
            return
        with self._lock:
            self._pending.append(piece)
            self.sent += 1
            due = self._last_write + self._flush_seconds
            if time.monotonic() >= due:
                self._write_locked()
            elif not self._scheduled:
                self._scheduled = True
                flusher().schedule(due, self)

    def flush(self) -> None:
        """Write what is kept (the flusher's call, and the run's last)."""
        with self._lock:
            self._scheduled = False
            self._write_locked()

    def _write_locked(self) -> None:
        if not self._pending:
            return
        pieces, self._pending = coalesce(self._pending), []
        self.seq += 1
        if self._log.append(self.job_id, self.attempt, self.seq, pieces):
            self.cancel_requested = True
        self.writes += 1
        self._last_write = time.monotonic()


class Flusher:
    """One thread per process writing the deltas writers kept when no piece followed in time."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, DeltaWriter]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="grump-delta-flusher", daemon=True)
        self._thread.start()

    def schedule(self, due: float, writer: DeltaWriter) -> None:
        """Flush ``writer`` at ``due`` (monotonic time)."""
        with self._wake:
            heapq.heappush(self._due, (due, next(self._order), writer))
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._wake.wait(timeout)
                _, _, writer = heapq.heappop(self._due)
            writer.flush()


_flusher: tuple[int, Flusher] | None = None
_flusher_lock = threading.Lock()


def flusher() -> Flusher:
    """This process's flusher (a forked child starts its own)."""
    global _flusher
    with _flusher_lock:
        if _flusher is None or _flusher[0] != os.getpid():
            _flusher = (os.getpid(), Flusher())
        return _flusher[1]
