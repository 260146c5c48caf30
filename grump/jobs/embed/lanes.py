"""Merging the batches of messages that arrive while earlier ones are still being run.

celery-batches hands the worker a batch of messages every few milliseconds,
however few have arrived. Each batch has a fixed cost (a claim and a record
transaction, a wait for the provider), so running every small batch on its
own makes a busy worker slower exactly when it needs to be faster. Instead a
batch is queued here, and each of a few lanes takes everything queued when it
becomes free and runs it as one. Under light load a batch starts at once;
under heavy load batches grow until the lanes keep up (group commit).

The caller's thread waits for its own batch's report, so celery-batches
acknowledges the messages only after their jobs are recorded.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, Protocol, Self, TypeVar

log = logging.getLogger(__name__)

Messages = dict[uuid.UUID, int]  # job id -> priority


class Report(Protocol):
    """What running a batch returns: a report that can be cut into each merged batch's part."""

    def part(self, job_ids: Iterable[uuid.UUID]) -> Self:
        """The part of a merged batch's report that concerns ``job_ids``."""
        ...


R = TypeVar("R", bound=Report)


@dataclass
class _Entry(Generic[R]):
    messages: Messages
    future: Future[R]


class Lanes(Generic[R]):
    """``lanes`` threads, each running all that is queued (up to ``max_jobs``) as one batch."""

    def __init__(self, run_batch: Callable[[Messages], R], lanes: int, max_jobs: int) -> None:
        self._run_batch = run_batch
        self._max_jobs = max_jobs
        self._cond = threading.Condition()
        self._queued: list[_Entry[R]] = []
        self._threads = [
            threading.Thread(target=self._lane, name=f"grump-embed-lane-{i}", daemon=True)
            for i in range(lanes)
        ]
        self._started = False

    def run(self, messages: Messages, timeout: float | None = None) -> R:
        """Run ``messages`` (merged with others queued meanwhile); this batch's part of the report."""
        entry: _Entry[R] = _Entry(messages, Future())
        with self._cond:
            if not self._started:
                for thread in self._threads:
                    thread.start()
                self._started = True
            self._queued.append(entry)
            self._cond.notify()
        return entry.future.result(timeout)

    def _take_locked(self) -> list[_Entry[R]]:
        taken: list[_Entry[R]] = []
        jobs = 0
        while self._queued and (
            not taken or jobs + len(self._queued[0].messages) <= self._max_jobs
        ):
            entry = self._queued.pop(0)
            taken.append(entry)
            jobs += len(entry.messages)
        return taken

    def _lane(self) -> None:
        while True:
            with self._cond:
                while not self._queued:
                    self._cond.wait()
                taken = self._take_locked()
            merged: Messages = {}
            for entry in taken:
                merged.update(entry.messages)
            log.debug("running %d embed jobs from %d batches", len(merged), len(taken))
            try:
                report = self._run_batch(merged)
            except Exception as exc:  # every waiting caller learns of it; the lane goes on
                for entry in taken:
                    entry.future.set_exception(exc)
                continue
            for entry in taken:
                entry.future.set_result(report.part(entry.messages.keys()))
