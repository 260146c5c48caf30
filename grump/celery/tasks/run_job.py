"""The job task of the parse and complete queues: one message, one job."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from billiard.einfo import ExceptionInfo, ExceptionWithTraceback  # type: ignore[attr-defined]
from billiard.exceptions import WorkerLostError
from celery import Task
from celery.worker.request import Request

from grump.backoff import backoff_seconds
from grump.celery.held import job_of, let_go_of_message, runtime_of
from grump.celery.task_names import RUN_JOB_TASK
from grump.errors import DatabaseUnavailable, PermanentError, RequestError, TransientError
from grump.jobs.claims import note_worker_lost
from grump.jobs.run import Step, fail_job, process_job

if TYPE_CHECKING:
    from grump.celery.app import GrumpCelery

log = logging.getLogger(__name__)

# First wait before a job runs again after a transient error; it doubles per retry.
RETRY_BASE_SECONDS = 1.0


def retry_cap(visibility_timeout_seconds: int) -> float:
    """The longest wait before a retry: a countdown past the visibility timeout runs twice."""
    return min(60.0, visibility_timeout_seconds / 2)


class JobRequest(Request):
    """A job message in a worker: counts the deliveries that killed their pool process.

    Celery sees a prefork child die under a task (``WorkerLostError``) and puts the
    message back (``reject_on_worker_lost``); the job's ``worker_losses`` count is
    what stops that loop for a job that kills every worker it meets. Acknowledging
    or rejecting the message lets go of its hold on the job's lease.
    """

    def on_failure(
        self, exc_info: ExceptionInfo, send_failed_event: bool = True, return_ok: bool = False
    ) -> None:
        """Count a worker loss against the job, then do what Celery does."""
        exc = exc_info.exception
        if isinstance(exc, ExceptionWithTraceback):
            exc = exc.exc
        job_id, runtime = job_of(self), runtime_of(self)
        if isinstance(exc, WorkerLostError) and job_id is not None and runtime is not None:
            try:
                note_worker_lost(runtime, job_id)
            except Exception:
                log.exception("job %s: its worker loss could not be counted", job_id)
        super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

    def acknowledge(self) -> None:
        """Acknowledge the message, then let go of the job's lease."""
        super().acknowledge()
        let_go_of_message(self)

    def reject(self, requeue: bool = False) -> None:
        """Reject the message, then let go of the job's lease."""
        super().reject(requeue=requeue)
        let_go_of_message(self)


def register_run_job(app: GrumpCelery) -> None:
    """Register ``grump.run_job``: transient errors retry with backoff, the rest fail the job."""

    # shared=False: a shared task would stay bound to the first app made in the process.
    @app.task(
        name=RUN_JOB_TASK,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        shared=False,
        Request=JobRequest,
    )
    def run_job(self: Task[[str], str], job_id: str) -> str:
        runtime = app.runtime
        settings = runtime.settings
        ident = uuid.UUID(job_id)
        try:
            return process_job(runtime, ident).value
        except TransientError as exc:
            retries = self.request.retries or 0
            if retries < settings.task_max_retries:
                cap = retry_cap(settings.visibility_timeout_seconds)
                countdown = backoff_seconds(retries + 1, RETRY_BASE_SECONDS, cap)
                log.warning("job %s: %s; retry %d", job_id, exc.message, retries + 1)
                raise self.retry(countdown=countdown, exc=exc) from exc
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
