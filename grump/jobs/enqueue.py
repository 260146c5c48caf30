"""Publishing a job's message, with broker outages as BrokerUnavailable."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from amqp.exceptions import AMQPError, MessageNacked
from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from grump.broker import is_amqp_url
from grump.celery.queues import EMBED_QUEUE, PARSE_QUEUE, celery_priority
from grump.celery.task_names import COMPLETE_JOB_TASK, EMBED_JOBS_TASK, PARSE_JOBS_TASK
from grump.errors import BrokerUnavailable

# A tier's queue carries one kind of job, so the queue names the task.
_TASKS = {PARSE_QUEUE: PARSE_JOBS_TASK, EMBED_QUEUE: EMBED_JOBS_TASK}


def task_for(queue: str) -> str:
    """The task that runs the jobs of ``queue``: parse and embed jobs are taken in batches,
    complete jobs (the economy and premium queues) one at a time."""
    return _TASKS.get(queue, COMPLETE_JOB_TASK)


def publish_job(
    app: Celery,
    job_id: uuid.UUID,
    queue: str,
    priority: int,
    retry_after: int,
    countdown: float | None = None,
    producer: Any = None,
) -> None:
    """Send a job's message to ``queue``; BrokerUnavailable when the broker cannot take it."""
    try:
        app.send_task(
            task_for(queue),
            args=[str(job_id)],
            queue=queue,
            routing_key=queue,
            priority=celery_priority(priority, amqp=is_amqp_url(app.conf.broker_url)),
            countdown=countdown,
            producer=producer,
        )
    # AMQPError: RabbitMQ closed the connection or channel (down, a queue it refuses);
    # MessageNacked: with publisher confirms, it did not take the message.
    except (
        KombuOperationalError,
        RedisError,
        AMQPError,
        MessageNacked,
        ConnectionError,
        OSError,
    ) as exc:
        raise BrokerUnavailable("broker unavailable", retry_after=retry_after) from exc


def publish_jobs(app: Celery, jobs: Sequence[tuple[uuid.UUID, str, int]], retry_after: int) -> int:
    """Send the messages of (job id, queue, priority) on one producer, in order.

    How many were sent: all of them, or those before the first the broker refused
    (the rest are not tried: the broker is down for them too).
    """
    if not jobs:
        return 0
    sent = 0
    try:
        with app.producer_or_acquire() as producer:
            for job_id, queue, priority in jobs:
                publish_job(app, job_id, queue, priority, retry_after, producer=producer)
                sent += 1
    except BrokerUnavailable:
        return sent
    except (KombuOperationalError, RedisError, AMQPError, ConnectionError, OSError):
        return sent  # acquiring the producer's connection failed
    return sent
