"""Beat's schedule: maintenance tasks, all on the maintenance queue."""

from __future__ import annotations

from typing import Any

from grump.queues import MAINTENANCE_QUEUE, REQUEUE_STUCK_TASK
from grump.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    interval = float(settings.requeue_interval_seconds)
    return {
        "requeue-stuck-jobs": {
            "task": REQUEUE_STUCK_TASK,
            "schedule": interval,
            # A missed run is not worth running late: the next one does the same work.
            "options": {"queue": MAINTENANCE_QUEUE, "expires": interval},
        },
    }
