"""Serving /metrics from workers and beat, and reading queue depths from the broker.

A prefork worker counts in its child processes, which the parent's HTTP server
cannot see; there prometheus-client's multiprocess mode is used: children write
to files in ``PROMETHEUS_MULTIPROC_DIR`` and the parent's collector sums them.
That variable must be set before prometheus-client is first imported, which
is why ``grump worker`` sets it (``grump.metrics_mode``, which does not import
prometheus-client) before importing the worker or this module. ``grump api
--workers N`` does the same for its N processes: whichever one answers
/metrics sums the files of all of them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import redis
from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from redis.exceptions import RedisError

from grump.broker import AMQP_ERRORS, amqp_queue_depths
from grump.celery.queues import ALL_QUEUES, redis_priority_keys
from grump.metrics import QUEUE_DEPTH
from grump.metrics_mode import MULTIPROC_ENV as MULTIPROC_ENV

if TYPE_CHECKING:
    from grump.runtime import Runtime

BROKER_ERRORS: tuple[type[BaseException], ...] = (RedisError, *AMQP_ERRORS)


def exposition_registry() -> CollectorRegistry:
    """What /metrics serves: this process's metrics, or in multiprocess mode every process's."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def serve(port: int) -> None:
    """Serve /metrics on ``port`` from a background thread."""
    start_http_server(port, registry=exposition_registry())


def mark_child_dead(pid: int) -> None:
    """Tell multiprocess metrics that a child process has exited, so its live gauges stop counting."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Messages waiting per queue, summed over its Redis priority lists."""
    pipe = client.pipeline(transaction=False)
    for queue in ALL_QUEUES:
        for key in redis_priority_keys(queue):
            pipe.llen(key)
    lengths = iter(pipe.execute())
    return {
        queue: sum(int(next(lengths)) for _ in redis_priority_keys(queue)) for queue in ALL_QUEUES
    }


def refresh_queue_depth(runtime: Runtime) -> None:
    """Set worker_queue_depth from the broker (Redis or RabbitMQ); left alone in-process."""
    depths: dict[str, int] = {}
    amqp = runtime.broker_amqp_url
    # /metrics must answer even while the broker is down; readyz reports that.
    try:
        if runtime.broker_redis is not None:
            depths = queue_depths(runtime.broker_redis)
        elif amqp is not None:
            depths = amqp_queue_depths(amqp, ALL_QUEUES)
    except BROKER_ERRORS:
        return
    for queue, depth in depths.items():
        QUEUE_DEPTH.labels(queue).set(depth)
