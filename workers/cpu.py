"""The cpu worker: `celery -A workers.cpu worker` (or `grump worker --tier cpu`)."""

from grump.queues import WorkerKind
from grump.settings import Settings
from grump.worker import create_worker_app

app = create_worker_app(Settings(), WorkerKind.CPU)
