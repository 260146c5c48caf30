"""What routing may spend, read for the submits that arrive together in one ledger session.

A complete submit asks how much its budgets still hold before it is routed. A
thousand callers arriving at once must not each take a ledger connection for
those two small reads: they would queue at the pool, and one kept waiting past
the pool's checkout timeout would be answered 503 as if the database were down.
Here a submit asks and waits on the event loop, holding no connection; one task
reads for every submit waiting at that moment, in one session and the same two
reads whatever their number, and answers each. A submit that arrives while a
read runs is answered by the next one, so no answer was read before its caller
asked. An outage fails the callers of that read with DatabaseUnavailable, as
their own reads would have.
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import TYPE_CHECKING

from grump.errors import ServiceUnavailable
from grump.ledger.aio import async_session_scope
from grump.ledger.db import utcnow
from grump.money.reservations import Scope, money_left_many

if TYPE_CHECKING:
    from grump.runtime import Runtime

Asked = dict[Scope, list["asyncio.Future[Decimal | None]"]]


class MoneyReads:
    """The running loop's submits waiting to hear what their budgets hold, read together."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._asked: Asked = {}
        self._task: asyncio.Task[None] | None = None

    async def left(self, tenant: str, user: str | None, key: int | None) -> Decimal | None:
        """The least any budget of (tenant, user, key) can still hold; None when none applies."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Decimal | None] = loop.create_future()
        self._asked.setdefault((tenant, user, key), []).append(answer)
        if self._task is None:
            self._task = loop.create_task(self._read_while_asked())
        return await answer

    async def aclose(self) -> None:
        """Wait for the read under way, if any."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _read_while_asked(self) -> None:
        try:
            while self._asked:
                asked, self._asked = self._asked, {}
                await self._read(asked)
        finally:
            self._task = None

    async def _read(self, asked: Asked) -> None:
        retry_after = self._runtime.settings.retry_after_seconds
        try:
            async with async_session_scope(self._runtime.aio_sessions, retry_after) as session:
                found = await session.run_sync(money_left_many, list(asked), utcnow())
        except asyncio.CancelledError:  # shutting down: every caller hears of it, none hangs
            _fail(asked, ServiceUnavailable("shutting down", retry_after=retry_after))
            raise
        except Exception as exc:
            _fail(asked, exc)
            return
        for scope, answers in asked.items():
            for answer in answers:
                if not answer.done():  # its caller went away
                    answer.set_result(found[scope])


def _fail(asked: Asked, exc: Exception) -> None:
    for answers in asked.values():
        for answer in answers:
            if not answer.done():
                answer.set_exception(exc)
