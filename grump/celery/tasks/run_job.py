"""The task of complete jobs (and of the old name of every job): one message, one job."""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING

from billiard.einfo import ExceptionInfo, ExceptionWithTraceback  # type: ignore[attr-defined]
from billiard.exceptions import WorkerLostError
from celery import Task
from celery.worker.request import Request

from grump.celery.held import job_of, let_go_of_message, runtime_of
from grump.celery.queues import queue_of_routing_key
from grump.celery.task_names import COMPLETE_JOB_TASK, RUN_JOB_TASK
from grump.errors import DatabaseUnavailable, PermanentError, RequestError, TransientError
from grump.jobs.claims import note_worker_lost
from grump.jobs.retry import History, next_retry
from grump.jobs.run import Step, fail_job, process_job
from grump.jobs.run_grouped import process_job_grouped

if TYPE_CHECKING:
    from grump.celery.app import GrumpCelery

log = logging.getLogger(__name__)


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
    """Register ``grump.run_complete_job``, and ``grump.run_job`` (the name every job's
    message had before) for the messages still queued under it: transient errors retry
    with backoff, the rest fail the job."""
    for name in (COMPLETE_JOB_TASK, RUN_JOB_TASK):
        _register(app, name)


def _register(app: GrumpCelery, name: str) -> None:
    # A complete job's message: its claim and record share their transactions with the
    # worker's other threads' (grump.jobs.run_grouped). The old name may carry a parse job.
    grouped = name == COMPLETE_JOB_TASK

    # shared=False: a shared task would stay bound to the first app made in the process.
    # max_retries=None: grump.jobs.retry decides, not Celery's default of 3.
    @app.task(
        name=name,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        shared=False,
        Request=JobRequest,
        max_retries=None,
    )
    def run_job(
        self: Task[[str, int, float | None], str],
        job_id: str,
        failures: int = 0,
        throttled_since: float | None = None,
    ) -> str:
        runtime = app.runtime
        settings = runtime.settings
        ident = uuid.UUID(job_id)
        try:
            if grouped:
                return process_job_grouped(runtime, ident).value
            return process_job(runtime, ident).value
        except TransientError as exc:
            attempt = self.request.retries or 0
            history = History(failures, throttled_since)
            retry = next_retry(exc, attempt, history, time.time(), settings)
            if retry is not None:
                log.warning(
                    "job %s: %s; retry %d in %.1fs",
                    job_id,
                    exc.message,
                    attempt + 1,
                    retry.countdown,
                )
                carried = {
                    "failures": retry.history.failures,
                    "throttled_since": retry.history.throttled_since,
                }
                # To the queue it came from, named: left to Celery, a countdown on RabbitMQ's
                # delay exchanges would be routed by the default queue's key (an empty name
                # leaves it to Celery's routing by the delivery's exchange and key).
                routing_key = (self.request.delivery_info or {}).get("routing_key") or ""
                queue = queue_of_routing_key(str(routing_key)) or ""
                raise self.retry(
                    countdown=retry.countdown, exc=exc, kwargs=carried, queue=queue
                ) from exc
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
