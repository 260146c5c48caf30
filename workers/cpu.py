"""The cpu worker: `celery -A workers.cpu worker` (or `grump worker --tier cpu`)."""

from grump.celery.profiles import WorkerKind
from grump.celery.workers import create_worker_app
from grump.settings import Settings

app = create_worker_app(Settings(), WorkerKind.CPU)
