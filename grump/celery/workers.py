"""Building the Celery app for one kind of worker (cpu, llm, gpu)."""

from __future__ import annotations

import sys
from typing import Any

from celery.signals import (
    task_received,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from grump.celery.app import GrumpCelery, create_celery, task_queues
from grump.celery.held import hold_message
from grump.celery.profiles import (
    WORKER_PROFILES,
    WorkerKind,
    concurrency_for,
    jobs_at_once,
    prefetch_multiplier,
)
from grump.jobs.admission import ADMITTABLE_QUEUES
from grump.jobs.capacity import Registration
from grump.jobs.leases import new_claimer_id
from grump.jobs.recovery import RecoveryLoop
from grump.metrics_server import mark_child_dead, serve
from grump.settings import Settings


def create_worker_app(settings: Settings, kind: WorkerKind) -> GrumpCelery:
    """The Celery app of one kind of worker: its queues, pool, concurrency and prefetch."""
    profile = WORKER_PROFILES[kind]
    app = create_celery(settings)
    app.conf.update(
        # Only its own: on RabbitMQ the worker binds every queue its app names to the delay
        # exchanges at start, and another tier's may not exist yet. What it publishes to
        # another tier's queue (a recovered job) is declared alike (``_amqp_config``).
        task_queues=task_queues(settings, profile.queues),
        worker_prefetch_multiplier=prefetch_multiplier(settings, kind),
        worker_pool=profile.pool,
        worker_concurrency=concurrency_for(settings, kind),
    )

    def _fresh_connections(**_: Any) -> None:
        # A forked child must not reuse the parent's database connections.
        app.reset_after_fork()

    recovery = RecoveryLoop(app.runtime, app, registration(app, settings, kind))

    def _ready(**_: Any) -> None:
        if settings.metrics_port:
            serve(settings.metrics_port)
        # Every worker looks for the jobs of dead ones; a Redis lock keeps it to one at a time.
        recovery.start()

    def _received(request: Any, **_: Any) -> None:
        hold_message(app, request)

    def _shutdown(**_: Any) -> None:
        recovery.stop()
        # Ends the lease helper, which deletes the leases this worker still holds.
        app.runtime.dispose()

    def _child_exited(pid: int, **_: Any) -> None:
        mark_child_dead(pid)

    if kind in (WorkerKind.GPU, WorkerKind.LLM):
        # The consumer thread takes one message per Redis round trip and must win the
        # GIL back after each from the threads running jobs (batches on the gpu worker,
        # provider calls and their ledger writes on the llm one); at the default 5 ms
        # switch interval it starves: batches stay small, and an llm worker's threads
        # idle while the messages meant for them wait in the broker.
        sys.setswitchinterval(0.0005)
    if kind is WorkerKind.CPU:
        # Build the parser's tables once, before the pool forks: children share them.
        from grump.intent import warm_up

        warm_up()
    worker_process_init.connect(_fresh_connections, weak=False)
    worker_ready.connect(_ready, weak=False)
    task_received.connect(_received, weak=False)
    worker_shutdown.connect(_shutdown, weak=False)
    worker_process_shutdown.connect(_child_exited, weak=False)
    return app


def registration(app: GrumpCelery, settings: Settings, kind: WorkerKind) -> Registration:
    """This worker's capacity per admitted queue it consumes, for fair share's slots.

    It lapses after three missed recovery passes (at least a lease time): a killed
    worker's capacity stops counting within seconds.
    """
    runtime = app.runtime
    worker = runtime.leases.claimer if runtime.leases is not None else new_claimer_id()
    queues = [q for q in WORKER_PROFILES[kind].queues if q in ADMITTABLE_QUEUES]
    ttl = max(float(settings.worker_lease_seconds), 3 * settings.recovery_interval_seconds)
    capacity = dict.fromkeys(queues, jobs_at_once(settings, kind))
    return Registration(runtime.capacity_redis, worker, capacity, ttl)
