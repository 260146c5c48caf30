"""Publishing a job's message, with broker outages as BrokerUnavailable."""

from __future__ import annotations

import uuid

from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from grump.errors import BrokerUnavailable
from grump.queues import RUN_JOB_TASK, celery_priority


def publish_job(
    app: Celery, job_id: uuid.UUID, queue: str, priority: int, retry_after: int
) -> None:
    try:
        app.send_task(
            RUN_JOB_TASK,
            args=[str(job_id)],
            queue=queue,
            routing_key=queue,
            priority=celery_priority(priority),
        )
    except (KombuOperationalError, RedisError, ConnectionError, OSError) as exc:
        raise BrokerUnavailable("broker unavailable", retry_after=retry_after) from exc
