"""Tiers -> queue names -> Celery routes, and each worker kind's settings.

The one place that says which queue a job goes to and which worker reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from grump.jobs.models import JobKind, Tier

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

KIND_DEFAULT_TIER: dict[JobKind, Tier] = {
    JobKind.PARSE: Tier.CPU,
    JobKind.EMBED: Tier.GPU,
}

# Celery task names, fixed so producers need not import the task modules.
RUN_JOB_TASK = "grump.run_job"
# Embed jobs: one message a job as for the others, taken by the gpu worker in batches.
EMBED_JOBS_TASK = "grump.run_embed_jobs"
REQUEUE_STUCK_TASK = "grump.requeue_stuck_jobs"

# Redis priority lists: Celery buckets priorities into these steps, one list each
# (`queue`, `queue\x06\x163`, ...); on Redis a lower number is served first.
PRIORITY_STEPS = (0, 3, 6, 9)
PRIORITY_SEPARATOR = "\x06\x16"


class WorkerKind(StrEnum):
    CPU = "cpu"
    LLM = "llm"
    GPU = "gpu"


@dataclass(frozen=True)
class WorkerProfile:
    kind: WorkerKind
    queues: tuple[str, ...]
    pool: str
    prefetch_multiplier: int


WORKER_PROFILES: dict[WorkerKind, WorkerProfile] = {
    # CPU work is pure Python: processes, one per core; also runs beat's tasks.
    WorkerKind.CPU: WorkerProfile(WorkerKind.CPU, (PARSE_QUEUE, MAINTENANCE_QUEUE), "prefork", 4),
    # Completions wait on the network: threads, and prefetch 1 so a slow call
    # does not hold other jobs hostage.
    WorkerKind.LLM: WorkerProfile(WorkerKind.LLM, (ECONOMY_QUEUE, PREMIUM_QUEUE), "threads", 1),
    WorkerKind.GPU: WorkerProfile(WorkerKind.GPU, (EMBED_QUEUE,), "threads", 1),
}


def queue_for(tier: Tier) -> str:
    return TIER_QUEUE[tier]


def celery_priority(api_priority: int) -> int:
    """Map the API's 0 (lowest) .. 9 (most urgent) to Redis's lower-is-first."""
    return 9 - api_priority


def api_priority(celery_priority: int) -> int:
    """The inverse of ``celery_priority``."""
    return 9 - celery_priority


def redis_priority_keys(queue: str) -> list[str]:
    """Every Redis list that holds messages of ``queue`` (one per priority step)."""
    return [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]
