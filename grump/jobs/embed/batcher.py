"""Gathering pieces of many jobs into provider calls: full, or after a short wait.

Job threads ``submit`` pieces and wait on their futures; one gathering thread
keeps an open batch per set of call parameters and hands a batch to a call
thread when it is full (``max_texts`` distinct texts, or ``max_tokens``
estimated tokens) or when its oldest piece has waited ``wait_seconds``. At most
``calls_in_flight`` calls run at once; while they do, open batches keep filling,
so a slow provider gets fuller batches rather than a longer line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from grump.jobs.embed.cache import EmbedParams
from grump.jobs.embed.calls import Piece
from grump.providers.base import estimate_tokens

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchLimits:
    """When an open batch is sent, and how many calls may run at once."""

    max_texts: int = 256
    max_tokens: int = 65_536
    wait_seconds: float = 0.010
    calls_in_flight: int = 2


@dataclass(eq=False)
class OpenBatch:
    """Pieces gathered for one call with the same params, with its distinct texts and tokens."""

    params: EmbedParams
    limits: BatchLimits
    pieces: list[Piece] = field(default_factory=list)
    distinct: set[str] = field(default_factory=set)
    tokens: int = 0
    opened_at: float = field(default_factory=time.monotonic)

    def fits(self, piece: Piece) -> bool:
        """Whether ``piece`` joins without going over a limit; an empty batch takes anything."""
        if not self.pieces:
            return True
        new = {t for t in piece.misses if t not in self.distinct}
        return (
            len(self.distinct) + len(new) <= self.limits.max_texts
            and self.tokens + sum(map(estimate_tokens, new)) <= self.limits.max_tokens
        )

    def add(self, piece: Piece) -> None:
        """Take ``piece`` in, counting only the texts the batch does not hold yet."""
        new = {t for t in piece.misses if t not in self.distinct}
        self.distinct |= new
        self.tokens += sum(map(estimate_tokens, new))
        self.pieces.append(piece)

    @property
    def full(self) -> bool:
        """Whether the batch reached a limit and is to be sent without waiting."""
        return len(self.distinct) >= self.limits.max_texts or self.tokens >= self.limits.max_tokens


CallRunner = Callable[[list[Piece]], None]


class Batcher:
    """The gathering thread and its call threads; starts on the first submit."""

    def __init__(self, run_call: CallRunner, limits: BatchLimits) -> None:
        self._run_call = run_call
        self.limits = limits
        self._cond = threading.Condition()
        self._open: dict[EmbedParams, OpenBatch] = {}
        self._ready: deque[OpenBatch] = deque()
        self._in_flight = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._calls = ThreadPoolExecutor(limits.calls_in_flight, "grump-embed-call")

    def submit(self, piece: Piece) -> None:
        """Add ``piece`` to the open batch of its params, sending that batch on once full."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the embedding batcher is closed")
            self._start_locked()
            batch = self._open.get(piece.params)
            if batch is not None and not batch.fits(piece):
                self._ready.append(self._open.pop(piece.params))
                batch = None
            if batch is None:
                batch = self._open[piece.params] = OpenBatch(piece.params, self.limits)
            batch.add(piece)
            if batch.full:
                self._ready.append(self._open.pop(piece.params))
            self._cond.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """Send what is gathered, wait for calls in flight, stop the threads."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self._calls.shutdown(wait=True)

    def _start_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._gather, name="grump-embed-batcher")
            self._thread.daemon = True  # pieces wait on futures; nothing to flush at exit
            self._thread.start()

    def _gather(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch_locked()
                if batch is None:
                    return
                self._in_flight += 1
            self._calls.submit(self._call, batch)

    def _next_batch_locked(self) -> OpenBatch | None:
        """Wait for a due batch and a free call slot; None once closed and drained."""
        while True:
            now = time.monotonic()
            if self._in_flight < self.limits.calls_in_flight:
                due = self._due_locked(now)
                if due is not None:
                    return due
            if self._closed and not self._ready and not self._open:
                return None
            self._cond.wait(self._timeout_locked(now))

    def _due_locked(self, now: float) -> OpenBatch | None:
        if self._ready:
            return self._ready.popleft()
        if not self._open:
            return None
        oldest = min(self._open.values(), key=lambda b: b.opened_at)
        if self._closed or now - oldest.opened_at >= self.limits.wait_seconds:
            return self._open.pop(oldest.params)
        return None

    def _timeout_locked(self, now: float) -> float | None:
        if self._in_flight >= self.limits.calls_in_flight or self._ready or not self._open:
            return None  # woken by a submit or a finished call
        oldest = min(b.opened_at for b in self._open.values())
        return max(0.0, oldest + self.limits.wait_seconds - now)

    def _call(self, batch: OpenBatch) -> None:
        try:
            self._run_call(batch.pieces)
        except Exception as exc:  # the runner resolves futures itself; this is a last guard
            log.exception("embedding call failed outside its error handling")
            for piece in batch.pieces:
                if not piece.future.done():
                    piece.future.set_exception(exc)
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()
