"""The gpu worker: `celery -A workers.gpu worker` (or `grump worker --tier gpu`)."""

from grump.celery.profiles import WorkerKind
from grump.celery.workers import create_worker_app
from grump.settings import Settings

app = create_worker_app(Settings(), WorkerKind.GPU)
