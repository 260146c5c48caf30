"""Group commit of submits on an API process's event loop.

Submits that arrive together share one transaction (``grump.jobs.submit_steps``): a
submit waits at most ``GRUMP_SUBMIT_GROUP_WAIT_MS`` for others, and a group
that reaches ``GRUMP_SUBMIT_GROUP_MAX_JOBS`` goes at once. Up to
``GRUMP_SUBMIT_GROUPS_IN_FLIGHT`` groups are written at a time; the next grows
while they run. Past ``GRUMP_SUBMIT_MAX_WAITING`` submits waiting, more are
answered 503 with Retry-After at once rather than queued behind a ledger that
cannot keep up.

Each caller is answered on its own. When the group's transaction fails for
anything but an outage (a row the database refuses, a race with another
process on an Idempotency-Key, a deadlock), its submits are recorded again one
by one, so one bad row fails only its own caller. An outage answers every
caller of the group 503 with nothing accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from anyio import to_thread
from celery import Celery
from sqlalchemy.exc import DBAPIError, IntegrityError

from grump.errors import DatabaseUnavailable, GrumpError, Overloaded, ServiceUnavailable
from grump.jobs import submit_rows
from grump.jobs.money_reads import MoneyReads
from grump.jobs.submit_steps import (
    Answer,
    Pending,
    Submitted,
    answer_of,
    publish_group,
    record_group,
    to_publish,
)
from grump.ledger.aio import async_session_scope
from grump.ledger.db import is_outage
from grump.runtime import Runtime

log = logging.getLogger(__name__)

UNENQUEUED = "broker unavailable at submit"


@dataclass
class _Waiting:
    pending: Pending
    app: Celery
    answer: asyncio.Future[Submitted] = field(repr=False)


def _conflict(exc: BaseException) -> bool:
    """A transaction another one beat (deadlock, serialisation): worth doing again, not an outage."""
    orig = getattr(exc, "orig", None)
    return isinstance(exc, DBAPIError) and str(getattr(orig, "sqlstate", "") or "")[:2] == "40"


class SubmitGroups:
    """The running loop's submits waiting for a group, and the groups being written."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self._wait = settings.submit_group_wait_ms / 1000
        self._max_jobs = settings.submit_group_max_jobs
        self._max_waiting = settings.submit_max_waiting
        self._flushes = asyncio.Semaphore(settings.submit_groups_in_flight)
        self._waiting: list[_Waiting] = []
        self._timer: asyncio.TimerHandle | None = None
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()
        # What routing may spend, read for the submits that ask together (grump.jobs.money_reads).
        self.money = MoneyReads(runtime)

    async def submit(self, app: Celery, pending: Pending) -> Submitted:
        """Record and publish ``pending`` with whatever arrives with it; its own answer or error."""
        if len(self._waiting) >= self._max_waiting:
            retry_after = self._runtime.settings.retry_after_seconds
            raise Overloaded("too many submits waiting for the ledger", retry_after=retry_after)
        answer: asyncio.Future[Submitted] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(pending, app, answer))
        self._schedule()
        return await answer

    def _schedule(self) -> None:
        if self._draining:  # a group waits for a free transaction: it takes what waits then
            return
        if len(self._waiting) >= self._max_jobs or self._wait <= 0:
            self._drain_soon()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._wait, self._drain_soon)

    def _drain_soon(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._draining or not self._waiting:
            return
        self._draining = True
        task = asyncio.get_running_loop().create_task(self._drain())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        async with self._flushes:
            self._draining = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            group, self._waiting = self._waiting[: self._max_jobs], self._waiting[self._max_jobs :]
            if self._waiting:
                self._schedule()
            await self._flush(group)

    async def _flush(self, group: list[_Waiting]) -> None:
        answers: list[Submitted | BaseException]
        try:
            answers = await self._write([w.pending for w in group], group[0].app)
        except asyncio.CancelledError:  # shutting down: every caller hears of it, none hangs
            retry_after = self._runtime.settings.retry_after_seconds
            _answer(
                group, [ServiceUnavailable("shutting down", retry_after=retry_after)] * len(group)
            )
            raise
        except Exception as exc:
            if not isinstance(exc, GrumpError):
                log.exception("a group of %d submits failed", len(group))
            answers = [exc] * len(group)
        _answer(group, answers)

    async def _write(self, items: list[Pending], app: Celery) -> list[Submitted | BaseException]:
        """Record the group, publish its new jobs, then answer alone those it left over."""
        answers: list[Answer] = await self._record(items)
        await self._publish(items, answers, app)
        final: list[Submitted | BaseException] = []
        for item, answer in zip(items, answers, strict=True):
            if answer is not None:
                final.append(answer)
                continue
            try:
                final.append(await self._alone(item, app))
            except GrumpError as exc:
                final.append(exc)
            except Exception as exc:  # one bad row fails its own caller
                log.exception("a submit failed")
                final.append(exc)
        return final

    async def _alone(self, item: Pending, app: Celery) -> Submitted:
        for _ in range(2):  # a second look finds what a concurrent identical submit made
            (answer,) = answers = await self._record_one(item)
            if answer is not None:
                await self._publish([item], answers, app)
                return answer_of(answers[0])
        raise ServiceUnavailable("submit raced another; retry", retry_after=1)

    async def _record(self, items: list[Pending]) -> list[Answer]:
        runtime = self._runtime
        session = runtime.aio_sessions()
        try:
            answers = await session.run_sync(record_group, items)
            await session.commit()
            return answers
        except Exception as exc:
            with contextlib.suppress(DBAPIError):
                await session.rollback()
            if is_outage(exc) and not _conflict(exc):
                raise DatabaseUnavailable(
                    "database unavailable", retry_after=runtime.settings.retry_after_seconds
                ) from exc
            if len(items) == 1:
                if isinstance(exc, IntegrityError) or _conflict(exc):
                    return [None]  # raced a concurrent submit: the next look finds its job
                raise
            log.info("a group of %d submits is recorded one by one: %r", len(items), exc)
            return [None] * len(items)
        finally:
            await session.close()

    async def _record_one(self, item: Pending) -> list[Answer]:
        return await self._record([item])

    async def _publish(self, items: list[Pending], answers: list[Answer], app: Celery) -> None:
        indexes = to_publish(answers)
        if not indexes:
            return
        runtime = self._runtime
        refused = await to_thread.run_sync(publish_group, runtime, app, answers, indexes)
        if refused:
            retry_after = runtime.settings.retry_after_seconds
            async with async_session_scope(runtime.aio_sessions, retry_after) as session:
                await session.run_sync(submit_rows.reject_unenqueued, refused, UNENQUEUED)

    async def aclose(self) -> None:
        """Write what waits and wait for the groups being written."""
        await self.money.aclose()
        self._drain_soon()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _answer(group: list[_Waiting], answers: list[Submitted | BaseException]) -> None:
    for waiting, answer in zip(group, answers, strict=True):
        if waiting.answer.done():  # its caller went away
            continue
        if isinstance(answer, BaseException):
            waiting.answer.set_exception(answer)
        else:
            waiting.answer.set_result(answer)
