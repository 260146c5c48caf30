"""Every Celery task name, fixed here so that producers need not import the task modules."""

from __future__ import annotations

# Jobs: one message a job, on its tier's queue.
RUN_JOB_TASK = "grump.run_job"
# Embed jobs: one message a job as for the others, taken by the gpu worker in batches.
EMBED_JOBS_TASK = "grump.run_embed_jobs"

# Beat's maintenance tasks, on the maintenance queue.
REQUEUE_STUCK_TASK = "grump.requeue_stuck_jobs"
CHECK_BUDGETS_TASK = "grump.check_budgets"
ROLLUP_COSTS_TASK = "grump.rollup_costs"
SEND_COST_REPORTS_TASK = "grump.send_cost_reports"
WARM_CACHE_TASK = "grump.warm_cache"
