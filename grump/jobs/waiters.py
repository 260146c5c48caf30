"""The callers of one process waiting on jobs, woken by job events (``grump.jobs.events``).

One thread per process holds one pattern subscription to every job channel,
started when the first caller waits; a caller registers a callback for its
job, and is called for each event of that job. The events of jobs that ran in
this very process (the embedded mode) are dispatched directly.

A caller waits either on a thread (``wait_for``) or on an event loop
(``await_for``): the listener thread wakes an awaiting caller through its
loop's ``call_soon_threadsafe``, so any number of them wait at no thread each.

An event never stands alone: the ledger is read when it arrives, and again
every ``GRUMP_RESULT_RECHECK_SECONDS`` in case one was lost; each time the
subscription is (re)made every caller is woken, since events published while it
was down are gone. Callers waiting for a job's end (``wait_final``,
``await_final``) have those reads made for them in batches by
``grump.jobs.ended``; ``wait_for`` and ``await_for`` read for themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import bindparam, select

from grump.jobs.events import CHANNEL_PATTERN, JobEvent, publish
from grump.jobs.models import JobStatus
from grump.jobs.rows import detached_job
from grump.ledger.db import session_scope
from grump.ledger.models import JOBS, Job

if TYPE_CHECKING:
    from grump.runtime import Runtime

log = logging.getLogger(__name__)

T = TypeVar("T")
Callback = Callable[[JobEvent | None], None]  # None: "re-check, something may be missed"

# Pauses before subscribing again after Redis went away: short, then capped.
_RESUBSCRIBE_FIRST, _RESUBSCRIBE_MAX = 0.2, 5.0


class JobWaiters:
    """Who in this process waits on which job, and the subscription that wakes them."""

    def __init__(self, client: Redis | None, recheck_seconds: float) -> None:
        self.recheck_seconds = recheck_seconds
        self._client = client
        self._watching: dict[uuid.UUID, dict[int, Callback]] = {}
        self._lock = threading.Lock()
        self._next_token = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Set while the subscription is live (tests and readiness can wait on it).
        self.subscribed = threading.Event()

    def publish(self, events: Iterable[JobEvent]) -> None:
        """Tell every process's waiters (this one's at once) about ``events``."""
        batch = list(events)
        publish(self._client, batch)
        for event in batch:
            self._dispatch(event)

    def announce_final(self, job_ids: Iterable[uuid.UUID]) -> None:
        """The jobs ``job_ids`` have just ended (their end is committed)."""
        self.publish(JobEvent(job_id, "final") for job_id in job_ids)

    def watch(self, job_id: uuid.UUID, callback: Callback) -> int:
        """Call ``callback`` for each event of ``job_id`` until ``unwatch``; its token."""
        with self._lock:
            self._next_token += 1
            token = self._next_token
            self._watching.setdefault(job_id, {})[token] = callback
            if self._client is not None and self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, name="grump-job-events", daemon=True
                )
                self._thread.start()
        return token

    def unwatch(self, job_id: uuid.UUID, token: int) -> None:
        """Stop calling the callback ``token`` for ``job_id``."""
        with self._lock:
            callbacks = self._watching.get(job_id)
            if callbacks is not None:
                callbacks.pop(token, None)
                if not callbacks:
                    del self._watching[job_id]

    def wait_for(
        self, job_id: uuid.UUID, check: Callable[[], T | None], timeout: float
    ) -> T | None:
        """``check()``'s first answer that is not None, re-checked on each event; None at timeout."""
        woken = threading.Event()
        token = self.watch(job_id, lambda _: woken.set())
        try:
            deadline = time.monotonic() + timeout
            while True:
                found = check()
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                woken.wait(min(remaining, self.recheck_seconds))
                woken.clear()
        finally:
            self.unwatch(job_id, token)

    async def await_for(
        self, job_id: uuid.UUID, check: Callable[[], Awaitable[T | None]], timeout: float
    ) -> T | None:
        """``wait_for`` on the running event loop: the caller holds no thread while it waits."""
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake(_: JobEvent | None) -> None:
            # Events arrive on the listener's thread (or a worker's, embedded): the loop sets it.
            loop.call_soon_threadsafe(woken.set)

        token = self.watch(job_id, wake)
        try:
            deadline = loop.time() + timeout
            while True:
                found = await check()
                if found is not None:
                    return found
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), min(remaining, self.recheck_seconds))
                woken.clear()
        finally:
            self.unwatch(job_id, token)

    def waiting(self) -> int:
        """How many jobs callers of this process wait on."""
        with self._lock:
            return len(self._watching)

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()

    def _dispatch(self, event: JobEvent | None) -> None:
        with self._lock:
            if event is not None:
                callbacks = list(self._watching.get(event.job_id, {}).values())
            else:
                callbacks = [c for group in self._watching.values() for c in group.values()]
        for callback in callbacks:
            try:
                callback(event)
            except Exception:
                log.exception("a job event's callback failed")

    def _listen(self) -> None:
        assert self._client is not None
        pause = _RESUBSCRIBE_FIRST
        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call,unused-ignore]
            try:
                pubsub.psubscribe(CHANNEL_PATTERN)
                pubsub.get_message(timeout=1.0)  # the subscription's confirmation
                self.subscribed.set()
                # Whatever was published while not subscribed is lost: everyone looks now.
                self._dispatch(None)
                pause = _RESUBSCRIBE_FIRST
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "pmessage":
                        event = JobEvent.decode(message["channel"], message["data"])
                        if event is not None:
                            self._dispatch(event)
            except (RedisError, OSError, ValueError) as exc:
                # ValueError: redis-py reading a socket closed under it (the client closed).
                self.subscribed.clear()
                log.warning("job events: %s; subscribing again in %.1f s", exc, pause)
                self._stop.wait(pause)
                pause = min(_RESUBSCRIBE_MAX, pause * 2)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    pubsub.close()


def load_ended(runtime: Runtime) -> Callable[[list[uuid.UUID]], dict[uuid.UUID, Job]]:
    """Reads, in one query, the rows of those of some jobs that have ended (detached)."""
    ended_statuses = [status.value for status in JobStatus if status.terminal]
    statement = select(JOBS).where(
        JOBS.c.id.in_(bindparam("job_ids", expanding=True)), JOBS.c.status.in_(ended_statuses)
    )

    def load(job_ids: list[uuid.UUID]) -> dict[uuid.UUID, Job]:
        with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
            rows = session.connection().execute(statement, {"job_ids": job_ids}).all()
        jobs = [detached_job(row) for row in rows]
        return {job.id: job for job in jobs}

    return load


def wait_final(runtime: Runtime, job_id: uuid.UUID, timeout: float) -> Job | None:
    """The job once it has ended (read from the ledger, detached); None if it has not by ``timeout``."""
    return runtime.ended_jobs.wait(job_id, timeout)


async def await_final(runtime: Runtime, job_id: uuid.UUID, timeout: float) -> Job | None:
    """``wait_final`` for the event loop: the caller waits on no thread and reads nothing itself."""
    return await runtime.ended_jobs.await_ended(job_id, timeout)
