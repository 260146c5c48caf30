"""Thin Celery tasks: decode, call library code, map errors to retry or failure."""

from __future__ import annotations

from celery import Celery

from grump.cache.warm import register_cache
from grump.celery.tasks.beat import register_money
from grump.celery.tasks.embed_jobs import register_embed_jobs
from grump.celery.tasks.maintenance import register_maintenance
from grump.celery.tasks.run_job import register_run_job


def register_tasks(app: Celery) -> None:
    register_run_job(app)
    register_embed_jobs(app)
    register_maintenance(app)
    register_cache(app)
    register_money(app)
