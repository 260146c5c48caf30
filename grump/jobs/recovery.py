"""Running again, within seconds, the jobs of worker processes that died.

Every live worker runs ``RecoveryLoop``; a Redis lock makes one pass at a time
across them all. A pass does two things, both for jobs no lease covers (so no
live process holds them, ``grump.jobs.leases``):

- Running jobs whose claimer is gone are put back to queued, one worker loss
  counted (``GRUMP_MAX_WORKER_LOSSES`` of them fail the job with ``worker_lost``),
  and published as a new delivery. The conditional claim and the unique cost
  event keep the effects exactly once if the old claimer was not dead after all.
- On a Redis broker, the unacknowledged messages of dead workers are put back
  on their queues (kombu's own restore), instead of waiting out the visibility
  timeout, which stays long: it is the last resort, and a running job's
  message must never come back while its worker lives.

A pass also releases the held jobs (``grump.jobs.admission``) whose release
was lost, so fair share never strands a job.

Both wait until Redis has been up for a lease time: after a Redis restart the
leases of live workers are back only once their helpers renewed them.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

from celery import Celery
from redis.exceptions import RedisError
from sqlalchemy import select

from grump import metrics
from grump.jobs import admission
from grump.jobs.capacity import Registration
from grump.jobs.claims import note_worker_lost
from grump.jobs.enqueue import publish_job
from grump.jobs.leases import Leases
from grump.jobs.models import JobStatus
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.runtime import Runtime

log = logging.getLogger(__name__)

LOCK_KEY = "grump:recovery:lock"
# kombu's Redis transport keeps delivered, unacknowledged messages here.
UNACKED_KEY, UNACKED_INDEX_KEY = "unacked", "unacked_index"


def recover_lost_jobs(runtime: Runtime, app: Celery, limit: int = 500) -> tuple[int, int]:
    """One pass: (jobs requeued, messages restored); (0, 0) when another worker has the lock."""
    leases = runtime.leases
    if leases is None or not _settled(runtime, leases):
        return 0, 0
    requeued = sum(_requeue(runtime, app, job) for job in _orphans(runtime, leases, limit))
    restored = restore_unacknowledged(runtime, app, leases)
    admission.sweep(runtime, app)  # held jobs whose release was lost
    return requeued, restored


def _settled(runtime: Runtime, leases: Leases) -> bool:
    """Whether a pass may run now: Redis up for a lease time, and this process has the lock."""
    seconds = runtime.settings.worker_lease_seconds
    try:
        uptime = int(leases.redis.info("server").get("uptime_in_seconds", 0))
        if uptime < seconds:
            return False
        interval = max(1, int(runtime.settings.recovery_interval_seconds))
        return bool(leases.redis.set(LOCK_KEY, leases.claimer, nx=True, ex=interval))
    except (RedisError, OSError) as exc:
        log.warning("recovery skipped: %s", exc)
        return False


def _orphans(runtime: Runtime, leases: Leases, limit: int) -> list[tuple[uuid.UUID, str]]:
    """(id, claimer) of running jobs, claimed a lease time ago or more, that no lease covers."""
    since = utcnow() - timedelta(seconds=runtime.settings.worker_lease_seconds)
    with session_scope(runtime.sessions) as session:
        running = session.execute(
            select(Job.id, Job.claimed_by)
            .where(
                Job.status == JobStatus.RUNNING.value,
                Job.claimed_by.is_not(None),
                Job.started_at < since,
            )
            .limit(limit)
        ).all()
    if not running:
        return []
    alive = leases.has_lease([job_id for job_id, _ in running])
    return [
        (job_id, str(claimer))
        for (job_id, claimer), held in zip(running, alive, strict=True)
        if not held
    ]


def _requeue(runtime: Runtime, app: Celery, orphan: tuple[uuid.UUID, str]) -> int:
    """Count the loss and publish the job again; 0 when it changed meanwhile or failed as poison."""
    job_id, claimer = orphan
    # Only if it is still the dead claimer's: a live takeover in between wins.
    loss = note_worker_lost(runtime, job_id, claimer)
    if loss is None or loss.failed:
        return 0
    publish_job(app, job_id, loss.queue, loss.priority, runtime.settings.retry_after_seconds)
    metrics.JOBS_REQUEUED.labels(loss.kind).inc()
    log.warning("job %s: its worker %s is gone; published again", job_id, claimer)
    return 1


def restore_unacknowledged(runtime: Runtime, app: Celery, leases: Leases) -> int:
    """Put back on their queues the unacknowledged job messages that no lease covers."""
    broker = runtime.broker_redis
    if broker is None:
        return 0
    older = time.time() - runtime.settings.worker_lease_seconds
    found = broker.zrangebyscore(UNACKED_INDEX_KEY, 0, older, start=0, num=500)
    tags = [_text(tag) for tag in found]
    if not tags:
        return 0
    jobs = {
        tag: _job_id(raw) for tag, raw in zip(tags, broker.hmget(UNACKED_KEY, tags), strict=True)
    }
    named = [(tag, job_id) for tag, job_id in jobs.items() if job_id is not None]
    if not named:
        return 0
    alive = leases.has_lease([job_id for _, job_id in named])
    orphaned = [tag for (tag, _), held in zip(named, alive, strict=True) if not held]
    if orphaned:
        with app.connection_for_write() as connection:
            # A Redis broker's channel: its QoS restores a message by its delivery tag.
            channel: Any = connection.default_channel
            for tag in orphaned:
                channel.qos.restore_by_tag(tag, leftmost=True)
        log.warning("restored %d messages of dead workers", len(orphaned))
    return len(orphaned)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _job_id(raw: bytes | str | None) -> uuid.UUID | None:
    """The job an unacknowledged message names, if it is a job task's (protocol 2, JSON)."""
    if raw is None:
        return None
    try:
        message: dict[str, Any] = json.loads(raw)[0]
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return uuid.UUID(str(args[0]))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


class RecoveryLoop:
    """A worker's thread making a recovery pass every ``GRUMP_RECOVERY_INTERVAL_SECONDS``.

    Before each pass it renews the worker's registered capacity (``registration``),
    so a worker's capacity counts for as long as the worker is alive and looking.
    """

    def __init__(
        self, runtime: Runtime, app: Celery, registration: Registration | None = None
    ) -> None:
        self._runtime, self._app = runtime, app
        self._registration = registration
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grump-recovery", daemon=True)

    def start(self) -> None:
        """Register the worker's capacity and start passes in the background."""
        if self._registration is not None:
            self._registration.renew()
        self._thread.start()

    def stop(self) -> None:
        """Stop after the pass under way, and withdraw the worker's capacity."""
        self._stop.set()
        if self._registration is not None:
            self._registration.withdraw()

    def _run(self) -> None:
        interval = self._runtime.settings.recovery_interval_seconds
        while not self._stop.wait(interval):
            if self._registration is not None:
                self._registration.renew()
            try:
                recover_lost_jobs(self._runtime, self._app)
            except Exception:
                log.exception("recovery pass failed; trying again in %.0f s", interval)
