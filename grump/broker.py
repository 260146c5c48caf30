"""Which broker a URL names, and what grump reads from a RabbitMQ broker (reachable, queue depths).

Redis and RabbitMQ both carry the tier queues; the differences that matter to
the rest of grump are here and in ``grump.celery.app`` (queue types, priorities,
delayed retries). A probe opens its own short connection: it runs in API threads
and a scrape must not share a connection with a publish.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from amqp.exceptions import AMQPError, NotFound
from kombu import Connection
from kombu.exceptions import OperationalError

AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")
# As long as a Redis probe waits (grump.redis_client): a probe that waits longer is an outage.
PROBE_TIMEOUT_SECONDS = 1.0
# The errors of a broker that is down or refuses us, as publishing and probing meet them.
AMQP_ERRORS: tuple[type[BaseException], ...] = (AMQPError, OperationalError, OSError)


def is_amqp_url(url: str | None) -> bool:
    """Whether ``url`` names an AMQP broker (RabbitMQ)."""
    return bool(url) and str(url).startswith(AMQP_SCHEMES)


def _connection(url: str) -> Connection:
    return Connection(url, connect_timeout=PROBE_TIMEOUT_SECONDS, heartbeat=0)


def amqp_reachable(url: str) -> bool:
    """Whether the AMQP broker at ``url`` accepts a connection and opens a channel."""
    try:
        with _connection(url) as connection:
            connection.connect()
            connection.default_channel  # noqa: B018 (opening it is the check)
        return True
    except AMQP_ERRORS:
        return False


def amqp_queue_depths(url: str, queues: Iterable[str]) -> dict[str, int]:
    """Messages ready per queue, by a passive declare each; a queue not declared yet holds 0.

    Raises one of ``AMQP_ERRORS`` when the broker cannot be reached.
    """
    depths: dict[str, int] = {}
    with _connection(url) as connection:
        connection.connect()
        channel: Any = connection.channel()  # py-amqp's Channel: kombu types it as StdChannel
        for queue in queues:
            try:
                depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
            except NotFound:
                # The broker closed the channel over the unknown queue: carry on in a new one.
                depths[queue] = 0
                channel = connection.channel()
        channel.close()
    return depths
