"""Worker profiles: which queues each kind of worker reads, its pool, concurrency and prefetch.

Light on purpose (no Celery, no metrics): the CLI reads a profile before the
worker's metrics are set up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from grump.celery.queues import (
    ECONOMY_QUEUE,
    EMBED_QUEUE,
    MAINTENANCE_QUEUE,
    PARSE_QUEUE,
    PREMIUM_QUEUE,
)
from grump.settings import Settings


class WorkerKind(StrEnum):
    """The three kinds of worker, one per cost tier of hardware."""

    CPU = "cpu"
    LLM = "llm"
    GPU = "gpu"


@dataclass(frozen=True)
class WorkerProfile:
    """What a kind of worker reads and how it runs: its queues, pool and prefetch."""

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


def concurrency_for(settings: Settings, kind: WorkerKind) -> int:
    """Processes or threads of a worker of ``kind``, from its setting."""
    return {
        WorkerKind.CPU: settings.cpu_concurrency,
        WorkerKind.LLM: settings.llm_concurrency,
        WorkerKind.GPU: settings.gpu_concurrency,
    }[kind]


def prefetch_multiplier(settings: Settings, kind: WorkerKind) -> int:
    """Messages reserved per thread or process.

    The cpu and gpu workers hold a batch's messages unacknowledged until the
    batch is recorded: each reserves room for three full batches, so that the
    next one fills while two run.
    """
    if kind is WorkerKind.GPU:
        return max(1, -(-3 * settings.embed_batch_max_jobs // settings.gpu_concurrency))
    if kind is WorkerKind.CPU:
        batches = -(-3 * settings.parse_batch_max_jobs // max(1, settings.cpu_concurrency))
        return max(WORKER_PROFILES[kind].prefetch_multiplier, batches)
    return WORKER_PROFILES[kind].prefetch_multiplier


def jobs_at_once(settings: Settings, kind: WorkerKind) -> int:
    """The jobs one worker of ``kind`` takes at once: its threads or processes times its prefetch."""
    return concurrency_for(settings, kind) * prefetch_multiplier(settings, kind)


def default_capacity(settings: Settings, queue: str) -> int:
    """``queue``'s capacity when no live worker's is known: one worker of its kind, as configured."""
    for profile in WORKER_PROFILES.values():
        if queue in profile.queues:
            return jobs_at_once(settings, profile.kind)
    return settings.llm_concurrency
