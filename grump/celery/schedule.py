"""Beat's schedule: maintenance tasks, all on the maintenance queue."""

from __future__ import annotations

from typing import Any

from grump.celery.queues import MAINTENANCE_QUEUE, REQUEUE_STUCK_TASK
from grump.settings import Settings

# Beat's money tasks (registered by grump.celery.tasks.beat).
CHECK_BUDGETS_TASK = "grump.check_budgets"
ROLLUP_COSTS_TASK = "grump.rollup_costs"
SEND_COST_REPORTS_TASK = "grump.send_cost_reports"
# The completion cache's warming (registered by grump.cache.warm).
WARM_CACHE_TASK = "grump.warm_cache"


def _every(task: str, seconds: int) -> dict[str, Any]:
    # A missed run is not worth running late: the next one does the same work.
    interval = float(seconds)
    return {
        "task": task,
        "schedule": interval,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": interval},
    }


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    interval = float(settings.requeue_interval_seconds)
    return {
        "requeue-stuck-jobs": {
            "task": REQUEUE_STUCK_TASK,
            "schedule": interval,
            # A missed run is not worth running late: the next one does the same work.
            "options": {"queue": MAINTENANCE_QUEUE, "expires": interval},
        },
        "check-budgets": _every(CHECK_BUDGETS_TASK, settings.budget_check_interval_seconds),
        "rollup-costs": _every(ROLLUP_COSTS_TASK, settings.rollup_interval_seconds),
        "send-cost-reports": _every(SEND_COST_REPORTS_TASK, settings.report_interval_seconds),
        "warm-cache": _every(WARM_CACHE_TASK, settings.cache_warm_interval_seconds),
    }
