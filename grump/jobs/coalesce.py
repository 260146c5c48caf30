"""Coalescing the release passes of one process: one at a time per (tenant, queue), none lost."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


class Coalescer:
    """One release pass at a time per (tenant, queue) in a process, none lost.

    A worker's many threads end jobs of one tenant at once; each would wait its turn
    on the lock to free one slot. Here a job's end marks its (tenant, queue) due;
    the thread already releasing for it runs one more pass (freeing every slot that
    ended meanwhile) before it stops, and the others return at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: set[tuple[str, str]] = set()
        self._busy: set[tuple[str, str]] = set()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._due, self._busy = set(), set()

    def run(self, key: tuple[str, str], release_pass: Callable[[], int]) -> int:
        """Run ``release_pass`` until no end is due for ``key``; 0 if another thread is on it."""
        with self._lock:
            self._due.add(key)
            if key in self._busy:
                return 0
            self._busy.add(key)
        sent = 0
        try:
            while True:
                with self._lock:
                    if key not in self._due:
                        self._busy.discard(key)
                        return sent
                    self._due.discard(key)
                sent += release_pass()
        except BaseException:
            with self._lock:
                self._busy.discard(key)
            raise


COALESCER = Coalescer()
