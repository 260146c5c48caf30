"""create_celery(settings) -> GrumpCelery: one app for the API (producer), workers and beat."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from celery import Celery
from kombu import Exchange, Queue

from grump.broker import is_amqp_url
from grump.celery.queues import ALL_QUEUES, AMQP_MAX_PRIORITY, MAINTENANCE_QUEUE, PRIORITY_STEPS
from grump.celery.schedule import beat_schedule
from grump.runtime import Runtime
from grump.settings import Settings

if TYPE_CHECKING:
    from grump.jobs.embed.batch import BatchReport
    from grump.jobs.embed.lanes import Lanes


# On RabbitMQ the tier queues hang off one topic exchange: Celery's native delayed
# delivery (countdown retries on quorum queues) needs a topic or fanout exchange.
AMQP_EXCHANGE = Exchange("grump", type="topic", durable=True)


def task_queues(settings: Settings, names: Iterable[str]) -> list[Queue]:
    """The kombu queues ``names`` on this broker: on RabbitMQ, quorum or classic with priorities."""
    if not is_amqp_url(settings.broker_url):
        return [Queue(name, routing_key=name) for name in names]
    if settings.rabbitmq_queue_type == "quorum":
        arguments: dict[str, Any] = {"x-queue-type": "quorum"}
    else:
        arguments = {"x-max-priority": AMQP_MAX_PRIORITY}
    return [
        Queue(name, AMQP_EXCHANGE, routing_key=name, durable=True, queue_arguments=arguments)
        for name in names
    ]


def _amqp_config(settings: Settings) -> dict[str, Any]:
    """What differs on RabbitMQ: confirmed publishes, the queue type, the default exchange."""
    config: dict[str, Any] = {
        # A publish returns once the broker has the message (a quorum queue: a majority of
        # its nodes), so an accepted job is never one the broker silently dropped.
        "broker_transport_options": {"confirm_publish": True},
        "task_default_exchange": AMQP_EXCHANGE.name,
        "task_default_exchange_type": AMQP_EXCHANGE.type,
        "task_default_queue_type": settings.rabbitmq_queue_type,
        # A queue named nowhere in grump's list is still made of the same type and exchange type.
        "task_create_missing_queue_type": settings.rabbitmq_queue_type,
        "task_create_missing_queue_exchange_type": AMQP_EXCHANGE.type,
        # Quorum queues have no global QoS: Celery then sets the prefetch per consumer, and
        # a countdown waits in the broker (native delayed delivery), not in a worker.
        "worker_detect_quorum_queues": True,
    }
    if settings.rabbitmq_queue_type == "classic":
        config["task_queue_max_priority"] = AMQP_MAX_PRIORITY
    return config


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
    config: dict[str, Any] = {
        "broker_url": settings.effective_broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        "task_queues": task_queues(settings, ALL_QUEUES),
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
    if is_amqp_url(settings.broker_url):
        config.update(_amqp_config(settings))
    return config


class GrumpCelery(Celery):
    """grump's Celery app: Celery's, plus the process's resources, typed.

    ``runtime`` holds every per-process resource (engines, Redis, providers);
    ``embed_lanes`` the gpu worker's batch lanes, made on first use. A forked
    child drops both (``reset_after_fork``) and builds its own.
    """

    runtime: Runtime
    embed_lanes: Lanes[BatchReport] | None = None
    # No task event lost between a pool thread and the event loop (grump.celery.events).
    events_cls = "grump.celery.events:GrumpEvents"

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
    app.runtime.celery = app
    register_tasks(app)
    return app
