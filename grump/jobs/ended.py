"""Handing waiting callers their job's row once it has ended, read for many callers at once.

A thousand callers woken together (a burst of results, or the subscription made
anew after a Redis restart, which wakes everyone) must not make a thousand
ledger reads: one thread per process collects the jobs to look at, from job
events, from each new caller and from a sweep of every job still waited on
each ``GRUMP_RESULT_RECHECK_SECONDS`` (the bound on a lost event), and reads
them in one query per batch. A caller waits on a thread or on an event loop
at no thread of its own, and reads nothing itself.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from grump.jobs.events import JobEvent
from grump.jobs.waiters import JobWaiters
from grump.ledger.models import Job

log = logging.getLogger(__name__)

# Reads the rows of those of ``ids`` that have ended (detached from their session).
Loader = Callable[[list[uuid.UUID]], dict[uuid.UUID, Job]]

# At most this many jobs per query; a pause after a failed read before the next.
_BATCH, _FAILED_READ_PAUSE = 500, 1.0


@dataclass
class _Caller:
    """One waiting caller: how to hand it the row, from the resolver's thread."""

    deliver: Callable[[Job], None]
    token: int = 0
    done: bool = field(default=False)


class EndedJobs:
    """This process's callers waiting for jobs to end, answered by batched reads of the ledger."""

    def __init__(self, waiters: JobWaiters, load: Loader, recheck_seconds: float) -> None:
        self._waiters = waiters
        self._load = load
        self._recheck = recheck_seconds
        self._callers: dict[uuid.UUID, list[_Caller]] = {}
        self._lock = threading.Lock()
        self._todo: queue.SimpleQueue[uuid.UUID | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._sweep_now = threading.Event()

    def wait(self, job_id: uuid.UUID, timeout: float) -> Job | None:
        """The job's row once it has ended; None if it has not within ``timeout``."""
        found: list[Job] = []
        ready = threading.Event()

        def deliver(job: Job) -> None:
            found.append(job)
            ready.set()

        caller = self._add(job_id, deliver)
        try:
            ready.wait(timeout)
        finally:
            self._remove(job_id, caller)
        return found[0] if found else None

    async def await_ended(self, job_id: uuid.UUID, timeout: float) -> Job | None:
        """``wait`` on the running event loop: the caller holds no thread."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Job] = loop.create_future()

        def deliver(job: Job) -> None:
            loop.call_soon_threadsafe(_settle, answer, job)

        caller = self._add(job_id, deliver)
        try:
            return await asyncio.wait_for(asyncio.shield(answer), timeout)
        except TimeoutError:
            return None
        finally:
            self._remove(job_id, caller)

    def waiting(self) -> int:
        """How many callers wait."""
        with self._lock:
            return sum(len(callers) for callers in self._callers.values())

    def close(self) -> None:
        """Stop the resolver thread."""
        self._stop.set()
        self._todo.put(None)

    def _add(self, job_id: uuid.UUID, deliver: Callable[[Job], None]) -> _Caller:
        caller = _Caller(deliver)
        caller.token = self._waiters.watch(job_id, self._on_event)
        with self._lock:
            self._callers.setdefault(job_id, []).append(caller)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._resolve_forever, name="grump-ended-jobs", daemon=True
                )
                self._thread.start()
        self._todo.put(job_id)  # it may have ended already: looked at with the next batch
        return caller

    def _remove(self, job_id: uuid.UUID, caller: _Caller) -> None:
        self._waiters.unwatch(job_id, caller.token)
        with self._lock:
            callers = self._callers.get(job_id, [])
            if caller in callers:
                callers.remove(caller)
            if not callers:
                self._callers.pop(job_id, None)

    def _on_event(self, event: JobEvent | None) -> None:
        if event is None:  # events may have been lost: look at every job waited on, once
            self._sweep_now.set()
            self._todo.put(None)
        elif event.kind == "final":
            self._todo.put(event.job_id)

    def _enqueue(self, job_ids: Iterable[uuid.UUID]) -> None:
        for job_id in job_ids:
            self._todo.put(job_id)

    def _watched(self) -> list[uuid.UUID]:
        with self._lock:
            return list(self._callers)

    def _resolve_forever(self) -> None:
        next_sweep = time.monotonic() + self._recheck
        while not self._stop.is_set():
            batch = self._collect(max(0.0, next_sweep - time.monotonic()))
            if self._sweep_now.is_set() or time.monotonic() >= next_sweep:
                self._sweep_now.clear()
                batch.update(self._watched())
                next_sweep = time.monotonic() + self._recheck
            watched = set(self._watched())
            wanted = [job_id for job_id in batch if job_id in watched]
            for start in range(0, len(wanted), _BATCH):
                if not self._resolve(wanted[start : start + _BATCH]):
                    self._stop.wait(_FAILED_READ_PAUSE)
                    self._enqueue(wanted[start:])
                    break

    def _collect(self, timeout: float) -> set[uuid.UUID]:
        """The jobs asked about: wait for the first (or the sweep), then take all that queued up."""
        batch: set[uuid.UUID] = set()
        try:
            first = self._todo.get(timeout=timeout)
        except queue.Empty:
            return batch
        if first is not None:
            batch.add(first)
        while len(batch) < _BATCH * 4:
            try:
                more = self._todo.get_nowait()
            except queue.Empty:
                break
            if more is not None:
                batch.add(more)
        return batch

    def _resolve(self, job_ids: list[uuid.UUID]) -> bool:
        """Read ``job_ids`` and answer the callers of those that ended; False when the read failed."""
        try:
            ended = self._load(job_ids)
        except Exception as exc:
            log.warning("waiting callers: reading %d jobs failed: %s", len(job_ids), exc)
            return False
        for job_id, job in ended.items():
            with self._lock:
                callers = [c for c in self._callers.get(job_id, []) if not c.done]
                for caller in callers:
                    caller.done = True
            for caller in callers:
                try:
                    caller.deliver(job)
                except Exception:
                    log.exception("handing job %s to a waiting caller failed", job_id)
        return True


def _settle(answer: asyncio.Future[Any], job: Job) -> None:
    if not answer.done():
        answer.set_result(job)
