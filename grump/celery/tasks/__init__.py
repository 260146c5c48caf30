"""Thin Celery tasks: decode, call library code, map errors to retry or failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grump.celery.app import GrumpCelery


def register_tasks(app: GrumpCelery) -> None:
    """Register every task grump runs on ``app``: the job tasks and beat's."""
    from grump.celery.tasks.beat import register_beat_tasks
    from grump.celery.tasks.embed import register_embed_jobs
    from grump.celery.tasks.parse import register_parse_jobs
    from grump.celery.tasks.run_job import register_run_job

    register_parse_jobs(app)
    register_run_job(app)
    register_embed_jobs(app)
    register_beat_tasks(app)
