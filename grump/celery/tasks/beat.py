"""Beat's tasks, on the maintenance queue: requeues, budget alerts, rollups, reports, cache warming,
provider batches of deferred jobs.

Each task is a line: the work lives in the library, the task records that beat
is alive (``grump_beat_heartbeat``) once it ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grump import metrics
from grump.cache.warm import warm_cache
from grump.celery.task_names import (
    CHECK_BUDGETS_TASK,
    DRIVE_BATCHES_TASK,
    REQUEUE_STUCK_TASK,
    ROLLUP_COSTS_TASK,
    SEND_COST_REPORTS_TASK,
    WARM_CACHE_TASK,
)
from grump.jobs.batches import drive_batches
from grump.jobs.requeue import requeue_stuck_jobs
from grump.money.alerts import check_budgets
from grump.money.reports.deliver import send_cost_reports
from grump.money.rollups import run_rollup

if TYPE_CHECKING:
    from grump.celery.app import GrumpCelery


def register_beat_tasks(app: GrumpCelery) -> None:
    """Register beat's six tasks on ``app``."""

    def task(name: str, work: Callable[[], Any]) -> None:
        def run() -> Any:
            result = work()
            metrics.BEAT_HEARTBEAT.set(time.time())
            return result

        # shared=False: a shared task would be bound to the first app made in the process.
        app.task(name=name, shared=False)(run)

    def warm() -> dict[str, Any]:
        report = warm_cache(app.runtime, app)
        return {**report.__dict__, "estimated_usd": str(report.estimated_usd)}

    task(REQUEUE_STUCK_TASK, lambda: requeue_stuck_jobs(app.runtime, app))
    task(CHECK_BUDGETS_TASK, lambda: check_budgets(app.runtime))
    task(ROLLUP_COSTS_TASK, lambda: run_rollup(app.runtime))
    task(SEND_COST_REPORTS_TASK, lambda: [str(p) for p in send_cost_reports(app.runtime)])
    task(WARM_CACHE_TASK, warm)
    task(DRIVE_BATCHES_TASK, lambda: drive_batches(app.runtime, app).counts())
