"""Celery's task events, none lost: what Flower's task list is made of.

A worker buffers its task events and publishes them together from its event
loop. Celery's dispatcher empties the buffer after publishing it, so an event
that a pool thread (the llm and gpu workers' threads, a batch's callbacks)
appends while the buffer is being published is dropped without a trace:
Flower then shows a task that never started or never ended. Here only the
events that were published are taken off the buffer.
"""

from __future__ import annotations

from typing import Any

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher


class LosslessEventDispatcher(EventDispatcher):
    """Celery's event dispatcher, whose flush removes only the buffered events it published."""

    def flush(self, errors: bool = True, groups: bool = True) -> None:
        """Publish what is buffered; events buffered meanwhile wait for the next flush."""
        super().flush(errors=errors, groups=False)
        if not groups:
            return
        this: Any = self  # Celery's type stubs know none of these attributes
        with this.mutex:
            for group, events in this._group_buffer.items():
                taken = events[:]  # one step under the GIL: appends after it are kept
                if taken:
                    this._publish(taken, this.producer, f"{group}.multi")
                    del events[: len(taken)]


class GrumpEvents(Events):
    """The app's events, dispatched by ``LosslessEventDispatcher``."""

    dispatcher_cls = "grump.celery.events:LosslessEventDispatcher"
