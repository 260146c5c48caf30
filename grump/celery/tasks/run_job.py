"""The one job task: every kind runs through it, on its tier's queue."""

from __future__ import annotations

import logging
import random
import uuid

from celery import Celery, Task

from grump.celery.queues import RUN_JOB_TASK
from grump.errors import DatabaseUnavailable, PermanentError, RequestError, TransientError
from grump.jobs.run import Step, fail_job, process_job

log = logging.getLogger(__name__)


def backoff_seconds(retries: int, cap: float) -> float:
    """Exponential backoff with full jitter, capped below the broker's visibility timeout."""
    return float(random.uniform(0, min(cap, 2.0**retries)))


def register_run_job(app: Celery) -> None:
    from grump.celery.app import runtime_of

    # shared=False: a shared task would stay bound to the first app made in the process.
    @app.task(
        name=RUN_JOB_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, shared=False
    )
    def run_job(self: Task[[str], str], job_id: str) -> str:
        runtime = runtime_of(app)
        settings = runtime.settings
        ident = uuid.UUID(job_id)
        try:
            return process_job(runtime, ident).value
        except TransientError as exc:
            retries = self.request.retries or 0
            if retries < settings.task_max_retries:
                cap = min(60.0, settings.visibility_timeout_seconds / 2)
                log.warning("job %s: %s; retry %d", job_id, exc.message, retries + 1)
                raise self.retry(countdown=backoff_seconds(retries, cap), exc=exc) from exc
            if isinstance(exc, DatabaseUnavailable):
                # Nowhere to record the failure: leave the job to requeue_stuck_jobs.
                raise
            fail_job(runtime, ident, exc)
            return Step.FAILED.value
        except (PermanentError, RequestError) as exc:
            log.warning("job %s failed: %s", job_id, exc.message)
            fail_job(runtime, ident, exc)
            return Step.FAILED.value
        except Exception as exc:
            log.exception("job %s failed unexpectedly", job_id)
            fail_job(runtime, ident, exc)
            return Step.FAILED.value
