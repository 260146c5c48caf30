"""Beat's schedule: maintenance tasks, all on the maintenance queue."""

from __future__ import annotations

from typing import Any

from grump.celery.queues import MAINTENANCE_QUEUE
from grump.celery.task_names import (
    CHECK_BUDGETS_TASK,
    DRIVE_BATCHES_TASK,
    REQUEUE_STUCK_TASK,
    ROLLUP_COSTS_TASK,
    SEND_COST_REPORTS_TASK,
    WARM_CACHE_TASK,
)
from grump.settings import Settings


def _every(task: str, seconds: int) -> dict[str, Any]:
    # A missed run is not worth running late: the next one does the same work.
    interval = float(seconds)
    return {
        "task": task,
        "schedule": interval,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": interval},
    }


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule``: each maintenance task at its interval from settings."""
    return {
        "requeue-stuck-jobs": _every(REQUEUE_STUCK_TASK, settings.requeue_interval_seconds),
        "check-budgets": _every(CHECK_BUDGETS_TASK, settings.budget_check_interval_seconds),
        "rollup-costs": _every(ROLLUP_COSTS_TASK, settings.rollup_interval_seconds),
        "send-cost-reports": _every(SEND_COST_REPORTS_TASK, settings.report_interval_seconds),
        "warm-cache": _every(WARM_CACHE_TASK, settings.cache_warm_interval_seconds),
        "drive-batches": _every(DRIVE_BATCHES_TASK, settings.batch_interval_seconds),
    }
