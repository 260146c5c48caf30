"""The parse task: the cpu worker takes parse messages in batches (celery-batches).

Each message still names one job, so producers, requeues and priorities work as
for every other kind; a worker buffers up to ``GRUMP_PARSE_BATCH_MAX_JOBS`` of
them, or what arrived within ``GRUMP_PARSE_BATCH_WAIT_MS``, and a pool process
runs them as one batch (``grump.jobs.parse_batch``): one read, one write. The
messages are acknowledged together after the batch returned, so after its
commit; each job ends recorded, failed, skipped as already final, or, when
the ledger is down, published again with a delay (if even that publish fails,
the job stays queued in the ledger and ``requeue_stuck_jobs`` finds it).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from grump.backoff import backoff_seconds
from grump.broker import is_amqp_url
from grump.celery.queues import PARSE_QUEUE
from grump.celery.task_names import PARSE_JOBS_TASK
from grump.celery.tasks.embed import messages_of
from grump.errors import BrokerUnavailable, DatabaseUnavailable
from grump.jobs.enqueue import publish_job
from grump.jobs.parse_batch import process_parse_batch
from grump.jobs.retry import RETRY_BASE_SECONDS, retry_cap

if TYPE_CHECKING:
    from grump.celery.app import GrumpCelery

log = logging.getLogger(__name__)


def run_parse_batch(app: GrumpCelery, requests: Sequence[Any]) -> dict[str, str]:
    """Run the batch of ``requests``; each request's id -> its job's step (for Flower)."""
    runtime = app.runtime
    messages = messages_of(requests, is_amqp_url(runtime.settings.broker_url))
    try:
        steps = {
            str(k): v.value for k, v in process_parse_batch(runtime, list(messages)).steps().items()
        }
    except DatabaseUnavailable as exc:
        log.warning("parse batch of %d: %s; publishing again", len(messages), exc.message)
        _publish_again(app, messages)
        return {request.id: "retry" for request in requests}
    return {request.id: steps.get(str(request.args[0]), "") for request in requests if request.args}


def _publish_again(app: GrumpCelery, messages: dict[uuid.UUID, int]) -> None:
    """Nothing was recorded: every job goes round again after a pause."""
    settings = app.runtime.settings
    countdown = backoff_seconds(
        1, RETRY_BASE_SECONDS, retry_cap(settings.visibility_timeout_seconds)
    )
    for job_id, priority in messages.items():
        try:
            publish_job(
                app,
                job_id,
                PARSE_QUEUE,
                priority,
                settings.retry_after_seconds,
                countdown=countdown,
            )
        except BrokerUnavailable:
            log.warning("parse job %s: broker down; requeue_stuck_jobs will find it", job_id)


def register_parse_jobs(app: GrumpCelery) -> None:
    """Register the parse batch task: messages buffered by celery-batches, run in the pool."""
    from grump.celery.tasks.batch_acks import AckTogetherBatches

    settings = app.runtime.settings

    # shared=False: a shared task would be bound to the first app made in the process.
    @app.task(
        name=PARSE_JOBS_TASK,
        base=AckTogetherBatches,
        flush_every=settings.parse_batch_max_jobs,
        # A zero interval would make the flush timer spin.
        flush_interval=max(0.001, settings.parse_batch_wait_ms / 1000),
        acks_late=True,
        # A parse batch takes milliseconds, most of them in the ledger: while one runs the
        # next grows, and a second process takes only a full one.
        small_batches_in_flight=1,
        shared=False,
    )
    def run_parse_jobs(requests: Sequence[Any]) -> dict[str, str]:
        return run_parse_batch(app, requests)
