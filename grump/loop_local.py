"""One resource per running event loop: async connections belong to the loop that made them.

A served API has one loop per process, so one of each. Anything that runs the app
on several loops (a test client per thread, one per request) gets one per loop;
those of loops that have since closed are closed on a thread of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class LoopLocal(Generic[T]):
    """A ``T`` for the running loop, made by ``make`` on first use there, closed by ``close``."""

    def __init__(self, make: Callable[[], T], close: Callable[[T], Awaitable[None]]) -> None:
        self._make = make
        self._close = close
        self._by_loop: dict[asyncio.AbstractEventLoop, T] = {}
        self._lock = threading.Lock()

    def get(self) -> T:
        """The running loop's ``T``."""
        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._by_loop.get(loop)
            if found is not None:
                return found
            ended = [self._by_loop.pop(old) for old in list(self._by_loop) if old.is_closed()]
            found = self._by_loop[loop] = self._make()
        if ended:
            threading.Thread(target=self._close_all, args=(ended,), daemon=True).start()
        return found

    async def aclose(self) -> None:
        """Close the running loop's ``T``, if it has one."""
        with self._lock:
            found = self._by_loop.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await self._close(found)

    def close(self) -> None:
        """Close every loop's ``T``, from outside any of them (a fresh loop does the closing)."""
        with self._lock:
            every = list(self._by_loop.values())
            self._by_loop.clear()
        if every:
            closer = threading.Thread(target=self._close_all, args=(every,), daemon=True)
            closer.start()
            closer.join(10)

    def _close_all(self, items: list[T]) -> None:
        async def close_each() -> None:
            for item in items:
                with contextlib.suppress(Exception):
                    await self._close(item)

        try:
            asyncio.run(close_each())
        except Exception:
            log.exception("closing an event loop's resources failed")
