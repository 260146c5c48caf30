"""Finding jobs whose message was lost, and publishing them again (beat's requeue_stuck_jobs)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery

from grump import metrics
from grump.jobs import admission, rows
from grump.jobs.enqueue import publish_job
from grump.ledger.db import session_scope, utcnow
from grump.runtime import Runtime

log = logging.getLogger(__name__)


def requeue_stuck_jobs(runtime: Runtime, app: Celery, limit: int = 500) -> int:
    """Enqueue again every job queued or running past its deadline; returns how many.

    A message can be lost (a Redis restart without persistence, a publish that
    failed after the row was written). The ledger still says queued, so the job
    is found here. Running it twice is harmless: the task skips final jobs.
    """
    settings = runtime.settings
    now = utcnow()
    deadline = now + timedelta(seconds=settings.job_deadline_seconds)
    with session_scope(runtime.sessions) as session:
        stuck = [(j.id, j.queue, j.priority, j.kind) for j in rows.stuck(session, now, limit)]
        for job_id, *_ in stuck:
            rows.extend_deadline(session, job_id, deadline)
    for job_id, queue, priority, kind in stuck:
        publish_job(app, job_id, queue, priority, settings.retry_after_seconds)
        metrics.JOBS_REQUEUED.labels(kind).inc()
        log.warning("requeued stuck job %s on %s", job_id, queue)
    admission.sweep(runtime, app)  # and held jobs whose release was lost
    return len(stuck)
