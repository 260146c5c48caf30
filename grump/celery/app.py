"""create_celery(settings) -> GrumpCelery: one app for the API (producer), workers and beat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery
from kombu import Queue

from grump.celery.queues import ALL_QUEUES, MAINTENANCE_QUEUE, PRIORITY_STEPS
from grump.celery.schedule import beat_schedule
from grump.runtime import Runtime
from grump.settings import Settings

if TYPE_CHECKING:
    from grump.jobs.embed.batch import BatchReport
    from grump.jobs.embed.lanes import Lanes


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery's settings for grump: at-least-once delivery, JSON, queues by tier, beat's schedule."""
    transport_options: dict[str, Any] = {
        # Longer than the longest job, or Redis hands a running job to a second worker.
        "visibility_timeout": settings.visibility_timeout_seconds,
        # Sweep for messages of dead workers every few seconds: kombu's defaults
        # (10 s x a throttle of 10) can leave an abandoned job for 100 s.
        "unacked_restore_interval": max(1, min(10, settings.visibility_timeout_seconds // 3)),
        "unacked_restore_throttle": 1,
        "priority_steps": list(PRIORITY_STEPS),
        "queue_order_strategy": "priority",
    }
    if settings.effective_broker_url.startswith("memory://"):
        # The in-process broker is polled; the default of one second would idle workers.
        transport_options["polling_interval"] = 0.005
    return {
        "broker_url": settings.effective_broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        "task_queues": [Queue(name, routing_key=name) for name in ALL_QUEUES],
        "task_default_queue": MAINTENANCE_QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        # Results live in the ledger, not in a Celery backend.
        "task_ignore_result": True,
        "result_backend": None,
        # At-least-once delivery: ack after the ledger commit, requeue if the worker dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        # A dead broker must turn into a 503 quickly, not a hung request.
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.1,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "worker_send_task_events": True,
        # No task-sent events: they would double the broker writes of every submit.
        "task_send_sent_event": False,
        "worker_hijack_root_logger": False,
        "beat_schedule": beat_schedule(settings),
        "timezone": "UTC",
        "enable_utc": True,
    }


class GrumpCelery(Celery):
    """grump's Celery app: Celery's, plus the process's resources, typed.

    ``runtime`` holds every per-process resource (engines, Redis, providers);
    ``embed_lanes`` the gpu worker's batch lanes, made on first use. A forked
    child drops both (``reset_after_fork``) and builds its own.
    """

    runtime: Runtime
    embed_lanes: Lanes[BatchReport] | None = None

    def reset_after_fork(self) -> None:
        """Forget what the parent process built: a child must not share connections."""
        self.runtime.dispose()
        self.embed_lanes = None


def create_celery(settings: Settings, runtime: Runtime | None = None) -> GrumpCelery:
    """The Celery app of every grump program, its tasks registered, bound to ``runtime``."""
    from grump.celery.tasks import register_tasks

    app = GrumpCelery("grump", set_as_current=False)
    app.conf.update(celery_config(settings))
    app.runtime = runtime or Runtime(settings)
    register_tasks(app)
    return app
