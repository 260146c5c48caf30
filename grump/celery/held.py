"""A worker holds a lease on each job whose message it has received, until it acknowledges it.

So a job waiting in a worker's prefetch, or held for a retry's countdown, is
known to be in live hands; once the worker dies its unacknowledged messages can
be restored at once (``grump.jobs.recovery``) instead of after the visibility
timeout.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from grump.celery.app import GrumpCelery
from grump.jobs.leases import Leases
from grump.runtime import Runtime

log = logging.getLogger(__name__)


def job_of(request: Any) -> uuid.UUID | None:
    """The job a task request names (its first argument); None for a task of no job."""
    try:
        return uuid.UUID(str(request.args[0]))
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def hold_message(app: GrumpCelery, request: Any) -> None:
    """Hold the lease of the job of a message just received.

    A batch task's messages are held by the task, together, when its buffer is
    flushed (milliseconds later; recovery leaves alone a message younger than a
    lease time).
    """
    if getattr(request.task, "holds_its_messages", False):
        return
    leases = app.runtime.leases
    job_id = job_of(request)
    if leases is not None and job_id is not None:
        leases.hold(job_id)


def runtime_of(request: Any) -> Runtime | None:
    """The runtime of the app whose task a request is for; None outside a grump app."""
    app = getattr(getattr(request, "task", None), "app", None)
    return app.runtime if isinstance(app, GrumpCelery) else None


def let_go_of_message(request: Any) -> None:
    """The message was acknowledged or rejected: let go of its hold on the job's lease."""
    runtime = runtime_of(request)
    job_id = job_of(request)
    if runtime is not None and job_id is not None and runtime.leases is not None:
        runtime.leases.release(job_id)


def hold_messages(requests: Sequence[Any]) -> None:
    """Hold the leases of the jobs of messages received together."""
    _each_runtime(requests, lambda leases, ids: leases.hold_many(ids))


def let_go_of_messages(requests: Sequence[Any]) -> None:
    """``let_go_of_message`` for messages acknowledged together."""
    _each_runtime(requests, lambda leases, ids: leases.release_many(ids))


def _each_runtime(requests: Sequence[Any], act: Callable[[Leases, list[uuid.UUID]], None]) -> None:
    by_runtime: dict[int, tuple[Leases, list[uuid.UUID]]] = {}
    for request in requests:
        runtime, job_id = runtime_of(request), job_of(request)
        if runtime is not None and job_id is not None and runtime.leases is not None:
            by_runtime.setdefault(id(runtime), (runtime.leases, []))[1].append(job_id)
    for leases, job_ids in by_runtime.values():
        act(leases, job_ids)
