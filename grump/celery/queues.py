"""Tiers -> queue names, and how each broker holds a queue's priorities.

The one place that says which queue a job goes to; ``grump.celery.workers``
says which worker reads it.
"""

from __future__ import annotations

from grump.jobs.models import Tier

PARSE_QUEUE = "parse"
ECONOMY_QUEUE = "complete.economy"
PREMIUM_QUEUE = "complete.premium"
EMBED_QUEUE = "embed"
MAINTENANCE_QUEUE = "maintenance"

ALL_QUEUES = (PARSE_QUEUE, ECONOMY_QUEUE, PREMIUM_QUEUE, EMBED_QUEUE, MAINTENANCE_QUEUE)

TIER_QUEUE: dict[Tier, str] = {
    Tier.CPU: PARSE_QUEUE,
    Tier.ECONOMY: ECONOMY_QUEUE,
    Tier.PREMIUM: PREMIUM_QUEUE,
    Tier.GPU: EMBED_QUEUE,
}

# Redis priority lists: Celery buckets priorities into these steps, one list each
# (`queue`, `queue\x06\x163`, ...); on Redis a lower number is served first.
PRIORITY_STEPS = (0, 3, 6, 9)
PRIORITY_SEPARATOR = "\x06\x16"


def queue_for(tier: Tier) -> str:
    """The queue a job of ``tier`` is published on."""
    return TIER_QUEUE[tier]


# RabbitMQ's priorities (classic queues declared with x-max-priority): higher is served
# first, the API's own order; quorum queues before RabbitMQ 4.0 ignore them.
AMQP_MAX_PRIORITY = 9


def celery_priority(api_priority: int, amqp: bool = False) -> int:
    """Map the API's 0 (lowest) .. 9 (most urgent) to Redis's lower-is-first, or RabbitMQ's higher."""
    return api_priority if amqp else 9 - api_priority


def api_priority(celery_priority: int, amqp: bool = False) -> int:
    """The inverse of ``celery_priority``."""
    return celery_priority if amqp else 9 - celery_priority


def queue_of_routing_key(routing_key: str) -> str | None:
    """The queue a delivered message's routing key names, or None.

    A message that waited out a countdown in RabbitMQ's delay exchanges arrives with
    the delay's bits before its queue's name (``0.1.0...1.complete.economy``).
    """
    for queue in ALL_QUEUES:
        if routing_key == queue or routing_key.endswith(f".{queue}"):
            return queue
    return None


def redis_priority_keys(queue: str) -> list[str]:
    """Every Redis list that holds messages of ``queue`` (one per priority step)."""
    return [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]
