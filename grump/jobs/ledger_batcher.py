"""Group commit: what many threads of one process ask of the ledger together, written together.

An llm worker runs hundreds of jobs at once, one per thread. Each claims its
job and later records it; done one by one, that is a transaction (a pooled
connection, a round trip per statement, a commit) per job and step. A
``GroupCommit`` lets them share: a thread hands in its item and waits; if no
flush is running, it flushes at once every item queued so far (its own among
them), so a lone caller waits for nothing; the threads that arrive while a
flush runs are flushed together by the next one. Each caller gets its own
answer, or the error its group's flush raised.

What the flush does decides the guarantees, and the flushes of
``grump.jobs.run_grouped`` keep each job's: a claim is still conditional under its
lease, a record still one conditional UPDATE with the job's one cost event in
its transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class _Slot(Generic[In, Out]):
    """One caller's item and, once its group is flushed, its answer or error."""

    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: In) -> None:
        self.item = item
        self.done = False
        self.result: Out | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[In, Out]):
    """Items handed in by concurrent threads, flushed ``max_items`` at a time by one of them.

    ``flush`` takes the items of a group and returns one answer per item, in
    their order; when it raises, every caller of the group gets the error.
    """

    def __init__(self, flush: Callable[[Sequence[In]], Sequence[Out]], max_items: int) -> None:
        self._flush = flush
        self._max = max(1, max_items)
        self._queue: list[_Slot[In, Out]] = []
        self._flushing = False
        self._changed = threading.Condition(threading.Lock())

    def submit(self, item: In) -> Out:
        """Flush ``item`` with whatever else is queued, or wait for the flush that takes it."""
        slot: _Slot[In, Out] = _Slot(item)
        with self._changed:
            self._queue.append(slot)
        while True:
            with self._changed:
                while self._flushing and not slot.done:
                    self._changed.wait()
                if slot.done:
                    break
                group, self._queue = self._queue[: self._max], self._queue[self._max :]
                self._flushing = True
            self._run(group)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]  # set by the flush that took it

    def _run(self, group: list[_Slot[In, Out]]) -> None:
        try:
            answers = self._flush([slot.item for slot in group])
            if len(answers) != len(group):
                raise RuntimeError(f"a flush of {len(group)} items gave {len(answers)} answers")
            for slot, answer in zip(group, answers, strict=True):
                slot.result = answer
        except BaseException as exc:
            for slot in group:
                slot.error = exc
        finally:
            with self._changed:
                for slot in group:
                    slot.done = True
                self._flushing = False
                self._changed.notify_all()
