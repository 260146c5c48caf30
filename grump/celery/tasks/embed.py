"""The embed task: the gpu worker takes embed messages in batches (celery-batches).

Each message still names one job, so producers, requeues and priorities work as
for every other kind; the worker buffers up to ``GRUMP_EMBED_BATCH_MAX_JOBS``
of them, or what arrived within ``GRUMP_EMBED_BATCH_WAIT_MS``, and runs them as
one batch. celery-batches acknowledges every message of a batch when the task
returns, whatever happened, so nothing here may leave a job unaccounted for:
each ends recorded, failed, skipped as already final, or published again with
a delay. Batches that arrive while others run are merged (``grump.jobs.embed.lanes``).
If even that publish fails, the job stays queued or running in the
ledger and ``requeue_stuck_jobs`` enqueues it again after its deadline.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from grump.backoff import backoff_seconds
from grump.broker import is_amqp_url
from grump.celery.queues import EMBED_QUEUE, api_priority
from grump.celery.task_names import EMBED_JOBS_TASK
from grump.errors import BrokerUnavailable, DatabaseUnavailable
from grump.jobs.embed.batch import BatchReport, Retry, process_embed_batch
from grump.jobs.embed.lanes import Lanes
from grump.jobs.enqueue import publish_job
from grump.jobs.retry import RETRY_BASE_SECONDS, retry_cap

if TYPE_CHECKING:
    from grump.celery.app import GrumpCelery

log = logging.getLogger(__name__)


def messages_of(requests: Sequence[Any], amqp: bool = False) -> dict[uuid.UUID, int]:
    """Job id -> API priority of each buffered message; a malformed one is logged and dropped.

    ``amqp``: the messages came from RabbitMQ, whose priorities run the API's way.
    """
    messages: dict[uuid.UUID, int] = {}
    for request in requests:
        try:
            job_id = uuid.UUID(str(request.args[0]))
        except (IndexError, TypeError, ValueError):
            log.error("embed message %s names no job: args %r", request.id, request.args)
            continue
        celery_priority = (request.delivery_info or {}).get("priority")
        messages[job_id] = api_priority(celery_priority, amqp) if celery_priority is not None else 5
    return messages


def run_embed_batch(app: GrumpCelery, messages: dict[uuid.UUID, int]) -> BatchReport:
    """Run one merged batch of embed jobs, then publish again those to retry."""
    runtime = app.runtime
    try:
        report = process_embed_batch(runtime, list(messages))
    except DatabaseUnavailable as exc:
        # Nothing was claimed: every job goes round again after a pause.
        log.warning("embed batch of %d: %s; publishing again", len(messages), exc.message)
        report = BatchReport(retry=[Retry(i, EMBED_QUEUE, p, 1) for i, p in messages.items()])
    cap = retry_cap(runtime.settings.visibility_timeout_seconds)
    for retry in report.retry:
        try:
            publish_job(
                app,
                retry.job_id,
                retry.queue,
                retry.priority,
                runtime.settings.retry_after_seconds,
                countdown=backoff_seconds(retry.attempts, RETRY_BASE_SECONDS, cap),
            )
        except BrokerUnavailable:
            log.warning("embed job %s: broker down; requeue_stuck_jobs will find it", retry.job_id)
    return report


# Two lanes: while one batch waits on the provider, the other is claimed or recorded.
EMBED_LANES = 2
_lanes_lock = threading.Lock()


def lanes_of(app: GrumpCelery) -> Lanes[BatchReport]:
    """The process's lanes for ``app``, made on first use."""
    with _lanes_lock:
        if app.embed_lanes is None:

            def run(merged: dict[uuid.UUID, int]) -> BatchReport:
                return run_embed_batch(app, merged)

            app.embed_lanes = Lanes(run, EMBED_LANES, app.runtime.settings.embed_batch_max_jobs)
        return app.embed_lanes


def register_embed_jobs(app: GrumpCelery) -> None:
    """Register the embed batch task: messages buffered by celery-batches, run in lanes."""
    from grump.celery.tasks.batch_acks import AckTogetherBatches

    settings = app.runtime.settings
    amqp = is_amqp_url(settings.broker_url)

    # shared=False: a shared task would be bound to the first app made in the process.
    @app.task(
        name=EMBED_JOBS_TASK,
        base=AckTogetherBatches,
        flush_every=settings.embed_batch_max_jobs,
        # A zero interval would make the flush timer spin.
        flush_interval=max(0.001, settings.embed_batch_wait_ms / 1000),
        acks_late=True,
        shared=False,
    )
    def run_embed_jobs(requests: Sequence[Any]) -> None:
        report = lanes_of(app).run(messages_of(requests, amqp))
        log.debug(
            "embed batch: %d succeeded, %d failed, %d skipped, %d to retry",
            len(report.succeeded),
            len(report.failed),
            len(report.skipped),
            len(report.retry),
        )
