"""Beat's money tasks, on the maintenance queue: budget alerts, cost rollups, cost reports."""

from __future__ import annotations

import logging
import time

from celery import Celery

from grump import metrics
from grump.budgets import check_budgets
from grump.celery.schedule import CHECK_BUDGETS_TASK, ROLLUP_COSTS_TASK, SEND_COST_REPORTS_TASK
from grump.ledger.db import session_scope, utcnow
from grump.money.reports.deliver import send_cost_reports
from grump.money.rollups import rollup_costs
from grump.runtime import Runtime

log = logging.getLogger(__name__)


def run_rollup(runtime: Runtime) -> int:
    """Fold new cost events into the rollups; returns how many were folded."""
    started = time.perf_counter()
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        run = rollup_costs(session, utcnow())
    if run.events:
        log.info(
            "rolled up %d cost events into %d buckets in %.2fs (watermark %d)",
            run.events,
            run.buckets,
            time.perf_counter() - started,
            run.watermark,
        )
    return run.events


def register_money(app: Celery) -> None:
    from grump.celery.app import runtime_of

    # shared=False: a shared task would be bound to the first app made in the process.
    @app.task(name=CHECK_BUDGETS_TASK, shared=False)
    def check_budgets_task() -> int:
        alerts = check_budgets(runtime_of(app))
        metrics.BEAT_HEARTBEAT.set(time.time())
        return alerts

    @app.task(name=ROLLUP_COSTS_TASK, shared=False)
    def rollup_costs_task() -> int:
        folded = run_rollup(runtime_of(app))
        metrics.BEAT_HEARTBEAT.set(time.time())
        return folded

    @app.task(name=SEND_COST_REPORTS_TASK, shared=False)
    def send_cost_reports_task() -> list[str]:
        written = send_cost_reports(runtime_of(app))
        metrics.BEAT_HEARTBEAT.set(time.time())
        return [str(path) for path in written]
