"""Every Celery task name, fixed here so that producers need not import the task modules."""

from __future__ import annotations

# Jobs: one message a job, on its tier's queue, under a task name per kind (what
# Flower's task list filters by).
# Parse jobs, taken by the cpu worker in batches.
PARSE_JOBS_TASK = "grump.run_parse_jobs"
# Complete jobs, one message at a time on the llm worker.
COMPLETE_JOB_TASK = "grump.run_complete_job"
# Embed jobs, taken by the gpu worker in batches.
EMBED_JOBS_TASK = "grump.run_embed_jobs"
# The one name every job had before: still registered on the cpu and llm workers, so
# that messages queued under it run (a parse or complete job, one at a time).
RUN_JOB_TASK = "grump.run_job"

# Beat's maintenance tasks, on the maintenance queue.
REQUEUE_STUCK_TASK = "grump.requeue_stuck_jobs"
CHECK_BUDGETS_TASK = "grump.check_budgets"
ROLLUP_COSTS_TASK = "grump.rollup_costs"
SEND_COST_REPORTS_TASK = "grump.send_cost_reports"
WARM_CACHE_TASK = "grump.warm_cache"
DRIVE_BATCHES_TASK = "grump.drive_batches"
