"""Celery's task events, none lost and few messages: what Flower's task list is made of.

A worker buffers its task events and publishes them together from its event
loop. Two changes to Celery's dispatcher:

- Celery empties the buffer after publishing it, so an event that a pool thread
  (the llm and gpu workers' threads, a batch's callbacks) appends while the
  buffer is being published is dropped without a trace: Flower then shows a
  task that never started or never ended. Here only the events that were
  published are taken off the buffer.
- Celery publishes the buffer at the event loop's next turn after each event:
  about one Redis message per task message, a quarter of a cpu worker's
  consumer time on a backlog of parse jobs. Here the buffer is published
  ``FLUSH_DELAY_SECONDS`` after its first event, and at shutdown.
"""

from __future__ import annotations

import contextlib
from typing import Any

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher

FLUSH_DELAY_SECONDS = 0.02
BUFFER_LIMIT = 200


class LosslessEventDispatcher(EventDispatcher):
    """Celery's event dispatcher: a flush removes only what it published, and a worker's
    buffered events are published together a few milliseconds after the first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Celery's 24 would publish from whichever thread fills the buffer, every 24 events.
        kwargs.setdefault("buffer_limit", BUFFER_LIMIT)
        super().__init__(*args, **kwargs)
        this: Any = self  # Celery's type stubs know none of the attributes used here
        upstream = this.on_send_buffered
        # The consumer's own callback: flush at the event loop's next turn.
        self._hub = getattr(getattr(upstream, "__self__", None), "hub", None)
        self._flush_due = False
        if self._hub is not None:
            this.on_send_buffered = self._flush_soon

    def _flush_soon(self) -> None:
        """An event was buffered (in any thread): have the event loop flush shortly."""
        if self._flush_due:
            return
        self._flush_due = True
        hub: Any = self._hub
        # call_soon is thread-safe (and wakes the loop); the timer is the loop's own.
        hub.call_soon(lambda: hub.call_later(FLUSH_DELAY_SECONDS, self._flush_due_now))

    def _flush_due_now(self) -> None:
        self._flush_due = False
        self.flush()

    def flush(self, errors: bool = True, groups: bool = True) -> None:
        """Publish what is buffered; events buffered meanwhile wait for the next flush."""
        super().flush(errors=errors, groups=False)
        if not groups:
            return
        this: Any = self
        with this.mutex:
            for group, events in this._group_buffer.items():
                taken = events[:]  # one step under the GIL: appends after it are kept
                if taken:
                    this._publish(taken, this.producer, f"{group}.multi")
                    del events[: len(taken)]

    def close(self) -> None:
        """Publish what is still buffered, then close."""
        this: Any = self
        if this.producer is not None and this.enabled:
            # A broker gone at shutdown: the events go with it.
            with contextlib.suppress(Exception):
                self.flush()
        super().close()


class GrumpEvents(Events):
    """The app's events, dispatched by ``LosslessEventDispatcher``."""

    dispatcher_cls = "grump.celery.events:LosslessEventDispatcher"
